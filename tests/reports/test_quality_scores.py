"""The quality scores: an evaluation's weighted percentage and the per-agent report, worked out by hand."""

from __future__ import annotations

import pytest
from kpi_events import DAY, ev

from duplex.reports.quality import CriterionScore, Score, quality_by_agent, weighted_score


def c(weight: float, max_score: int, score: int | None, auto_fail: bool = False) -> CriterionScore:
    return CriterionScore(weight=weight, max_score=max_score, score=score, auto_fail=auto_fail)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        # (1 x 4/5 + 3 x 7/10 + 1 x 1/1) / (1 + 3 + 1) = (0.8 + 2.1 + 1) / 5 = 78 %
        ([c(1, 5, 4), c(3, 10, 7), c(1, 1, 1, True)], Score(pct=78.0, auto_failed=False)),
        # not applicable leaves the weight out: (3 x 10/10 + 1 x 1/1) / 4 = 100 %
        ([c(1, 5, None), c(3, 10, 10), c(1, 1, 1, True)], Score(pct=100.0, auto_failed=False)),
        # an auto-fail criterion at 0 makes it 0 whatever the rest
        ([c(1, 5, 5), c(3, 10, 10), c(1, 1, 0, True)], Score(pct=0.0, auto_failed=True)),
        # 0 on an ordinary criterion is just a low score: (2 x 0/4 + 1 x 3/3) / 3 = 33.33 %
        ([c(2, 4, 0), c(1, 3, 3)], Score(pct=33.33, auto_failed=False)),
        # weights need not be integers: (0.5 x 1/2 + 1.5 x 2/2) / 2 = 87.5 %
        ([c(0.5, 2, 1), c(1.5, 2, 2)], Score(pct=87.5, auto_failed=False)),
        # nothing applies: nothing was shown to be right
        ([c(1, 5, None)], Score(pct=0.0, auto_failed=False)),
        ([], Score(pct=0.0, auto_failed=False)),
    ],
)
def test_weighted_score(criteria: list[CriterionScore], expected: Score) -> None:
    assert weighted_score(criteria) == expected


def evaluated(t: float, agent: int, evaluation: int, pct: float, failed: bool = False) -> object:
    return ev(t, "quality.evaluated", f"call-{evaluation}", agent=agent, evaluation_id=evaluation, scorecard_id=1,
              recording_id=None, score_pct=pct, auto_failed=failed, by_user_id=2)  # fmt: skip


def test_quality_by_agent_averages_the_evaluations_of_the_range() -> None:
    events = [
        evaluated(-10, 1, 1, 10.0),  # the day before: not in the range
        evaluated(100, 1, 2, 78.0),
        evaluated(200, 1, 3, 0.0, failed=True),
        evaluated(200, 1, 3, 0.0, failed=True),  # the same evaluation twice counts once
        evaluated(300, 2, 4, 90.5),
        evaluated(86_400, 2, 5, 0.0),  # the end is exclusive
        ev(400, "csat.recorded", "call-9", agent=1, score=5),  # not an evaluation
    ]
    rows = quality_by_agent(events, DAY, DAY + 86_400_000)  # type: ignore[arg-type]
    assert [r.to_dict() for r in rows] == [
        {"agent_id": 1, "evaluations": 2, "avg_score_pct": 39.0, "min_score_pct": 0.0, "max_score_pct": 78.0,
         "auto_fails": 1},
        {"agent_id": 2, "evaluations": 1, "avg_score_pct": 90.5, "min_score_pct": 90.5, "max_score_pct": 90.5,
         "auto_fails": 0},
    ]  # fmt: skip
