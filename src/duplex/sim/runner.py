"""Replications of a scenario per dial mode, the parameter oracle, and the per-mode summary.

Replication r of every mode uses seed (seed, r), so modes are compared on the same callees, talk times and
arrivals (common random numbers).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from duplex.dialer.pacing import Pacer, PoissonPacer, PowerPacer, ProgressivePacer
from duplex.dialer.pacing_anchors import VicidialAdaptPacer, WebitelPacer
from duplex.dialer.pacing_predictive import PredictiveConfig, PredictivePacer
from duplex.sim.engine import MACHINE_HOLD, RunResult, simulate
from duplex.sim.scenario import Scenario

__all__ = [
    "ModeRuns",
    "make_pacer",
    "replication_seeds",
    "run_mode",
    "summarize",
    "tune_oracle",
]

POWER_RATIO = 2.0  # the fixed-ratio baseline ("power 2:1")
ORACLE_QUANTILE = 0.95  # the oracle's ratio must keep abandon <= target in this share of replications


def replication_seeds(seed: int, replications: int) -> list[int]:
    return [seed * 1000 + r for r in range(replications)]


def _poisson(scenario: Scenario, seed: int) -> Pacer:
    amd = scenario.amd
    fp = amd.false_positive if amd else 0.0
    fn = amd.false_negative if amd else 1.0
    p_human, p_machine = scenario.p_human.at(0), scenario.p_machine.at(0)
    to_agent = p_human * (1 - fp) + p_machine * fn
    handle = (
        p_human * (1 - fp) * scenario.talk_mean + p_machine * fn * MACHINE_HOLD
    ) / to_agent + scenario.wrap
    return PoissonPacer(
        rng=random.Random(f"{seed}:poisson"),
        p_connect=to_agent,
        handle_seconds=handle,
        blocking=max(0.002, 0.85 * scenario.abandon_target - fp),  # AMD false positives use part of the limit
    )


def make_pacer(mode: str, scenario: Scenario, seed: int, *, ratio: float | None = None) -> Pacer:
    """A fresh pacer for `mode` (state is per replication)."""
    if mode == "progressive":
        return ProgressivePacer()
    if mode == "power":
        return PowerPacer(ratio or POWER_RATIO)
    if mode == "oracle":
        if ratio is None:
            raise ValueError("the oracle needs its tuned ratio")
        return PowerPacer(ratio, name="oracle")
    if mode == "vicidial_adapt":
        return VicidialAdaptPacer(dropped_percentage=scenario.abandon_target * 100)
    if mode == "webitel":
        target = scenario.abandon_target * 100
        return WebitelPacer(target=target, maximum=target)
    if mode == "poisson":
        return _poisson(scenario, seed)
    if mode == "predictive":
        fp = scenario.amd.false_positive if scenario.amd else 0.0
        return PredictivePacer(
            PredictiveConfig(
                abandon_target=scenario.abandon_target, amd_false_positive=fp, wrap_seconds=scenario.wrap
            )
        )
    raise ValueError(f"unknown mode {mode!r}")


@dataclass(frozen=True, slots=True)
class ModeRuns:
    mode: str
    results: tuple[RunResult, ...]
    ratio: float | None = None  # the oracle's tuned lines per free agent


def run_mode(
    scenario: Scenario,
    mode: str,
    seeds: Sequence[int],
    *,
    ratio: float | None = None,
    mapper: Callable[[Callable[[int], RunResult], Sequence[int]], list[RunResult]] | None = None,
) -> ModeRuns:
    def one(seed: int) -> RunResult:
        return simulate(scenario, make_pacer(mode, scenario, seed, ratio=ratio), seed=seed)

    results = mapper(one, seeds) if mapper else [one(s) for s in seeds]
    return ModeRuns(mode, tuple(results), ratio)


def compliant_share(results: Sequence[RunResult], target: float) -> float:
    return sum(r.abandon_rate <= target for r in results) / len(results)


def tune_oracle(
    scenario: Scenario, seeds: Sequence[int], *, low: float = 1.0, high: float = 6.0, steps: int = 7
) -> ModeRuns:
    """The best fixed lines-per-free-agent ratio on these seeds with the true parameters.

    Talk time grows and compliance falls with the ratio, so the best compliant ratio is the largest one that keeps
    abandon <= target in ORACLE_QUANTILE of the replications: found by bisection.
    """
    best = run_mode(scenario, "oracle", seeds, ratio=low)
    for _ in range(steps):
        mid = (low + high) / 2
        runs = run_mode(scenario, "oracle", seeds, ratio=mid)
        if compliant_share(runs.results, scenario.abandon_target) >= ORACLE_QUANTILE:
            low, best = mid, runs
        else:
            high = mid
    return best


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(runs: ModeRuns, target: float, baseline: ModeRuns | None = None) -> dict[str, Any]:
    """The per-mode figures of `duplex simulate --json`."""
    results = runs.results
    talk = statistics.fmean(r.talk_minutes_per_agent_hour for r in results)
    summary: dict[str, Any] = {
        "talk_minutes_per_agent_hour": round(talk, 3),
        "abandon_rate": {
            "mean": round(statistics.fmean(r.abandon_rate for r in results), 5),
            "p95": round(_quantile([r.abandon_rate for r in results], 0.95), 5),
        },
        "abandon_compliant_share": round(compliant_share(results, target), 3),
        "abandon_24h_max": round(max((max(r.hourly_abandon, default=0.0) for r in results), default=0.0), 5),
        "drop_rate_mean": round(
            statistics.fmean(r.dropped / r.humans if r.humans else 0 for r in results), 5
        ),
        "agent_wait_p95": round(statistics.fmean(_quantile(r.agent_waits, 0.95) for r in results), 2),
        "dials_per_connect": round(
            sum(r.dials for r in results) / max(1, sum(r.connected for r in results)), 3
        ),
        "replications": len(results),
    }
    if runs.ratio is not None:
        summary["ratio"] = round(runs.ratio, 4)
    if baseline is not None:
        base = statistics.fmean(r.talk_minutes_per_agent_hour for r in baseline.results)
        summary["ratio_to_progressive"] = round(talk / base, 4) if base else None
    return summary
