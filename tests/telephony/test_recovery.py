"""Crash recovery at start-up: the calls and legs this node left open (it was killed) are closed with reason
`node_restart` through events, so the CDR rows close, a rebuild gives the same rows, and the in-progress
gauge reads 0; another node's live calls are left alone. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duplex.api.metrics import DatabaseGauges
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Call, CallLeg
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection
from duplex.reports.projections import rebuild_calls
from duplex.services.node import build_switch
from duplex.stores.call_store import TelephonyStore


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    db = make_engine(settings.effective_database_url)
    yield make_session_factory(db)
    db.dispose()


def start_call(record: EventRecord, call_id: str, *, answered: bool, ended: bool = False) -> None:
    """What the engine records for an inbound call with one caller leg."""
    leg = f"{call_id}-leg"
    record.emit(
        "call.created",
        call_id=call_id,
        data={
            "direction": "inbound",
            "from": "100",
            "to": "1001",
            "tracking_source": None,
            "phone_number_id": None,
        },
    )
    record.emit(
        "leg.created",
        call_id=call_id,
        leg_id=leg,
        data={
            "kind": "caller",
            "sip_call_id": call_id,
            "remote_uri": "sip:100@127.0.0.1",
            "direction": "inbound",
            "trunk_id": None,
        },
    )
    if answered:
        record.emit("leg.answered", call_id=call_id, leg_id=leg, data={"codec": "PCMU"})
        record.emit("call.answered", call_id=call_id, leg_id=leg, data={})
    if ended:
        record.emit(
            "leg.ended",
            call_id=call_id,
            leg_id=leg,
            data={"reason": "remote_bye", "hangup_by": "remote", "sip_status": None},
        )
        record.emit(
            "call.ended",
            call_id=call_id,
            leg_id=leg,
            data={
                "reason": "caller_hangup",
                "answered": answered,
                "hangup_by": "remote",
                "leg_kind": "caller",
                "sip_status": None,
            },
        )


def rows(sessions: sessionmaker[Session]) -> dict[str, tuple[object, ...]]:
    with sessions() as session:
        calls = {c.id: (c.state, c.end_reason, c.ended_at is not None) for c in session.scalars(select(Call))}
        legs = {g.id: (g.end_reason, g.ended_at is not None) for g in session.scalars(select(CallLeg))}
    return calls | legs


def in_progress(sessions: sessionmaker[Session]) -> float:
    class State:
        pass

    state = State()
    state.sessions = sessions  # type: ignore[attr-defined]
    families = {f.name: f for f in DatabaseGauges(state).collect()}
    return sum(s.value for s in families["duplex_calls_in_progress"].samples)


async def test_start_closes_what_this_node_left_open_and_only_that(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    previous_run = EventRecord(
        sessions, node_id="n1", projectors=[LiveProjection()]
    )  # the run that was killed
    start_call(previous_run, "up", answered=True)
    start_call(previous_run, "ringing", answered=False)
    start_call(previous_run, "done", answered=True, ended=True)
    other_node = EventRecord(sessions, node_id="n2", projectors=[LiveProjection()])
    start_call(other_node, "elsewhere", answered=True)
    assert in_progress(sessions) == 3

    store = TelephonyStore(sessions, EventRecord(sessions, node_id="n1", projectors=[LiveProjection()]))
    engine = build_switch(
        settings.model_copy(update={"sip_host": "127.0.0.1", "public_ip": "127.0.0.1"}), store
    )
    await engine.start()
    try:
        after = rows(sessions)
    finally:
        await engine.stop()
        store.close()
    assert after["up"] == ("ended", "node_restart", True)
    assert after["up-leg"] == ("node_restart", True)
    assert after["ringing"] == ("ended", "node_restart", True)
    assert after["ringing-leg"] == ("node_restart", True)
    assert after["done"] == ("ended", "caller_hangup", True)  # already ended: untouched
    assert after["elsewhere"] == ("answered", None, False)  # another node's live call
    assert after["elsewhere-leg"] == (None, False)
    assert in_progress(sessions) == 1
    rebuild_calls(sessions)  # the closing is in the event record: a rebuild gives the same rows
    assert rows(sessions) == after
