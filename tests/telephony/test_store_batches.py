"""`TelephonyStore` group commit: events queued while the writer thread is busy are recorded in one
transaction, in the order they were emitted, and no other write is overtaken."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.db.models import Call, Event
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection
from duplex.stores.call_store import TelephonyStore


def created(from_: str) -> dict[str, object]:
    return {
        "direction": "inbound",
        "from": from_,
        "to": "1000",
        "tracking_source": None,
        "phone_number_id": None,
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TelephonyStore]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    db = make_engine(url)
    sessions = make_session_factory(db)
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="batch", projectors=[LiveProjection()]))
    yield store
    store.close()
    db.dispose()


def recorded(store: TelephonyStore) -> list[Event]:
    with store.sessions() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def hold_writer(store: TelephonyStore) -> threading.Event:
    """Keep the writer thread busy until the returned event is set (so later events pile up)."""
    gate = threading.Event()
    store._submit(gate.wait)
    return gate


async def test_events_queued_behind_a_busy_writer_are_one_transaction(store: TelephonyStore) -> None:
    gate = hold_writer(store)
    for n in range(50):
        data = {"status": n} if n % 2 else created(str(n))  # the emit order, told by a field of each payload
        store.emit("call.ringing" if n % 2 else "call.created", call_id=f"c{n // 2}", data=data)
    gate.set()
    await store.flush()
    events = recorded(store)
    assert [e.data.get("status") or int(e.data["from"]) for e in events] == list(range(50))
    assert [e.seq for e in events] == list(range(1, 51))
    assert store.batches == 1 and store.errors == 0
    with store.sessions() as session:  # the CDR projection ran for every call of the batch
        rows = {c.id: c.state for c in session.scalars(select(Call))}
    assert rows == {f"c{n}": "ringing" for n in range(25)}


async def test_other_writes_are_not_overtaken_by_later_events(store: TelephonyStore) -> None:
    """emit A, then a directory load, then emit B: B is written in a later transaction than the load, even
    though A's batch was still open when B was emitted."""
    order: list[str] = []
    gate = hold_writer(store)
    store.emit("call.created", call_id="a", data=created("a"))
    store._submit(lambda: order.append(f"job after {len(recorded(store))} events"))
    store.emit("call.created", call_id="b", data=created("b"))
    gate.set()
    await store.flush()
    assert order == ["job after 1 events"]
    assert [e.call_id for e in recorded(store)] == ["a", "b"] and store.batches == 2


async def test_a_bad_event_does_not_take_its_batch_with_it(store: TelephonyStore) -> None:
    gate = hold_writer(store)
    store.emit("call.created", call_id="x", data=created("x"))
    store.emit("no.such.type", call_id="x", data={})
    ended = {"reason": "done", "answered": False, "hangup_by": None, "leg_kind": None, "sip_status": None}
    store.emit("call.ended", call_id="x", data=ended)
    gate.set()
    await store.flush()
    assert [e.type for e in recorded(store)] == ["call.created", "call.ended"]
    assert store.errors == 1
