"""`duplex simulate`: load a scenario file, run its modes, print a table, write JSON and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from duplex.sim.runner import ModeRuns, replication_seeds, run_mode, summarize, tune_oracle
from duplex.sim.scenario import Scenario, ScenarioError, parse_scenario

__all__ = ["format_table", "load_scenario", "plot_summary", "simulate_scenario"]


def load_scenario(path: Path) -> Scenario:
    """Parse a YAML scenario file; a YAML error is refused as a ScenarioError too."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError("scenario", f"not valid YAML: {exc}") from exc
    return parse_scenario(data)


def simulate_scenario(scenario: Scenario, *, replications: int, seed: int) -> dict[str, Any]:
    """Per mode: the summary of `replications` runs; progressive always runs as the ratios' baseline."""
    if replications < 1:
        raise ValueError("replications must be >= 1")
    seeds = replication_seeds(seed, replications)
    baseline = run_mode(scenario, "progressive", seeds)
    runs: dict[str, ModeRuns] = {}
    for mode in scenario.modes:
        if mode == "progressive":
            runs[mode] = baseline
        elif mode == "oracle":
            runs[mode] = tune_oracle(scenario, seeds)
        else:
            runs[mode] = run_mode(scenario, mode, seeds)
    return {mode: summarize(r, scenario.abandon_target, baseline) for mode, r in runs.items()}


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"{'mode':15} {'talk min/agent-h':>17} {'x progressive':>13} {'abandon':>8} {'p95':>7} {'dials/conn':>10}"
    ]
    for mode, s in summary.items():
        lines.append(
            f"{mode:15} {s['talk_minutes_per_agent_hour']:17.2f} {s['ratio_to_progressive']:13.3f} "
            f"{s['abandon_rate']['mean'] * 100:7.2f}% {s['abandon_rate']['p95'] * 100:6.2f}% "
            f"{s['dials_per_connect']:10.2f}"
        )
    return "\n".join(lines)


def plot_summary(summary: dict[str, Any], path: Path) -> None:
    """Bar chart of talk minutes per agent-hour and abandon rate per mode (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(summary)
    fig, (talk_ax, abandon_ax) = plt.subplots(1, 2, figsize=(10, 4))
    talk_ax.bar(modes, [summary[m]["talk_minutes_per_agent_hour"] for m in modes])
    talk_ax.set_ylabel("talk minutes per agent-hour")
    abandon_ax.bar(modes, [summary[m]["abandon_rate"]["mean"] * 100 for m in modes])
    abandon_ax.set_ylabel("abandon rate % (mean)")
    for ax in (talk_ax, abandon_ax):
        ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
