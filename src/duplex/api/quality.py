"""Quality scoring: scorecards (CRUD), evaluations of calls against them, and the quality report.

- `/scorecards`: named criteria, each with a weight, a max score and an optional auto-fail flag; admins and
  supervisors read and write them.
- `POST /evaluations`: a supervisor (or admin) scores a call they may see, one score and comment per
  criterion (null: not applicable); the total is `duplex.reports.quality.weighted_score`. Written with a
  `quality.evaluated` event and an audit row in the same transaction.
- `GET /evaluations`: as the calls are scoped (duplex.api.scopes): an agent reads their own evaluations.
- `GET /reports/quality`: average quality per agent over a range, from the `quality.evaluated` events.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from duplex.api.audit import AUDITED_ROLES, audit
from duplex.api.calls import CALLS
from duplex.api.crud import ALL_ROLES, STAFF, Resource, crud_router
from duplex.api.db import DbSession, field_error, flush
from duplex.api.reports import Format as ReportFormat
from duplex.api.reports import From, To, _range, _respond, _Scope
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output, partial
from duplex.api.scopes import own_evaluations
from duplex.auth.deps import Principal, clock, require_role
from duplex.db.models import Evaluation, Event, Recording, Role, Scorecard
from duplex.reports.kpi_store import COLUMNS, envelopes
from duplex.reports.quality import CriterionScore, quality_by_agent, weighted_score

router = APIRouter(route_class=DuplexRoute)

# ---- scorecards -----------------------------------------------------------------------------------------


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: Annotated[str, Field(max_length=500)] = ""
    weight: Annotated[float, Field(gt=0, le=100, description="Relative weight in the total.")] = 1.0
    max_score: Annotated[int, Field(ge=1, le=100, description="Scores go from 0 to this.")] = 5
    auto_fail: Annotated[bool, Field(description="A 0 here makes the whole evaluation 0.")] = False


class ScorecardCreate(Input):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: Annotated[str, Field(max_length=255)] = ""
    active: bool = True
    criteria: Annotated[list[Criterion], Field(min_length=1, max_length=50)]

    @field_validator("criteria")
    @classmethod
    def _unique_names(cls, value: list[Criterion] | None) -> list[Criterion] | None:
        names = [c.name.strip().casefold() for c in value or []]
        if len(names) != len(set(names)):
            raise ValueError("each criterion needs its own name")
        return value


class ScorecardRead(Output):
    id: int
    name: str
    description: str
    active: bool
    criteria: list[Criterion]
    created_at: dt.datetime


class ScorecardFilters(BaseModel):
    active: bool | None = None
    name: str | None = None


SCORECARDS = Resource(
    path="scorecards",
    entity="scorecard",
    model=Scorecard,
    read=ScorecardRead,
    create=ScorecardCreate,
    update=partial(ScorecardCreate),
    filters=ScorecardFilters,
    read_roles=STAFF,
    write_roles=STAFF,
    tags=("quality",),
)
crud_router(SCORECARDS, router)

# ---- evaluations ----------------------------------------------------------------------------------------


class CriterionScoreIn(Input):
    criterion: Annotated[str, Field(min_length=1, max_length=128, description="The criterion's name.")]
    score: Annotated[int | None, Field(ge=0, le=100, description="0..max_score; null: not applicable.")]
    comment: Annotated[str, Field(max_length=2000)] = ""


class EvaluationCreate(Input):
    call_id: Annotated[str, Field(min_length=1, max_length=36)]
    recording_id: int | None = None
    scorecard_id: int
    scores: Annotated[list[CriterionScoreIn], Field(max_length=50)]
    comment: Annotated[str, Field(max_length=4000)] = ""


class CriterionScored(Output):
    criterion: str
    weight: float
    max_score: int
    auto_fail: bool
    score: int | None
    comment: str


class EvaluationRead(Output):
    id: int
    call_id: str
    recording_id: int | None
    scorecard_id: int
    agent_id: int | None
    evaluator_user_id: int | None
    scores: list[CriterionScored]
    score_pct: float
    auto_failed: bool
    comment: str
    created_at: dt.datetime


class EvaluationFilters(BaseModel):
    agent_id: int | None = None
    call_id: str | None = None
    recording_id: int | None = None
    scorecard_id: int | None = None
    since: dt.datetime | None = Field(None, description="Evaluated at or after this time.")
    until: dt.datetime | None = Field(None, description="Evaluated before this time.")


EVALUATIONS = Resource(
    path="evaluations",
    entity="evaluation",
    model=Evaluation,
    read=EvaluationRead,
    filters=EvaluationFilters,
    filter_clauses={
        "since": lambda v: Evaluation.created_at >= v,
        "until": lambda v: Evaluation.created_at < v,
    },
    read_roles=ALL_ROLES,
    write_roles=STAFF,
    scope=own_evaluations,
    tags=("quality",),
)


def _scored(card: Scorecard, scores: list[CriterionScoreIn]) -> list[dict[str, Any]]:
    """The scorecard's criteria with the scores given, in the scorecard's order; 422 naming the entry."""
    criteria = {str(c["name"]): c for c in card.criteria}
    given: dict[str, tuple[int, CriterionScoreIn]] = {}
    for i, entry in enumerate(scores):
        criterion = criteria.get(entry.criterion)
        if criterion is None:
            raise field_error(
                ("body", "scores", i, "criterion"), "not a criterion of this scorecard", entry.criterion
            )
        if entry.criterion in given:
            raise field_error(("body", "scores", i, "criterion"), "scored twice", entry.criterion)
        if entry.score is not None and entry.score > int(criterion["max_score"]):
            raise field_error(
                ("body", "scores", i, "score"), f"at most {criterion['max_score']}", entry.score
            )
        if entry.score is None and criterion.get("auto_fail"):
            raise field_error(("body", "scores", i, "score"), "an auto-fail criterion always applies", None)
        given[entry.criterion] = (i, entry)
    missing = [name for name in criteria if name not in given]
    if missing:
        raise field_error(("body", "scores"), f"no score for: {', '.join(missing)}", None)
    return [
        {"criterion": name, "weight": float(c["weight"]), "max_score": int(c["max_score"]),
         "auto_fail": bool(c.get("auto_fail")), "score": given[name][1].score, "comment": given[name][1].comment}
        for name, c in criteria.items()
    ]  # fmt: skip


@router.post("/evaluations", status_code=201, response_model=EvaluationRead, tags=["quality"])
def create_evaluation(
    body: EvaluationCreate,
    request: Request,
    principal: Annotated[Principal, Depends(EVALUATIONS.writer())],
    session: DbSession,
) -> Any:
    """Score a call against a scorecard (the call must be visible to the evaluator and have an agent)."""
    call = session.scalar(CALLS.visible(principal, select(CALLS.model).where(CALLS.model.id == body.call_id)))
    if call is None:
        raise field_error(("body", "call_id"), f"call {body.call_id} does not exist", body.call_id)
    if call.agent_id is None:
        raise field_error(
            ("body", "call_id"), "no agent handled this call: there is nobody to score", body.call_id
        )
    if body.recording_id is not None:
        recording = session.get(Recording, body.recording_id)
        if recording is None or recording.call_id != call.id:
            raise field_error(("body", "recording_id"), "not a recording of this call", body.recording_id)
    card = session.get(Scorecard, body.scorecard_id)
    if card is None or not card.active:
        raise field_error(("body", "scorecard_id"), "no active scorecard with this id", body.scorecard_id)
    scored = _scored(card, body.scores)
    total = weighted_score([
        CriterionScore(weight=s["weight"], max_score=s["max_score"], score=s["score"], auto_fail=s["auto_fail"])
        for s in scored
    ])  # fmt: skip
    row = Evaluation(
        call_id=call.id, recording_id=body.recording_id, scorecard_id=card.id, agent_id=call.agent_id,
        evaluator_user_id=principal.user_id, scores=scored, score_pct=total.pct, auto_failed=total.auto_failed,
        comment=body.comment, created_at=clock(request.app.state),
    )  # fmt: skip
    session.add(row)
    flush(session)
    request.app.state.record.append(
        session,
        "quality.evaluated",
        call_id=call.id,
        agent_id=call.agent_id,
        queue_id=call.queue_id,
        campaign_id=call.campaign_id,
        data={"evaluation_id": row.id, "scorecard_id": card.id, "recording_id": body.recording_id,
              "score_pct": total.pct, "auto_failed": total.auto_failed, "by_user_id": principal.user_id},
    )  # fmt: skip
    if principal.role in AUDITED_ROLES:
        audit(session, request, principal, "evaluation.create", target_type="call", target_id=call.id,
              detail={"evaluation_id": row.id})  # fmt: skip
    return row


crud_router(EVALUATIONS, router)

# ---- the quality report ---------------------------------------------------------------------------------

Anyone = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.SUPERVISOR, Role.AGENT))]


@router.get("/reports/quality", tags=["reports"])
def report_quality(
    request: Request,
    session: DbSession,
    principal: Anyone,
    start: From = None,
    to: To = None,
    format: ReportFormat = "json",
) -> Response:
    """Per agent evaluated in the range: evaluations, average, lowest and highest score (%), auto-fails.
    A supervisor sees the agents of their teams, an agent their own row."""
    start_ms, end_ms = _range(request, start, to)
    stmt = select(*COLUMNS).where(
        Event.type == "quality.evaluated", Event.ts_ms >= start_ms, Event.ts_ms < end_ms
    )
    scope = _Scope(session, principal)
    rows = [
        r.to_dict()
        for r in quality_by_agent(envelopes(session.execute(stmt)), start_ms, end_ms)
        if scope.agents is None or r.agent_id in scope.agents
    ]
    return _respond(rows, start_ms, end_ms, format, "quality")
