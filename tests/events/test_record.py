"""The event record: durable before published, per-node monotonic sequence, rollback publishes nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Event, Skill
from duplex.events import UnknownEventType
from duplex.events.bus import InProcessBus
from duplex.events.record import EventRecord
from duplex.events.types import AgentStateChanged, CallAnswered, CallCreated, ConfigChanged, NodeStarted
from duplex.reports import LiveProjection


def created(direction: str, from_: str, to: str) -> dict[str, object]:
    """A call.created payload in the engine's name + dict form."""
    return {"direction": direction, "from": from_, "to": to, "tracking_source": None, "phone_number_id": None}


@pytest.fixture
def record(db_url: str) -> EventRecord:
    engine = make_engine(db_url)
    return EventRecord(
        make_session_factory(engine), node_id="n1", bus=InProcessBus(), projectors=[LiveProjection()]
    )


def test_emit_is_in_the_table_when_it_returns(record: EventRecord) -> None:
    env = record.emit(
        CallCreated(
            direction="inbound", from_="+40712345678", to="1000", tracking_source=None, phone_number_id=None
        ),
        call_id="c-1",
    )
    with record.sessions() as s:
        row = s.get(Event, env.id)
    assert row is not None
    assert (row.type, row.call_id, row.data["from"]) == ("call.created", "c-1", "+40712345678")
    assert row.data == env.data


def test_sequence_is_monotonic_and_resumes_after_restart(record: EventRecord) -> None:
    available = AgentStateChanged(from_="offline", to="available", reason=None, by_user_id=None)
    seqs = [record.emit(available, agent_id=1).seq for _ in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    again = EventRecord(record.sessions, node_id="n1", projectors=())
    assert again.emit(available, agent_id=1).seq == seqs[-1] + 1
    other_node = EventRecord(record.sessions, node_id="n2", projectors=())
    assert other_node.emit(available, agent_id=1).seq == 1


def test_timestamps_never_go_backwards(db_url: str) -> None:
    clock = iter([1000, 2000, 1500, 2500])
    rec = EventRecord(make_session_factory(make_engine(db_url)), clock_ms=lambda: next(clock), projectors=())
    assert [rec.emit(NodeStarted()).ts_ms for _ in range(4)] == [1000, 2000, 2000, 2500]


def test_unknown_type_is_refused(record: EventRecord) -> None:
    with pytest.raises(UnknownEventType):
        record.emit("call.exploded")


async def test_published_only_after_commit_and_not_on_rollback(record: EventRecord) -> None:
    queue = record.bus.subscribe()
    with pytest.raises(RuntimeError), record.sessions() as s, s.begin():
        record.append(s, ConfigChanged(entity="skill", id=1, action="create"))
        s.add(Skill(name="billing"))
        raise RuntimeError("request failed half-way")
    await asyncio.sleep(0)
    assert queue.empty()
    with record.sessions() as s:
        assert s.scalars(select(Event)).all() == []
        assert s.scalars(select(Skill)).all() == []

    with record.sessions() as s, s.begin():
        env = record.append(s, ConfigChanged(entity="skill", id=1, action="create"))
        assert queue.empty()  # not yet committed
    got = await asyncio.wait_for(queue.get(), 1)
    assert got == env


def test_call_rows_are_projected_in_the_same_transaction(record: EventRecord) -> None:
    from duplex.db.models import Call

    record.emit("call.created", call_id="c-9", data=created("outbound", "100", "+40712"))
    record.emit(CallAnswered(), call_id="c-9")
    with record.sessions() as s:
        call = s.get(Call, "c-9")
        assert call is not None
        assert (call.direction, call.state, call.to_number) == ("outbound", "answered", "+40712")
        assert call.answered_at is not None


def test_a_failing_projector_keeps_the_event_out(db_url: str) -> None:
    def broken(_session: object, _envelopes: object) -> None:
        raise RuntimeError("projection bug")

    rec = EventRecord(make_session_factory(make_engine(db_url)), projectors=[broken])
    with pytest.raises(RuntimeError, match="projection bug"):
        rec.emit("call.created", call_id="c-1", data=created("inbound", "100", "200"))
    with rec.sessions() as s:
        assert s.scalars(select(Event)).all() == []
