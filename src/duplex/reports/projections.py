"""The CDR projection: `calls` and `call_legs` rows computed from the event record.

A call's rows are a pure function of its events (`project`), so applying an event twice, in any order, or
rebuilding everything from the table gives the same rows. `apply_events(session, envelopes)` recomputes
the calls those events touch (from all of their recorded events) inside the caller's transaction;
`rebuild_calls(sessions)` recomputes every call and deletes rows no event explains. These two are the
reference; the event record's live path (`duplex.reports.live.LiveProjection`) applies only new events
to a kept `Projection` of each live call and must always give the same rows.

What the projection reads (fields other than the envelope's correlation ids live in `data`):

    call.created      direction, from, to, phone_number_id, tracking_source, trunk_id; queue/campaign/lead ids
    call.ringing      state -> ringing
    call.answered     answered_at (earliest), state -> answered
    queue.entered     queue_id, queued_at (earliest)
    agent.accepted    agent_id, agent_answered_at (earliest)
    call.bridged      agent_id if given; then also agent_answered_at (earliest): the agent is connected
    call.transferred  transfers = number of such events
    call.outcome      outcome                                     disposition.set: disposition_id, notes
    csat.recorded     score -> csat                               lead.dialed: lead_id, campaign_id
    call.ended        ended_at, reason -> end_reason, state -> ended
    leg.created       leg_id; kind, sip_call_id, remote_uri, trunk_id; agent_id
    leg.answered      answered_at, codec                          leg.ended: ended_at, reason, sip_status
    call.quality      leg_id; packets_lost, jitter_ms, mos
    leg.left          the leg leaves this call; to_call_id (attended transfer)
    leg.moved         the leg now belongs to this call (call_id); from_call_id
Texts are cut to their column sizes. A moved leg's row is computed from its events in both calls, so
`apply_events` follows from_call_id/to_call_id and recomputes both calls together (as `rebuild_calls` does).
Ids of rows that no longer exist (a deleted queue, agent, ...) are projected as NULL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models import (
    Agent,
    Call,
    CallLeg,
    Campaign,
    Disposition,
    Event,
    Lead,
    PhoneNumber,
    Queue,
    Trunk,
)
from duplex.events.record import envelope_of
from duplex.events.types import EventEnvelope

Row = dict[str, Any]
CALL_FIELDS = (
    "direction", "state", "from_number", "to_number", "phone_number_id", "tracking_source", "queue_id",
    "agent_id", "campaign_id", "lead_id", "trunk_id", "started_at", "queued_at", "answered_at",
    "agent_answered_at", "ended_at", "end_reason", "outcome", "disposition_id", "disposition_notes",
    "revenue", "transfers", "csat",
)  # fmt: skip
LEG_FIELDS = (
    "call_id", "kind", "sip_call_id", "remote_uri", "agent_id", "trunk_id", "codec", "started_at",
    "answered_at", "ended_at", "end_reason", "sip_status", "packets_lost", "jitter_ms", "mos",
)  # fmt: skip
_REFERENCES: dict[str, type[Any]] = {
    "queue_id": Queue, "agent_id": Agent, "campaign_id": Campaign, "lead_id": Lead, "trunk_id": Trunk,
    "phone_number_id": PhoneNumber, "disposition_id": Disposition,
}  # fmt: skip


def _cut(value: Any, size: int) -> Any:
    return value[:size] if isinstance(value, str) else value


def _at(env: EventEnvelope) -> dt.datetime:
    return dt.datetime.fromtimestamp(env.ts_ms / 1000, dt.UTC)


def _earliest(row: Row, key: str, value: dt.datetime) -> None:
    if row.get(key) is None or value < row[key]:
        row[key] = value


def _new_call(env: EventEnvelope) -> Row:
    row: Row = dict.fromkeys(CALL_FIELDS)
    row |= {"direction": "inbound", "state": "created", "from_number": "", "to_number": "",
            "disposition_notes": "", "transfers": 0, "started_at": _at(env)}  # fmt: skip
    return row


def _on_created(row: Row, env: EventEnvelope) -> None:
    d = env.data
    row["started_at"] = _at(env)
    row["direction"] = str(d.get("direction", row["direction"]))
    row["from_number"] = str(d.get("from", ""))[:64] or row["from_number"]
    row["to_number"] = str(d.get("to", ""))[:64] or row["to_number"]
    for key in ("phone_number_id", "tracking_source", "trunk_id"):
        if d.get(key) is not None:
            row[key] = d[key]


def _on_answered(row: Row, env: EventEnvelope) -> None:
    _earliest(row, "answered_at", _at(env))
    if row["state"] != "ended":
        row["state"] = "answered"


def _on_ringing(row: Row, env: EventEnvelope) -> None:
    if row["state"] == "created":
        row["state"] = "ringing"


def _on_queue_entered(row: Row, env: EventEnvelope) -> None:
    _earliest(row, "queued_at", _at(env))


def _on_agent_accepted(row: Row, env: EventEnvelope) -> None:
    _earliest(row, "agent_answered_at", _at(env))


def _on_bridged(row: Row, env: EventEnvelope) -> None:
    if env.agent_id is not None:
        _earliest(row, "agent_answered_at", _at(env))


def _on_transferred(row: Row, env: EventEnvelope) -> None:
    row["transfers"] += 1


def _on_outcome(row: Row, env: EventEnvelope) -> None:
    row["outcome"] = env.data.get("outcome")


def _on_disposition(row: Row, env: EventEnvelope) -> None:
    row["disposition_id"] = env.data.get("disposition_id")
    row["disposition_notes"] = str(env.data.get("notes", ""))
    if env.data.get("revenue") is not None:
        row["revenue"] = float(env.data["revenue"])


def _on_csat(row: Row, env: EventEnvelope) -> None:
    row["csat"] = env.data.get("score")


def _on_ended(row: Row, env: EventEnvelope) -> None:
    row["ended_at"] = _at(env)
    row["end_reason"] = _cut(env.data.get("reason"), 32)
    row["state"] = "ended"


CALL_HANDLERS: dict[str, Callable[[Row, EventEnvelope], None]] = {
    "call.created": _on_created,
    "call.ringing": _on_ringing,
    "call.answered": _on_answered,
    "queue.entered": _on_queue_entered,
    "agent.accepted": _on_agent_accepted,
    "call.bridged": _on_bridged,
    "call.transferred": _on_transferred,
    "call.outcome": _on_outcome,
    "disposition.set": _on_disposition,
    "csat.recorded": _on_csat,
    "call.ended": _on_ended,
}
# Correlation ids an event sets on its call when present.
_CALL_IDS = {
    "call.created": ("queue_id", "campaign_id", "lead_id", "agent_id"),
    "queue.entered": ("queue_id",),
    "agent.accepted": ("agent_id",),
    "call.bridged": ("agent_id",),
    "lead.dialed": ("campaign_id", "lead_id"),
}


def _leg(legs: dict[str, Row], env: EventEnvelope) -> Row | None:
    if env.leg_id is None or env.call_id is None:
        return None
    if env.leg_id not in legs:
        legs[env.leg_id] = dict.fromkeys(LEG_FIELDS) | {
            "call_id": env.call_id, "kind": "caller", "sip_call_id": "", "remote_uri": "", "started_at": _at(env),
        }  # fmt: skip
    return legs[env.leg_id]


def _apply_leg(legs: dict[str, Row], env: EventEnvelope) -> None:
    leg = _leg(legs, env)
    if leg is None:
        return
    d = env.data
    if env.type == "leg.created":
        leg["started_at"] = _at(env)
        for key, size in (
            ("kind", 16),
            ("sip_call_id", 255),
            ("remote_uri", 255),
            ("trunk_id", 0),
        ):
            if d.get(key) is not None:
                leg[key] = _cut(d[key], size) if size else d[key]
        leg["agent_id"] = env.agent_id if env.agent_id is not None else leg["agent_id"]
    elif env.type == "leg.answered":
        _earliest(leg, "answered_at", _at(env))
        if d.get("codec") is not None:
            leg["codec"] = d["codec"]
    elif env.type == "leg.ended":
        leg |= {
            "ended_at": _at(env),
            "end_reason": _cut(d.get("reason"), 32),
            "sip_status": d.get("sip_status"),
        }
    elif env.type == "leg.moved":
        leg["call_id"] = env.call_id
    elif env.type == "call.quality":
        for key in ("packets_lost", "jitter_ms", "mos"):
            if d.get(key) is not None:
                leg[key] = d[key]


class Projection:
    """The state `project` folds events into: calls and legs (id -> column values) before the
    derived columns. Events must be applied in id order; `rows()` gives the CDR rows."""

    __slots__ = ("calls", "last_id", "legs")

    def __init__(self) -> None:
        self.calls: dict[str, Row] = {}
        self.legs: dict[str, Row] = {}
        self.last_id = 0  # the id of the last event applied

    def copy(self) -> Projection:
        other = Projection()
        other.calls = {k: dict(v) for k, v in self.calls.items()}
        other.legs = {k: dict(v) for k, v in self.legs.items()}
        other.last_id = self.last_id
        return other

    def apply(self, env: EventEnvelope) -> None:
        self.last_id = max(self.last_id, env.id)
        if env.call_id is None:
            return
        if env.type.startswith("leg.") or env.type == "call.quality":
            _apply_leg(self.legs, env)
            return
        handler = CALL_HANDLERS.get(env.type)
        if handler is None and env.type not in _CALL_IDS:
            return
        row = self.calls.get(env.call_id)
        if row is None:
            row = self.calls[env.call_id] = _new_call(env)
        for key in _CALL_IDS.get(env.type, ()):
            if getattr(env, key) is not None:
                row[key] = getattr(env, key)
        if handler is not None:
            handler(row, env)

    def orphans(self) -> list[str]:
        """Legs that have no row because their call has none (e.g. moved to a call never recorded)."""
        return [k for k, v in self.legs.items() if v["call_id"] not in self.calls]

    def rows(self) -> tuple[dict[str, Row], dict[str, Row]]:
        """Copies of the calls and legs with the derived columns; the state is not changed."""
        calls = {k: dict(v) for k, v in self.calls.items()}
        # a leg of a call we know nothing about cannot have a row (calls.id is its FK)
        legs = {k: dict(v) for k, v in self.legs.items() if v["call_id"] in calls}
        for leg in legs.values():
            # An outbound call's carrier is the trunk of the leg that was answered (failed failover attempts
            # do not count); an inbound carrier call already has it from call.created.
            call = calls[leg["call_id"]]
            if call["trunk_id"] is None and leg["trunk_id"] is not None and leg["answered_at"] is not None:
                call["trunk_id"] = leg["trunk_id"]
        return calls, legs


def project(events: Iterable[EventEnvelope]) -> tuple[dict[str, Row], dict[str, Row]]:
    """Calls and legs (id -> column values) from events, applied in id order. Pure: no database."""
    state = Projection()
    for env in sorted(events, key=lambda e: e.id):
        state.apply(env)
    return state.rows()


def _present_ids() -> Any:
    """One statement for every referenced table: (column, id) of each wanted id that exists."""
    parts = [
        select(literal(key), model.id).where(model.id.in_(bindparam(key, expanding=True)))
        for key, model in _REFERENCES.items()
    ]
    return union_all(*parts)


def _drop_dangling(session: Session, rows: Iterable[Row]) -> None:
    rows = list(rows)
    wanted = {key: {r[key] for r in rows if r.get(key) is not None} for key in _REFERENCES}
    if not any(wanted.values()):
        return
    params = {key: sorted(ids) for key, ids in wanted.items()}
    present = {(k, id) for k, id in session.execute(_PRESENT_IDS, params)}  # built and compiled once
    for r in rows:
        for key in _REFERENCES:
            if r.get(key) is not None and (key, r[key]) not in present:
                r[key] = None


_UPSERTS: dict[tuple[str, str], Any] = {}  # (dialect, table) -> INSERT .. ON CONFLICT (id) DO UPDATE


def _upsert(
    session: Session, model: type[Call] | type[CallLeg], fields: Sequence[str], rows: list[Row]
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    table: Table = model.__table__  # type: ignore[assignment]
    stmt = _UPSERTS.get((dialect, table.name))
    if stmt is None:  # built once: the statement's column proxies cost more than the rows
        if dialect == "postgresql":
            insert: Any = postgresql.insert(table)
        elif dialect == "sqlite":
            insert = sqlite.insert(table)
        else:  # pragma: no cover - the two databases Duplex supports
            raise NotImplementedError(f"no upsert for {dialect}")
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.id], set_={f: insert.excluded[f] for f in fields}
        )
        _UPSERTS[(dialect, table.name)] = stmt
    session.execute(stmt, rows)  # a Core table, not the entity: one executemany, no ORM bulk path


def store_rows(
    session: Session, calls: dict[str, Row], legs: dict[str, Row], orphans: Iterable[str] = ()
) -> None:
    """Write projected rows (insert or update, one statement per table); ids of missing rows become NULL.
    `orphans` are legs that must have no row (a row left from before they moved is deleted)."""
    orphans = sorted(orphans)
    if orphans:
        session.execute(delete(CallLeg).where(CallLeg.id.in_(orphans)))
    _drop_dangling(session, [*calls.values(), *legs.values()])
    _upsert(session, Call, CALL_FIELDS, [{"id": k, "data": {}, **v} for k, v in calls.items()])
    _upsert(session, CallLeg, LEG_FIELDS, [{"id": k, **v} for k, v in legs.items()])


def load_history(session: Session, call_ids: Iterable[str]) -> list[EventEnvelope]:
    """Every recorded event of these calls, and of the calls linked to them by moved legs or by a leg whose
    history began in another call (its move not recorded: a rolled-back batch)."""
    call_ids = set(call_ids)
    events: list[EventEnvelope] = []
    todo = set(call_ids)
    while todo:  # one query, plus one per step along moved legs (attended transfers)
        # plain rows, not ORM objects: hydrating Event instances was most of the projection's cost
        rows = session.execute(select(*_EVENT_COLUMNS).where(Event.call_id.in_(sorted(todo))))
        found = [_envelope(r) for r in rows]
        events.extend(found)
        linked = {str(e.data[k]) for e in found if e.type in LINKS for k in LINKS[e.type] if e.data.get(k)}
        created = {e.leg_id for e in events if e.type == "leg.created"}
        strays = sorted({e.leg_id for e in found if e.leg_id is not None and e.leg_id not in created})
        if strays:  # rare: a leg's events began elsewhere, and rebuild_calls follows the leg, not the call
            rows = session.execute(select(Event.call_id).where(Event.leg_id.in_(strays)).distinct())
            linked |= {c for (c,) in rows if c is not None}
        todo = linked - call_ids
        call_ids |= todo
    return events


def _envelope(row: Any) -> EventEnvelope:
    return EventEnvelope(**{**row._mapping, "data": dict(row.data or {})})


def spans_calls(events: Iterable[EventEnvelope]) -> bool:
    """Whether these events link calls: a moved leg, or a leg with events in more than one call."""
    calls_of_leg: dict[str, str] = {}
    for e in events:
        if e.type in LINKS:
            return True
        if e.leg_id is not None and e.call_id is not None:
            if calls_of_leg.setdefault(e.leg_id, e.call_id) != e.call_id:
                return True
    return False


def apply_events(session: Session, envelopes: Sequence[EventEnvelope]) -> int:
    """Bring the calls these events belong to up to date, in `session`'s transaction (which must see
    the events), from all of their recorded events. Returns how many calls were recomputed."""
    call_ids = {e.call_id for e in envelopes if e.call_id is not None}
    if not call_ids:
        return 0
    state = Projection()
    for env in sorted(load_history(session, call_ids), key=lambda e: e.id):
        state.apply(env)
    calls, legs = state.rows()
    store_rows(session, calls, legs, state.orphans())
    return len(calls)


_PRESENT_IDS = _present_ids()
_EVENT_COLUMNS = tuple(getattr(Event, name) for name in EventEnvelope.__dataclass_fields__)
LINKS = {"leg.moved": ("from_call_id",), "leg.left": ("to_call_id",)}


def rebuild_calls(sessions: sessionmaker[Session], *, batch: int = 5000) -> int:
    """Recompute every call and leg from the event table in one transaction; rows that no event
    explains are deleted. Recordings keep their rows (their call rows are updated, not re-created)."""
    with sessions() as session, session.begin():
        events: list[EventEnvelope] = []
        last = 0
        while True:
            page = list(
                session.scalars(
                    select(Event)
                    .where(Event.id > last, Event.call_id.is_not(None))
                    .order_by(Event.id)
                    .limit(batch)
                )
            )
            events.extend(envelope_of(r) for r in page)
            if len(page) < batch:
                break
            last = page[-1].id
        calls, legs = project(events)
        session.execute(
            delete(CallLeg).where(CallLeg.id.not_in(list(legs)) if legs else CallLeg.id.is_not(None))
        )
        session.execute(delete(Call).where(Call.id.not_in(list(calls)) if calls else Call.id.is_not(None)))
        store_rows(session, calls, legs)
        return len(calls)
