"""Appending to the event record.

Two ways in:
- `append(session, ...)` inside the caller's transaction: the state change and its event commit together.
- `emit(...)` in a transaction of its own, for code with no other write (the telephony engine).
Either way an event is published on the bus only after its commit returned, so nothing is announced that
a crash could take back. Sequence numbers are per node and monotonic; a rolled-back transaction leaves a
gap, which consumers must tolerate.

An event is given as a typed payload (`record.emit(CallAnswered(), call_id=...)`) or as its type's name
and a `data` dict (`record.emit("call.answered", call_id=..., data={})`); either way its payload is checked
against the catalogue (`duplex.events.types`) before anything is written, and `data` is recorded as the
payload's JSON.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models import Event
from duplex.events.bus import EventBus, InProcessBus
from duplex.events.storable import storable
from duplex.events.types import EventEnvelope, EventPayload, payload_of

_PENDING = "duplex.pending_events"
_UNPROJECTED = "duplex.unprojected_events"
# what `append` takes besides the type
_EVENTS: Table = Event.__table__  # type: ignore[assignment]
# a Core insert (not the ORM entity's bulk path): one multi-row INSERT .. RETURNING per batch. The ids are
# matched by seq: asking for them in parameter order makes SQLAlchemy insert SQLite rows one at a time.
_INSERT = insert(_EVENTS).returning(_EVENTS.c.id, _EVENTS.c.seq)
_FIELDS = frozenset({"call_id", "leg_id", "agent_id", "queue_id", "campaign_id", "lead_id", "data"})

# A projector brings derived rows (CDRs, ...) up to date with events, inside the transaction that records
# them, so a projection is never behind or ahead of the record it is derived from.
Projector = Callable[[Session, Sequence[EventEnvelope]], object]
# An event as emitters give it: a typed payload, or its type's name (the payload is then `data`)
EventOrType = EventPayload | str


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class EventRecord:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        node_id: str = "node1",
        bus: EventBus | None = None,
        clock_ms: Callable[[], int] = now_ms,
        projectors: Sequence[Projector],
    ) -> None:
        """`projectors` are applied to every transaction's events before it commits: the composition root
        passes the CDR projection (`duplex.reports.live.LiveProjection`), which builds on events; `()` records
        events without derived rows."""
        self.projectors = tuple(projectors)
        self.sessions = sessions
        self.node_id = node_id
        self.bus: EventBus = bus if bus is not None else InProcessBus()
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        with sessions() as session:
            last = session.scalar(select(func.max(Event.seq)).where(Event.node_id == node_id)) or 0
        self._seq = itertools.count(last + 1)
        self._last_ts = 0

    def _next(self) -> tuple[int, int]:
        # Timestamps never go backwards within a node, even if the wall clock is stepped back.
        with self._lock:
            ts = max(self._clock_ms(), self._last_ts)
            self._last_ts = ts
            return next(self._seq), ts

    def append(
        self,
        session: Session,
        event: EventOrType,
        *,
        call_id: str | None = None,
        leg_id: str | None = None,
        agent_id: int | None = None,
        queue_id: int | None = None,
        campaign_id: int | None = None,
        lead_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> EventEnvelope:
        """Add an event (a typed payload, or a type name with `data`) to `session`'s transaction; it is
        published after that transaction commits."""
        fields = {"call_id": call_id, "leg_id": leg_id, "agent_id": agent_id, "queue_id": queue_id,
                  "campaign_id": campaign_id, "lead_id": lead_id, "data": data}  # fmt: skip
        return self.append_many(session, [(event, fields)])[0]

    def append_many(
        self, session: Session, events: Sequence[tuple[EventOrType, Mapping[str, Any]]]
    ) -> list[EventEnvelope]:
        """Add events (event, fields as for `append`) to `session`'s transaction with one multi-row INSERT.

        Raises before anything is written if a type is unknown (`UnknownEventType`) or a payload does not
        match its type (`InvalidEventPayload`); the insert itself fails now, not at commit, on a bad row.
        They are projected before and published after that transaction commits, in order."""
        checked = [_checked(event, fields) for event, fields in events]
        rows = [self._row(type, fields) for type, fields in checked]
        if not rows:
            return []
        ids = {seq: id for id, seq in session.execute(_INSERT, rows)}  # (node_id, seq) is unique
        envelopes = [EventEnvelope(id=ids[row["seq"]], **{**row, "data": dict(row["data"])}) for row in rows]
        pending: list[tuple[EventRecord, EventEnvelope]] = session.info.setdefault(_PENDING, [])
        unprojected: list[tuple[EventRecord, EventEnvelope]] = session.info.setdefault(_UNPROJECTED, [])
        for envelope in envelopes:
            pending.append((self, envelope))
            unprojected.append((self, envelope))
        return envelopes

    def _row(self, type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        seq, ts = self._next()
        row = dict.fromkeys(_FIELDS) | dict(fields)
        row |= {
            "node_id": self.node_id,
            "seq": seq,
            "type": type,
            "ts_ms": ts,
            "data": storable(row["data"] or {}),
        }
        return row

    def project(self, session: Session, envelopes: Sequence[EventEnvelope]) -> None:
        for projector in self.projectors:
            projector(session, envelopes)

    def emit(self, event: EventOrType, **fields: Any) -> EventEnvelope:
        """Record one event in its own transaction; returns once it is durable (and then publishes it)."""
        with self.sessions() as session, session.begin():
            return self.append(session, event, **fields)


def _checked(event: EventOrType, fields: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The event's type and its fields with `data` replaced by the checked payload's JSON."""
    if not _FIELDS.issuperset(fields):
        raise TypeError(f"append() got unexpected fields {sorted(fields.keys() - _FIELDS)}")
    if isinstance(event, EventPayload):
        if fields.get("data") is not None:
            raise TypeError(f"{event.event_type}: give a typed payload or data, not both")
        return event.event_type, {**fields, "data": event.to_data()}
    return event, {**fields, "data": payload_of(event, fields.get("data")).to_data()}


def envelope_of(row: Event) -> EventEnvelope:
    return EventEnvelope(
        id=row.id,
        node_id=row.node_id,
        seq=row.seq,
        type=row.type,
        ts_ms=row.ts_ms,
        call_id=row.call_id,
        leg_id=row.leg_id,
        agent_id=row.agent_id,
        queue_id=row.queue_id,
        campaign_id=row.campaign_id,
        lead_id=row.lead_id,
        data=dict(row.data or {}),
    )


@event.listens_for(Session, "before_commit")
def _project_before_commit(session: Session) -> None:
    # Once per transaction, with every event it recorded: a failing projector fails the commit, so the
    # events and their derived rows are written together or not at all.
    by_record: dict[int, tuple[EventRecord, list[EventEnvelope]]] = {}
    for record, envelope in session.info.pop(_UNPROJECTED, []):
        by_record.setdefault(id(record), (record, []))[1].append(envelope)
    for record, envelopes in by_record.values():
        record.project(session, envelopes)
    session.flush()


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    for record, envelope in session.info.pop(_PENDING, []):
        record.bus.publish_nowait(envelope)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_UNPROJECTED, None)
