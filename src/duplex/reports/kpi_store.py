"""Reading the events a KPI report needs, by type and time (the `ix_events_type_ts` index) and by call id
(`ix_events_call_id`): a day's report reads that day's calls, never the whole table.

1. the events that put a call, an agent or a lead in the range (call.created, queue.entered, lead.dialed,
   lead.skipped, agent.*) with `start <= ts < end`, by type and time;
2. every event of the calls found (by call id), also those after the range: a call that began before
   midnight is reported whole on the day it began;
3. each agent's last agent.state_changed in the `lookback_ms` before the range (its state at the start);
4. call.created up to `repeat_window_ms` after the range (first-call resolution looks for repeat callers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from duplex.db.models import Call, Campaign, Disposition, Event, Queue
from duplex.events.types import EventEnvelope
from duplex.reports.kpis import REPEAT_WINDOW_MS, KpiInputs

__all__ = [
    "COLUMNS", "DAY_MS", "campaign_abandon_since", "envelopes", "kpi_inputs", "load_report_events", "load_wallboard_events",
]  # fmt: skip

SEED_TYPES = (
    "call.created", "queue.entered", "lead.dialed", "lead.skipped", "agent.offered",
    "agent.accepted", "agent.rejected", "agent.no_answer", "agent.state_changed",
)  # fmt: skip
CALLLESS_TYPES = ("agent.state_changed", "lead.skipped")  # recorded without a call id
DAY_MS = 86_400_000
_CHUNK = 500  # call ids per IN (...) query
COLUMNS = (
    Event.id, Event.node_id, Event.seq, Event.type, Event.ts_ms, Event.call_id, Event.leg_id, Event.agent_id,
    Event.queue_id, Event.campaign_id, Event.lead_id, Event.data,
)  # fmt: skip


def envelopes(rows: Iterable[Any]) -> list[EventEnvelope]:
    return [EventEnvelope(**{**r._mapping, "data": dict(r.data or {})}) for r in rows]


def _by_type(session: Session, types: Sequence[str], start_ms: int, end_ms: int) -> list[EventEnvelope]:
    out: list[EventEnvelope] = []
    for t in types:  # one equality per query keeps each an index range scan on (type, ts_ms)
        stmt = select(*COLUMNS).where(Event.type == t, Event.ts_ms >= start_ms, Event.ts_ms < end_ms)
        out.extend(envelopes(session.execute(stmt)))
    return out


def load_report_events(
    session: Session,
    start_ms: int,
    end_ms: int,
    *,
    lookback_ms: int = DAY_MS,
    repeat_window_ms: int = REPEAT_WINDOW_MS,
) -> list[EventEnvelope]:
    """The events `duplex.reports.kpis` needs for [start_ms, end_ms), each once."""
    call_ids: set[str] = set()
    for t in SEED_TYPES:  # ids only: the calls' rows are read whole below, once
        stmt = select(Event.call_id).where(Event.type == t, Event.ts_ms >= start_ms, Event.ts_ms < end_ms)
        call_ids.update(c for c in session.scalars(stmt.distinct()) if c is not None)
    seen: dict[int, EventEnvelope] = {}
    ordered = sorted(call_ids)
    for i in range(0, len(ordered), _CHUNK):
        stmt = select(*COLUMNS).where(Event.call_id.in_(ordered[i : i + _CHUNK]))
        seen.update((e.id, e) for e in envelopes(session.execute(stmt)))
    for e in _by_type(session, CALLLESS_TYPES, start_ms, end_ms):
        if e.call_id is None:
            seen[e.id] = e
    last_state: dict[int, EventEnvelope] = {}
    for e in _by_type(session, ("agent.state_changed",), start_ms - lookback_ms, start_ms):
        if e.agent_id is not None:
            prev = last_state.get(e.agent_id)
            if prev is None or (e.ts_ms, e.id) > (prev.ts_ms, prev.id):
                last_state[e.agent_id] = e
    seen.update((e.id, e) for e in last_state.values())
    seen.update((e.id, e) for e in _by_type(session, ("call.created",), end_ms, end_ms + repeat_window_ms))
    return list(seen.values())


def kpi_inputs(session: Session) -> KpiInputs:
    """The configuration the KPIs read: service levels, success dispositions, campaign costs."""
    return KpiInputs(
        service_level_seconds={
            q: sl for q, sl in session.execute(select(Queue.id, Queue.service_level_seconds))
        },
        success_dispositions=frozenset(session.scalars(select(Disposition.id).where(Disposition.is_success))),
        unresolved_dispositions=frozenset(
            session.scalars(select(Disposition.id).where(Disposition.resolves_contact.is_(False)))
        ),
        cost_per_minute={
            c: cost for c, cost in session.execute(select(Campaign.id, Campaign.cost_per_minute))
        },
    )


def load_wallboard_events(session: Session, now_ms: int) -> list[EventEnvelope]:
    """The last 24 hours of report events, and the campaign.pacing events of that time (the dial level)."""
    events = load_report_events(session, now_ms - DAY_MS, now_ms + 1, repeat_window_ms=0)
    return events + _by_type(session, ("campaign.pacing",), now_ms - DAY_MS, now_ms + 1)


def campaign_abandon_since(session: Session, since: dt.datetime) -> dict[int, float | None]:
    """Campaign id -> abandoned / human-answered over the CDR rows of calls started since `since`."""
    humans = func.count()
    abandoned = func.sum(
        case((and_(Call.agent_answered_at.is_(None), Call.ended_at.is_not(None)), 1), else_=0)
    )
    stmt = (
        select(Call.campaign_id, humans, abandoned)
        .where(Call.campaign_id.is_not(None), Call.outcome == "human", Call.started_at >= since)
        .group_by(Call.campaign_id)
    )
    return {cid: (int(a or 0) / n if n else None) for cid, n, a in session.execute(stmt)}
