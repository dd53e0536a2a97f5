"""Quality scoring: scorecards (named, weighted criteria) and evaluations of calls against them.

An evaluation keeps a copy of the criteria it was scored against, so editing a scorecard later changes
neither its past evaluations' scores nor what their comments refer to. The `quality.evaluated` event
written with each evaluation is what the quality report reads (duplex.reports.quality).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from duplex.db.base import Base, utcnow


class Scorecard(Base):
    __tablename__ = "scorecards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    # [{"name", "description", "weight", "max_score", "auto_fail"}]: checked by the API (api/quality.py)
    criteria: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Evaluation(Base):
    """A supervisor's scoring of one call (usually while listening to its recording) against a scorecard."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id", ondelete="SET NULL"))
    # RESTRICT: a scorecard that was used stays (deactivate it instead of deleting it)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id", ondelete="RESTRICT"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    evaluator_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # [{"criterion", "weight", "max_score", "auto_fail", "score", "comment"}]: the criteria as scored
    scores: Mapped[list[Any]] = mapped_column(default=list)
    score_pct: Mapped[float]  # 0..100, weighted (duplex.reports.quality.weighted_score)
    auto_failed: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
