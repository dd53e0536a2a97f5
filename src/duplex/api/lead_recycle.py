"""Recycling an exhausted list: leads in chosen end states (say `retry`/`done` after a `no_answer` or `busy`
outcome, last dialed N days ago or more) go back to `new` with their attempts cleared, so the dialer takes
them again. Their last outcome and last attempt time are kept: the compliance rules that look back (the
72-hour rule after an abandoned call) still see them.

Never recycled: `dnc` and `dialing` leads (refused with a 422 naming the status), and any lead whose number
has a do-not-call entry in force now, whatever its status says.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session

from duplex.api.audit import record_write
from duplex.api.db import DbSession
from duplex.api.lead_filter import parse_filter, to_sql
from duplex.api.lead_io import Staff, load_list
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input
from duplex.auth.deps import clock
from duplex.db.models import DncEntry, Lead
from duplex.dialer.types import LeadStatus

__all__ = ["NEVER_RECYCLED", "RecycleRule", "recycle_leads", "router"]

router = APIRouter(route_class=DuplexRoute)
NEVER_RECYCLED = frozenset({LeadStatus.DNC, LeadStatus.DIALING})


@dataclass(frozen=True, slots=True, kw_only=True)
class RecycleRule:
    statuses: frozenset[LeadStatus]
    outcomes: frozenset[str] = frozenset()  # empty: any last outcome
    after_days: float = 0.0  # the last attempt at least this long ago (never dialed counts as long ago)
    lead_filter: str | None = None  # narrows it further (duplex.api.lead_filter)

    def __post_init__(self) -> None:
        if not self.statuses:
            raise ValueError("name at least one status to recycle")
        refused = sorted(s.value for s in self.statuses & NEVER_RECYCLED)
        if refused:
            raise ValueError(f"leads in status {', '.join(refused)} are never recycled")
        if self.after_days < 0:
            raise ValueError("after_days cannot be negative")


def _where(list_id: int, rule: RecycleRule, now: dt.datetime) -> list[ColumnElement[bool]]:
    cutoff = now - dt.timedelta(days=rule.after_days)
    on_dnc = exists().where(
        DncEntry.phone == Lead.phone, or_(DncEntry.expires_at.is_(None), DncEntry.expires_at > now)
    )
    where = [
        Lead.list_id == list_id,
        Lead.status.in_(sorted(rule.statuses)),
        or_(Lead.last_attempt_at.is_(None), Lead.last_attempt_at <= cutoff),
        ~on_dnc,
    ]
    if rule.outcomes:
        where.append(Lead.last_outcome.in_(sorted(rule.outcomes)))
    if rule.lead_filter:
        where.append(to_sql(parse_filter(rule.lead_filter)))
    return where


def recycle_leads(
    session: Session, *, list_id: int, rule: RecycleRule, now: dt.datetime, dry_run: bool = False
) -> int:
    """Reset the list's leads matching `rule` to `new` (attempts 0, no retry time) in `session`'s
    transaction; returns how many (that would be, when `dry_run`). FilterError for a bad filter."""
    where = _where(list_id, rule, now)
    if dry_run:
        return session.scalar(select(func.count()).select_from(Lead).where(*where)) or 0
    stmt = (
        update(Lead)
        .where(*where)
        .values(status=LeadStatus.NEW, attempts=0, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    result: Any = session.execute(stmt)
    return int(result.rowcount)


class RecycleRequest(Input):
    statuses: Annotated[list[LeadStatus], Field(min_length=1, max_length=16)]
    outcomes: Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=32)] = []
    after_days: Annotated[float, Field(ge=0, le=3650)] = 0
    filter: Annotated[str | None, Field(max_length=2000)] = None
    dry_run: bool = False

    @field_validator("statuses")
    @classmethod
    def _recyclable(cls, value: list[LeadStatus]) -> list[LeadStatus]:
        refused = sorted(s.value for s in set(value) & NEVER_RECYCLED)
        if refused:
            raise ValueError(f"leads in status {', '.join(refused)} are never recycled")
        return value

    @field_validator("filter")
    @classmethod
    def _valid_filter(cls, value: str | None) -> str | None:
        if value is not None:
            parse_filter(value)  # FilterError is a ValueError: a 422 naming body.filter
        return value


class RecycleResult(BaseModel):
    list_id: int
    recycled: int
    dry_run: bool


@router.post("/lead-lists/{list_id}/recycle", response_model=RecycleResult, tags=["lead-lists"])
def recycle_list(
    list_id: int, body: RecycleRequest, request: Request, principal: Staff, session: DbSession
) -> RecycleResult:
    """Reset the list's leads in `statuses` (and, if given, with a last outcome in `outcomes`, last dialed
    `after_days` ago or more, matching `filter`) to `new` so they are dialed again. `dnc` and `dialing` are
    refused, numbers now on the do-not-call list are left alone. One `lead.recycled` event with the count.
    Roles: admin, supervisor."""
    lead_list = load_list(session, list_id)
    rule = RecycleRule(statuses=frozenset(body.statuses), outcomes=frozenset(body.outcomes),
                       after_days=body.after_days, lead_filter=body.filter)  # fmt: skip
    count = recycle_leads(
        session, list_id=list_id, rule=rule, now=clock(request.app.state), dry_run=body.dry_run
    )
    if not body.dry_run:
        detail = {"list_id": list_id, "recycled": count, **body.model_dump(mode="json", exclude={"dry_run"})}
        request.app.state.record.append(
            session, "lead.recycled", campaign_id=lead_list.campaign_id, data=detail
        )
        record_write(session, request, principal, entity="lead_list", ident=list_id, action="recycle",
                     detail=detail)  # fmt: skip
    return RecycleResult(list_id=list_id, recycled=count, dry_run=body.dry_run)
