"""`TelephonyStore.committed()` and backpressure: a caller can wait until its events are committed (sharing
the batch's commit), a batch the database refuses for a while (locked) is retried until it commits, in
order, and meanwhile `accepting` is False; it is True again once the database takes writes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.db.models import Event
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection
from duplex.stores.call_store import TelephonyStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def store(db_path: Path) -> Iterator[TelephonyStore]:
    db = make_engine(f"sqlite:///{db_path}")

    def short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:  # runs after the engine's own pragmas
        dbapi_conn.execute("PRAGMA busy_timeout=100")  # a locked database fails fast, so retries show

    event.listen(db, "connect", short_busy_timeout)
    sessions = make_session_factory(db)
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="wait", projectors=[LiveProjection()]), max_commit_delay=0.3,
                           retry_delays=(0.05,))  # fmt: skip
    yield store
    store.close()
    db.dispose()


def recorded(store: TelephonyStore) -> list[str]:
    with store.sessions() as session:
        return [f"{e.type}:{e.call_id}" for e in session.scalars(select(Event).order_by(Event.id))]


def created(caller: str) -> dict[str, object]:
    """A complete call.created payload (the record checks it against its type)."""
    return {
        "direction": "inbound",
        "from": caller,
        "to": "1000",
        "tracking_source": None,
        "phone_number_id": None,
    }


async def test_committed_returns_once_the_events_so_far_are_in_the_table(store: TelephonyStore) -> None:
    assert await store.committed()  # nothing pending
    store.emit("call.created", call_id="c1", data=created("100"))
    store.emit("call.answered", call_id="c1", data={})
    assert await store.committed()
    assert recorded(store) == ["call.created:c1", "call.answered:c1"]


async def test_a_locked_database_is_retried_refuses_new_calls_and_recovers(
    store: TelephonyStore, db_path: Path
) -> None:
    lock = sqlite3.connect(db_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        store.emit("call.created", call_id="c1", data=created("100"))
        waiter = asyncio.ensure_future(store.committed())
        await asyncio.sleep(0.6)
        assert not waiter.done()  # nothing is acknowledged before it is recorded
        assert not store.accepting  # new calls are refused meanwhile
        assert store.retries >= 2
        store.emit("call.answered", call_id="c1", data={})  # queued behind, in order
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert await asyncio.wait_for(waiter, 5)
    assert await asyncio.wait_for(store.committed(), 5)
    assert store.accepting
    assert recorded(store) == ["call.created:c1", "call.answered:c1"]
    assert store.errors == 0


async def test_a_backlog_over_the_bound_refuses_new_calls(store: TelephonyStore) -> None:
    store.max_backlog = 10
    gate = threading.Event()
    store._submit(gate.wait)  # the writer is busy: events pile up
    for n in range(10):
        store.emit("call.created", call_id=f"c{n}", data=created("100"))
    assert store.accepting
    store.emit("call.created", call_id="c10", data=created("100"))
    assert not store.accepting
    gate.set()
    assert await store.committed()
    assert store.accepting
    assert len(recorded(store)) == 11


async def test_committed_is_false_when_an_event_cannot_be_recorded(store: TelephonyStore) -> None:
    store.emit("no.such.type", call_id="x", data={"n": 1})
    assert not await store.committed()  # the caller must not acknowledge it (the answer becomes a 503)
    store.emit("call.created", call_id="y", data=created("100"))
    assert await store.committed()
    assert recorded(store) == ["call.created:y"]
