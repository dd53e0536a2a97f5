"""Quality scores: an evaluation's weighted percentage, and the average quality per agent over a range.

Pure functions. `weighted_score` is what the API stores on an evaluation; `quality_by_agent` is the quality
report, a projection of the `quality.evaluated` events (each evaluation's score as it was given).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from duplex.events.types import EventEnvelope

__all__ = ["AgentQuality", "CriterionScore", "Score", "quality_by_agent", "weighted_score"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CriterionScore:
    weight: float  # > 0
    max_score: int  # >= 1
    score: int | None  # 0..max_score; None: not applicable to this call (left out of the total)
    auto_fail: bool = False  # a 0 here fails the whole evaluation


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    pct: float  # 0..100, rounded to 2 decimals
    auto_failed: bool


def weighted_score(criteria: Sequence[CriterionScore]) -> Score:
    """sum(weight x score / max_score) / sum(weight) x 100 over the applicable criteria; 0 if an auto-fail
    criterion scored 0, and 0 when no criterion applies (nothing was shown to be right)."""
    if any(c.auto_fail and c.score == 0 for c in criteria):
        return Score(pct=0.0, auto_failed=True)
    applicable = [c for c in criteria if c.score is not None]
    total_weight = sum(c.weight for c in applicable)
    if total_weight <= 0:
        return Score(pct=0.0, auto_failed=False)
    earned = sum(c.weight * (c.score or 0) / c.max_score for c in applicable)
    return Score(pct=round(100 * earned / total_weight, 2), auto_failed=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentQuality:
    agent_id: int
    evaluations: int
    avg_score_pct: float  # mean of the evaluations' scores (auto-fails count as 0)
    min_score_pct: float
    max_score_pct: float
    auto_fails: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quality_by_agent(events: Iterable[EventEnvelope], start_ms: int, end_ms: int) -> list[AgentQuality]:
    """One row per agent evaluated in [start_ms, end_ms) (by the evaluation's time), sorted by agent id.
    An evaluation recorded twice (the same evaluation_id) counts once."""
    scores: dict[int, dict[int, tuple[float, bool]]] = {}
    for e in events:
        if e.type != "quality.evaluated" or e.agent_id is None or not start_ms <= e.ts_ms < end_ms:
            continue
        pct, failed = float(e.data["score_pct"]), bool(e.data["auto_failed"])
        scores.setdefault(e.agent_id, {})[int(e.data["evaluation_id"])] = (pct, failed)
    rows = []
    for agent_id, by_evaluation in sorted(scores.items()):
        pcts = [pct for pct, _ in by_evaluation.values()]
        rows.append(
            AgentQuality(
                agent_id=agent_id,
                evaluations=len(pcts),
                avg_score_pct=round(sum(pcts) / len(pcts), 2),
                min_score_pct=min(pcts),
                max_score_pct=max(pcts),
                auto_fails=sum(1 for _, failed in by_evaluation.values() if failed),
            )
        )
    return rows
