"""A group commit of the telephony writer on both databases: one multi-row INSERT keeps the emit order and
the per-node sequence, the CDR rows follow in the same transaction, events are published only after the
commit, and a failing batch is recorded event by event."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Call, CallLeg, Event
from duplex.events import InvalidEventPayload, UnknownEventType
from duplex.events.bus import InProcessBus
from duplex.events.record import EventRecord
from duplex.events.types import CallCreated, CallEnded
from duplex.reports import LiveProjection
from duplex.stores.call_store import TelephonyStore


def created(from_: str, to: str) -> dict[str, object]:
    """A call.created payload in the engine's name + dict form."""
    return {"direction": "inbound", "from": from_, "to": to, "tracking_source": None, "phone_number_id": None}


CREATED = CallCreated(
    direction="inbound", from_="+40700", to="1000", tracking_source=None, phone_number_id=None
)


@pytest.fixture
def store(db_url: str) -> Iterator[TelephonyStore]:
    db = make_engine(db_url)
    sessions = make_session_factory(db)
    record = EventRecord(sessions, node_id="batch", bus=InProcessBus(), projectors=[LiveProjection()])
    store = TelephonyStore(sessions, record)
    yield store
    store.close()
    db.dispose()


def recorded(store: TelephonyStore) -> list[Event]:
    with store.sessions() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def hold_writer(store: TelephonyStore) -> threading.Event:
    gate = threading.Event()
    store._submit(gate.wait)
    return gate


async def test_a_batch_is_one_insert_in_emit_order_and_published_after_commit(store: TelephonyStore) -> None:
    queue = store.record.bus.subscribe()
    gate = hold_writer(store)
    for n in range(30):
        call = f"c{n % 3}"
        if n < 3:  # the name + dict form, and the order told by a field of each payload
            store.emit("call.created", call_id=call, data=created(str(n), f"+40{n}"))
        else:
            data = {
                "kind": "agent",
                "remote_uri": str(n),
                "direction": "outbound",
                "trunk_id": None,
                "sip_call_id": "",
            }
            store.emit("leg.created", call_id=call, leg_id=f"l{n}", data=data)
    await asyncio.sleep(0.05)
    assert queue.empty()  # nothing written yet, so nothing announced
    gate.set()
    await store.flush()
    events = recorded(store)
    assert [int(e.data.get("from") or e.data["remote_uri"]) for e in events] == list(range(30))
    assert [e.seq for e in events] == list(range(1, 31)) and store.batches == 1
    published = [await asyncio.wait_for(queue.get(), 1) for _ in range(30)]
    assert [(p.id, p.seq, p.type, p.leg_id, p.data) for p in published] == [
        (e.id, e.seq, e.type, e.leg_id, e.data) for e in events
    ]
    with store.sessions() as session:
        calls = {c.id: c.to_number for c in session.scalars(select(Call))}
        legs = {g.id: g.call_id for g in session.scalars(select(CallLeg))}
    assert calls == {"c0": "+400", "c1": "+401", "c2": "+402"}
    assert legs == {f"l{n}": f"c{n % 3}" for n in range(3, 30)}


async def test_a_failing_batch_is_recorded_one_by_one(store: TelephonyStore) -> None:
    gate = hold_writer(store)
    store.emit(CREATED, call_id="x")  # type: ignore[arg-type]  # the typed form through the store
    store.emit("call.outcome", call_id="x", data={"outcome": "human", "amd_ms": object()})  # refused
    store.emit(
        CallEnded(reason="done", answered=False, hangup_by=None, leg_kind=None, sip_status=None), call_id="x"
    )  # type: ignore[arg-type]
    gate.set()
    await store.flush()
    assert [e.type for e in recorded(store)] == ["call.created", "call.ended"]
    assert store.batches == 1 and store.errors == 1
    with store.sessions() as session:
        call = session.get(Call, "x")
        assert call is not None and (call.state, call.outcome) == ("ended", None)


def test_append_many_refuses_an_unknown_type_before_writing(store: TelephonyStore) -> None:
    record = store.record
    with pytest.raises(UnknownEventType), record.sessions() as s, s.begin():
        record.append_many(s, [(CREATED, {"call_id": "a"}), ("call.exploded", {"call_id": "a"})])
    with pytest.raises(InvalidEventPayload), record.sessions() as s, s.begin():
        record.append_many(s, [(CREATED, {"call_id": "a"}), ("call.ended", {"call_id": "a", "data": {}})])
    assert recorded(store) == []
    assert record.emit(CREATED, call_id="a").seq == 1  # no number was used up
