"""KPI reports (`/reports/queues|agents|campaigns|sources`, JSON or CSV), the wallboard and staffing.

Scoping follows duplex.api.scopes: an admin sees everything; a supervisor sees the calls handled by the
agents of their teams or routed through their teams' queues (and only those queues and agents as rows);
an agent may read only their own row of the agents report. The definitions are in docs/kpis.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from duplex.api.db import DbSession, field_error
from duplex.api.routing import DuplexRoute
from duplex.auth.deps import Principal, clock, require_role
from duplex.db.models import Agent, Campaign, Event, Queue, QueueMember, Role
from duplex.events.types import EventEnvelope
from duplex.reports.kpi_store import (
    campaign_abandon_since,
    kpi_inputs,
    load_report_events,
)
from duplex.reports.kpis import agent_kpis, campaign_kpis, queue_kpis, source_kpis
from duplex.reports.staffing import forecast_intervals, staffing
from duplex.reports.wallboard import snapshot
from duplex.reports.wallboard_feed import WallboardFeed

router = APIRouter(route_class=DuplexRoute, tags=["reports"])

Staff = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]
Anyone = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.SUPERVISOR, Role.AGENT))]
MAX_RANGE = dt.timedelta(days=31)
From = Annotated[
    dt.datetime | None, Query(alias="from", description="Start (ISO 8601; default: today 00:00 UTC).")
]
To = Annotated[dt.datetime | None, Query(description="End, exclusive (ISO 8601; default: now).")]
Format = Annotated[Literal["json", "csv"], Query(description="json or csv")]


def _range(request: Request, start: dt.datetime | None, end: dt.datetime | None) -> tuple[int, int]:
    now = clock(request.app.state)
    end = _utc(end) if end is not None else now
    start = _utc(start) if start is not None else dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    if start >= end:
        raise field_error(("query", "from"), "from must be before to", start.isoformat())
    if end - start > MAX_RANGE:
        raise field_error(("query", "to"), f"at most {MAX_RANGE.days} days per report", end.isoformat())
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


class _Scope:
    """Which events and rows a principal may see (None: everything)."""

    def __init__(self, session: Any, principal: Principal) -> None:
        self.agents: frozenset[int] | None = None
        self.queues: frozenset[int] | None = None
        if principal.role is Role.AGENT:
            self.agents = frozenset({principal.agent_id}) if principal.agent_id is not None else frozenset()
            self.queues = frozenset()
        elif principal.role is Role.SUPERVISOR:
            teams = sorted(principal.team_ids)
            self.agents = frozenset(session.scalars(select(Agent.id).where(Agent.team_id.in_(teams))))
            self.queues = frozenset(session.scalars(select(Queue.id).where(Queue.team_id.in_(teams))))

    def events(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        """The events of the calls in scope, and the agent events of the agents in scope."""
        if self.agents is None or self.queues is None:
            return list(events)
        calls = {
            e.call_id
            for e in events
            if e.call_id is not None and (e.agent_id in self.agents or e.queue_id in self.queues)
        }
        return [e for e in events if e.call_id in calls or (e.call_id is None and e.agent_id in self.agents)]


def _respond(rows: Iterable[dict[str, Any]], start_ms: int, end_ms: int, fmt: str, name: str) -> Response:
    rows = list(rows)
    if fmt == "csv":
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return JSONResponse({"from": _iso(start_ms), "to": _iso(end_ms), "rows": rows})


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def _report(
    request: Request,
    session: Any,
    principal: Principal,
    start: dt.datetime | None,
    end: dt.datetime | None,
    fmt: str,
    name: str,
    compute: Callable[..., Sequence[Any]],
    keep: Callable[[Any, _Scope], bool],
) -> Response:
    start_ms, end_ms = _range(request, start, end)
    scope = _Scope(session, principal)
    events = scope.events(load_report_events(session, start_ms, end_ms))
    rows = [r.to_dict() for r in compute(events, start_ms, end_ms, kpi_inputs(session)) if keep(r, scope)]
    return _respond(rows, start_ms, end_ms, fmt, name)


@router.get("/reports/queues")
def report_queues(
    request: Request,
    session: DbSession,
    principal: Staff,
    start: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """Per queue: entered, answered, abandoned (short abandons apart), service level, ASA, handle time, ..."""
    return _report(request, session, principal, start, to, format, "queues", queue_kpis,
                   lambda r, s: s.queues is None or r.queue_id in s.queues)  # fmt: skip


@router.get("/reports/agents")
def report_agents(
    request: Request,
    session: DbSession,
    principal: Anyone,
    start: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """Per agent: offers, answers, time by state, talk/hold/wrap, occupancy, CSAT, conversions, ..."""
    return _report(request, session, principal, start, to, format, "agents", agent_kpis,
                   lambda r, s: s.agents is None or r.agent_id in s.agents)  # fmt: skip


@router.get("/reports/campaigns")
def report_campaigns(
    request: Request,
    session: DbSession,
    principal: Staff,
    start: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """Per campaign: dialled, connects, humans, abandon rate, conversions, revenue, minutes and cost, ..."""
    return _report(
        request, session, principal, start, to, format, "campaigns", campaign_kpis, lambda r, s: True
    )


@router.get("/reports/sources")
def report_sources(
    request: Request,
    session: DbSession,
    principal: Staff,
    start: From = None,
    to: To = None,
    format: Format = "json",
) -> Response:
    """Per tracking source (the marketing number's channel): inbound calls, answers, conversions, revenue, ..."""
    return _report(request, session, principal, start, to, format, "sources", source_kpis, lambda r, s: True)


@router.get("/wallboard")
def wallboard(request: Request, session: DbSession, principal: Staff) -> JSONResponse:
    """Now: per queue waiting, longest wait, service level and abandon rate today, members by state; per
    campaign dial level, abandon rate 24 h and 30 days, connects today. Today is the UTC day."""
    now = clock(request.app.state)
    now_ms = int(now.timestamp() * 1000)
    feed: WallboardFeed | None = getattr(request.app.state, "wallboard_feed", None)
    if feed is None:
        feed = request.app.state.wallboard_feed = WallboardFeed()
    key = (principal.role, principal.team_ids, principal.agent_id)
    return JSONResponse(feed.board(key, now_ms, lambda: _board(session, principal, feed, now)))


def _board(session: Any, principal: Principal, feed: WallboardFeed, now: dt.datetime) -> dict[str, Any]:
    now_ms = int(now.timestamp() * 1000)
    scope = _Scope(session, principal)
    kept, facts = feed.refresh(session, now_ms)
    events = scope.events(kept)
    if scope.agents is not None:  # campaign.pacing belongs to no call or agent; staff see every campaign
        events += [e for e in kept if e.type == "campaign.pacing"]
    in_scope = {e.call_id for e in events if e.call_id is not None}
    members: dict[int, set[int]] = {}
    for qid, aid in session.execute(select(QueueMember.queue_id, QueueMember.agent_id)):
        members.setdefault(qid, set()).add(aid)
    queue_ids = set(session.scalars(select(Queue.id)))
    board = snapshot(
        events,
        now_ms,
        kpi_inputs(session),
        queue_members={q: frozenset(a) for q, a in members.items()},
        queue_ids=queue_ids if scope.queues is None else queue_ids & scope.queues,
        campaign_ids=set(session.scalars(select(Campaign.id))),
        abandon_30d=campaign_abandon_since(session, now - dt.timedelta(days=30)),
        facts={c: f for c, f in facts.items() if c in in_scope},
    )
    body = asdict(board)
    if scope.queues is not None:
        body["queues"] = [q for q in body["queues"] if q["queue_id"] in scope.queues]
    body["at"] = _iso(now_ms)
    return body


@router.get("/reports/staffing")
def report_staffing(
    request: Request,
    session: DbSession,
    principal: Staff,
    aht: Annotated[float, Query(gt=0, le=86_400, description="Average handle time, seconds.")],
    service_level: Annotated[float, Query(ge=0, lt=1, description="Target share, e.g. 0.8.")] = 0.8,
    target_seconds: Annotated[float, Query(ge=0, le=3600, description="... answered within this.")] = 20,
    calls_per_hour: Annotated[float | None, Query(ge=0, le=100_000)] = None,
    queue_id: Annotated[int | None, Query(description="Forecast this queue's arrivals (else all).")] = None,
    day: Annotated[dt.date | None, Query(description="Forecast per 30 min for this day (UTC).")] = None,
    weeks: Annotated[int, Query(ge=1, le=12, description="Same weekday of this many past weeks.")] = 4,
) -> JSONResponse:
    """Erlang C: agents for `calls_per_hour`, or per 30-minute interval of `day` from the arrivals (queue.entered,
    or call.created for all inbound) of the same weekday of the last `weeks` weeks."""
    try:
        if calls_per_hour is not None:
            return JSONResponse(asdict(staffing(calls_per_hour, aht, service_level, target_seconds)))
        if day is None:
            raise field_error(("query", "calls_per_hour"), "give calls_per_hour or day", None)
        arrivals = _arrivals(session, day, weeks, queue_id)
        intervals = forecast_intervals(
            arrivals, day, weeks=weeks, aht_s=aht, service_level=service_level, target_seconds=target_seconds
        )
    except ValueError as exc:
        raise field_error(("query", "calls_per_hour"), str(exc), calls_per_hour) from None
    return JSONResponse(
        {
            "day": day.isoformat(),
            "weeks": weeks,
            "queue_id": queue_id,
            "intervals": [
                {"start": i.start.isoformat(), "expected_calls": i.expected_calls, **asdict(i.staffing)}
                for i in intervals
            ],
        }  # fmt: skip
    )


def _arrivals(session: Any, day: dt.date, weeks: int, queue_id: int | None) -> list[int]:
    out: list[int] = []
    for w in range(1, weeks + 1):  # one indexed range per past weekday
        start = int(dt.datetime.combine(day - dt.timedelta(weeks=w), dt.time(), dt.UTC).timestamp() * 1000)
        stmt = select(Event.ts_ms, Event.data).where(Event.ts_ms >= start, Event.ts_ms < start + 86_400_000)
        if queue_id is not None:
            stmt = stmt.where(Event.type == "queue.entered", Event.queue_id == queue_id)
        else:
            stmt = stmt.where(Event.type == "call.created")
        out.extend(ts for ts, data in session.execute(stmt)
                   if queue_id is not None or (data or {}).get("direction") == "inbound")  # fmt: skip
    return out
