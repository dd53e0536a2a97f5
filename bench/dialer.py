"""Dialer pacing benchmark: every pacing mode side by side in the simulator, common random numbers.

    python bench/dialer.py [--quick] [--replications R] [--workers W] [--json OUT] [--no-report]

Scenario (docs/simulate.md keys): 8-hour shift, N in {5, 20, 50, 100} agents, p_human in {0.15, 0.30, 0.50},
machine 0.20, busy/invalid 0.05, answer U(15, 25) s, no-answer ring 20 s, talk lognormal mean 120 s CV 1,
wrap 20 s, AMD 2.5-5 s with 2% false positives and 10% false negatives, abandon target 3%. Plus a shift in which
p_human halves at hour 4 (N=20, p_human 0.30 -> 0.15). The abandon rate counts dropped humans AND humans hung up
on by an AMD false positive, over live answers, per replication (one shift = the campaign's day).

Writes a section at the end of docs/benchmarks.md (table and, if matplotlib is installed, docs/dialer-bench.png).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from duplex.sim.engine import RunResult, simulate
from duplex.sim.runner import (
    ModeRuns,
    compliant_share,
    make_pacer,
    replication_seeds,
    summarize,
)
from duplex.sim.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
MODES = ("progressive", "power", "vicidial_adapt", "webitel", "poisson", "oracle", "predictive")
LABELS = {
    "progressive": "progressive 1:1",
    "power": "fixed 2:1",
    "vicidial_adapt": "VICIdial adapt",
    "webitel": "webitel",
    "poisson": "open-loop Poisson",
    "oracle": "parameter oracle",
    "predictive": "Duplex predictive",
    "predictive_before": "Duplex predictive, benchmarked version",
}
SEED = 2026


def _one(job: tuple[Scenario, str, float | None, int]) -> RunResult:
    scenario, mode, ratio, seed = job
    return simulate(scenario, make_pacer(mode, scenario, seed, ratio=ratio), seed=seed)


class Runner:
    """run_mode's mapper over a process pool (at most 2 workers: the machine is shared)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def run(
        self, scenario: Scenario, mode: str, seeds: Sequence[int], ratio: float | None = None
    ) -> ModeRuns:
        jobs = [(scenario, mode, ratio, s) for s in seeds]
        results = self.pool.map(_one, jobs) if self.pool else [_one(j) for j in jobs]
        return ModeRuns(mode, tuple(results), ratio)


def _cells(quick: bool) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, scenario keys, headline?) in the order they run: the headline cells first."""
    halving = [{"at_hour": 0, "value": 0.30}, {"at_hour": 4, "value": 0.15}]
    cells = [
        ("N=20 p=0.30", {"agents": 20, "p_human": 0.30}, True),
        ("N=20 p 0.30->0.15 at 4 h", {"agents": 20, "p_human": halving}, True),
    ]
    grid = [(5, 0.30)] if quick else [(n, p) for p in (0.30, 0.15, 0.50) for n in (5, 20, 50, 100)]
    cells += [
        (f"N={n} p={p:.2f}", {"agents": n, "p_human": p}, False) for n, p in grid if (n, p) != (20, 0.30)
    ]
    return cells


def _oracle(
    runner: Runner, scenario: Scenario, seeds: Sequence[int], steps: int, progressive: ModeRuns
) -> ModeRuns:
    # tune_oracle's bisection, with each ratio's replications on the pool; ratio 1 is progressive dialing
    mapper: Callable[..., Any] = runner.run
    low, high = 1.0, 6.0
    best = ModeRuns("oracle", progressive.results, 1.0)
    for _ in range(steps):
        mid = (low + high) / 2
        runs = mapper(scenario, "oracle", seeds, mid)
        if compliant_share(runs.results, scenario.abandon_target) >= 0.95:
            low, best = mid, runs
        else:
            high = mid
    return best


def run_bench(
    replications: int,
    grid_replications: int,
    quick: bool,
    workers: int,
    oracle_steps: int,
    json_path: Path | None,
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every cell, or with `earlier` (a finished run's figures) only the cells it lacks, added to it."""
    out: dict[str, Any] = earlier or {
        "replications": replications,
        "grid_replications": grid_replications,
        "cells": {},
    }
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) if workers > 1 else _NoPool() as pool:
        runner = Runner(pool if workers > 1 else None)
        for name, keys, headline in _cells(quick):
            if name in out["cells"]:
                continue
            seeds = replication_seeds(SEED, replications if headline else grid_replications)
            scenario = parse_scenario({"shift_hours": 8, **keys})
            started = time.monotonic()
            runs = {m: runner.run(scenario, m, seeds) for m in MODES if m != "oracle"}
            runs["oracle"] = _oracle(runner, scenario, seeds, oracle_steps, runs["progressive"])
            base = runs["progressive"]
            cell = {m: summarize(runs[m], scenario.abandon_target, base) for m in MODES}
            out["cells"][name] = cell
            if json_path is not None:  # after every cell: a cut-off run keeps what it measured
                json_path.write_text(json.dumps(out, indent=2) + "\n")
            print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
            for m in MODES:
                print(f"  {m:15} {json.dumps(cell[m])}", file=sys.stderr, flush=True)
    return out


def refresh(out: dict[str, Any], mode: str, workers: int) -> None:
    """Re-run one mode in every cell of a finished run (same seeds); the earlier figures stay as MODE_before."""
    cells = {name: (keys, headline) for name, keys, headline in _cells(False)}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        runner = Runner(pool)
        for name, cell in out["cells"].items():
            keys, _ = cells[name]
            seeds = replication_seeds(
                SEED, cell["progressive"]["replications"]
            )  # cells may differ (--add-missing)
            scenario = parse_scenario({"shift_hours": 8, **keys})
            runs = runner.run(scenario, mode, seeds)
            summary = summarize(runs, scenario.abandon_target)
            base = cell["progressive"]["talk_minutes_per_agent_hour"]
            summary["ratio_to_progressive"] = round(summary["talk_minutes_per_agent_hour"] / base, 4)
            cell[f"{mode}_before"] = cell[mode]
            cell[mode] = summary
            print(f"{name}: {mode} {json.dumps(summary)}", file=sys.stderr, flush=True)


class _NoPool:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _table(out: dict[str, Any]) -> list[str]:
    lines = [
        "| cell | mode | reps | talk min / agent-h | x progressive | abandon mean | abandon p95 | <= 3% in | drops | "
        "dials / connect | agent wait p95 s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, cell in out["cells"].items():
        for mode in [m for m in (*MODES, "predictive_before") if m in cell]:
            s = cell[mode]
            label = LABELS[mode] + (f" ({s['ratio']:.2f}:1)" if "ratio" in s else "")
            lines.append(
                f"| {name} | {label} | {s['replications']} | {s['talk_minutes_per_agent_hour']:.1f} | {s['ratio_to_progressive']:.3f} | "
                f"{s['abandon_rate']['mean'] * 100:.2f}% | {s['abandon_rate']['p95'] * 100:.2f}% | "
                f"{s['abandon_compliant_share'] * 100:.0f}% | {s['drop_rate_mean'] * 100:.2f}% | "
                f"{s['dials_per_connect']:.2f} | {s['agent_wait_p95']:.0f} |"
            )
    return lines


def _targets(out: dict[str, Any]) -> list[str]:
    """The benchmark's targets (issue 10), each checked against the figures."""
    lines = []
    for name, cell in out["cells"].items():
        ours = cell["predictive"]
        talk = ours["talk_minutes_per_agent_hour"]

        def vs(mode: str, cell: dict[str, Any] = cell, talk: float = talk) -> float:
            other = float(cell[mode]["talk_minutes_per_agent_hour"])
            return talk / other if other else float("inf")

        lines.append(
            f"- {name}: {ours['ratio_to_progressive']:.3f}x progressive, {vs('vicidial_adapt'):.3f}x VICIdial adapt, "
            f"{vs('webitel'):.3f}x webitel, {vs('oracle'):.3f}x oracle; abandon <= 3% in "
            f"{ours['abandon_compliant_share'] * 100:.0f}% of replications (p95 {ours['abandon_rate']['p95'] * 100:.2f}%)"
        )
    return lines


def _plot(out: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(out["cells"])
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(MODES)
    for i, mode in enumerate(MODES):
        values = [out["cells"][n][mode]["talk_minutes_per_agent_hour"] for n in names]
        ax.bar([x + i * width for x in range(len(names))], values, width, label=LABELS[mode])
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names, rotation=30, ha="right")
    ax.set_ylabel("talk minutes per agent-hour")
    ax.set_title("Dialer pacing, 8-h shift, abandon limit 3% (drops + AMD false positives)")
    ax.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(out: dict[str, Any], command: str, elapsed: float) -> None:
    plot = ROOT / "docs" / "dialer-bench.png"
    has_plot = _plot(out, plot)
    section = [
        "",
        f"## Dialer pacing ({time.strftime('%Y-%m-%d')}, simulator)",
        "",
        f"Command: `{command}` ({elapsed / 60:.0f} min on 2 workers of a shared 2-core machine). "
        f"{out['replications']} replications of an 8-hour shift per mode in the N=20 p_human 0.30 cells, "
        "fewer in the others (column 'reps'); common random numbers (replication "
        "r is the same callees, answer times, AMD errors and talk times in every mode). Scenario in the script's "
        "docstring. Abandon = (dropped humans + humans hung up on by AMD false positives) / live answers, per "
        "replication; 'drops' is the first part alone. The parameter oracle is the best fixed lines-per-free-agent "
        "ratio (6-step bisection over [1, 6] on the same seeds) that keeps abandon <= 3% in >= 95% of replications. "
        "Ratios are to progressive 1:1 on the same seeds.",
        "",
        *_table(out),
        "",
        "Targets (Duplex predictive):",
        "",
        *_targets(out),
    ]
    if has_plot:
        section += ["", "![talk minutes per agent-hour by mode](dialer-bench.png)"]
    path = ROOT / "docs" / "benchmarks.md"
    path.write_text(path.read_text().rstrip("\n") + "\n" + "\n".join(section) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N in {5, 20}, p_human 0.30, 4 replications")
    parser.add_argument("--replications", type=int, help="headline cells (N=20): default 30 (4 with --quick)")
    parser.add_argument("--grid-replications", type=int, help="the other cells: default as --replications")
    parser.add_argument(
        "--report-from", type=Path, help="only write the report from this JSON (a cut-off run)"
    )
    parser.add_argument(
        "--refresh",
        choices=MODES,
        help="with --report-from: re-run this mode on the same seeds (after a change)",
    )
    parser.add_argument(
        "--add-missing",
        type=Path,
        help="run only the cells this JSON lacks (with --grid-replications) and add them to it",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (at most 2 on a shared machine)")
    parser.add_argument("--oracle-steps", type=int, default=6, help="bisection steps of the oracle's ratio")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-report", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args()
    if args.report_from:
        out = json.loads(args.report_from.read_text())
        if args.refresh:
            refresh(out, args.refresh, min(2, max(1, args.workers)))
            args.report_from.write_text(json.dumps(out, indent=2) + "\n")
        write_report(out, out.get("command", "python bench/dialer.py"), out.get("elapsed", 0.0))
        return
    replications = args.replications or (4 if args.quick else 30)
    grid = args.grid_replications or replications
    started = time.monotonic()
    earlier = json.loads(args.add_missing.read_text()) if args.add_missing else None
    json_path = args.json or args.add_missing
    out = run_bench(
        replications, grid, args.quick, min(2, max(1, args.workers)), args.oracle_steps, json_path, earlier
    )
    elapsed = time.monotonic() - started
    command = "python " + " ".join(["bench/dialer.py", *sys.argv[1:]])
    if earlier is not None:  # keep the first run's command and time, list the additions after them
        out.setdefault("additions", []).append({"command": command, "elapsed": elapsed})
    else:
        out["elapsed"] = elapsed
        out["command"] = command
    args.json = json_path
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    if not args.no_report:
        write_report(out, out["command"], elapsed)
    print(f"done in {elapsed:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
