"""The CDR projection: calls and legs from events, idempotent, and rebuilt identically from the table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cdr_snapshot import cdr_snapshot
from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Call, CallLeg, Queue
from duplex.events.record import EventRecord
from duplex.events.types import (
    AgentAccepted,
    AgentOffered,
    AgentStateChanged,
    CallAnswered,
    CallBridged,
    CallCreated,
    CallEnded,
    CallOutcome,
    CallTransferred,
    CsatRecorded,
    EventEnvelope,
    LegAnswered,
    LegCreated,
    LegEnded,
    QueueEntered,
)
from duplex.reports import apply_events, rebuild_calls


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def scenario(record: EventRecord, queue_id: int) -> list[EventEnvelope]:
    ticks = iter(range(1_800_000_000_000, 1_800_000_100_000, 1000))
    record._clock_ms = lambda: next(ticks)  # one second per event
    e = record.emit
    return [
        e(CallCreated(direction="inbound", from_="+4071", to="+4021", tracking_source=None, phone_number_id=None), call_id="c1", queue_id=None),
        e(LegCreated(kind="caller", remote_uri="sip:+4071@x", direction="inbound", sip_call_id="abc@x", trunk_id=None),
          call_id="c1", leg_id="l1"),
        e(CallAnswered(), call_id="c1"),
        e(QueueEntered(), call_id="c1", queue_id=queue_id),
        e(AgentOffered(), call_id="c1", agent_id=999),
        e(AgentAccepted(), call_id="c1", agent_id=999),  # agent 999 does not exist: projected as NULL
        e(LegCreated(kind="agent", remote_uri="sip:2001@x", direction="outbound", trunk_id=None, sip_call_id=""), call_id="c1", leg_id="l2",
          agent_id=None),
        e(CallBridged(legs=("l1", "l2")), call_id="c1"),
        e(CallTransferred(target="support", kind="blind", method="REFER"), call_id="c1"),
        e(CallTransferred(target="2002", kind="attended", method="Replaces"), call_id="c1"),
        e("call.quality", call_id="c1", leg_id="l1", data=quality(packets_lost=3, jitter_ms=4.5, mos=4.2)),
        e(LegEnded(reason="agent_hangup", hangup_by="remote", sip_status=200), call_id="c1", leg_id="l2"),
        e(CallEnded(reason="agent_hangup", answered=True, hangup_by=None, leg_kind=None, sip_status=None), call_id="c1"),
        e(CsatRecorded(score=5), call_id="c1"),
        e(CallCreated(direction="outbound", from_="duplex", to="+4031", tracking_source=None, phone_number_id=None), call_id="c2"),
        e(CallOutcome(outcome="machine"), call_id="c2"),
        e(CallEnded(reason="machine", answered=True, hangup_by=None, leg_kind=None, sip_status=None), call_id="c2"),
        e(AgentStateChanged(from_="offline", to="available", reason=None, by_user_id=None), agent_id=1),  # not about a call
        e(LegAnswered(codec="PCMU"), call_id="c1", leg_id="l1"),
    ]  # fmt: skip


def quality(**measured: float) -> dict[str, Any]:
    """A call.quality payload as the engine sends it, with the `measured` fields."""
    fields = (
        "packets_expected",
        "packets_received",
        "packets_lost",
        "late",
        "packets_sent",
        "remote_reports",
    )
    data: dict[str, Any] = dict.fromkeys(fields, 0) | {"codec": "PCMU", "loss_ratio": 0.0, "jitter_ms": 0.0}
    remote = (
        "remote_fraction_lost",
        "remote_packets_lost",
        "remote_loss_ratio",
        "remote_jitter_ms",
        "rtt_ms",
    )
    return data | dict.fromkeys((*remote, "mos_received", "mos_sent", "mos")) | measured


def test_live_projection_rows(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        queue = Queue(name="support")
        s.add(queue)
        s.flush()
        queue_id = queue.id
    events = scenario(EventRecord(sessions, node_id="n1", projectors=()), queue_id)
    for env in events:  # as live consumers would: one event at a time
        with sessions() as s, s.begin():
            apply_events(s, [env])
    with sessions() as s:
        c1, c2 = s.get(Call, "c1"), s.get(Call, "c2")
        l1, l2 = s.get(CallLeg, "l1"), s.get(CallLeg, "l2")
    assert c1 is not None and c2 is not None and l1 is not None and l2 is not None
    t0 = dt.datetime.fromtimestamp(1_800_000_000, dt.UTC)

    def at(i: int) -> dt.datetime:
        return (t0 + dt.timedelta(seconds=i)).replace(tzinfo=None)

    def naive(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)

    assert (c1.direction, c1.state, c1.from_number, c1.to_number) == ("inbound", "ended", "+4071", "+4021")
    assert (c1.queue_id, c1.agent_id, c1.transfers, c1.csat, c1.end_reason) == (
        queue_id,
        None,
        2,
        5,
        "agent_hangup",
    )
    assert [naive(c1.started_at), naive(c1.answered_at), naive(c1.queued_at)] == [at(0), at(2), at(3)]
    assert [naive(c1.agent_answered_at), naive(c1.ended_at)] == [at(5), at(12)]
    assert (c2.direction, c2.outcome, c2.state, c2.to_number) == ("outbound", "machine", "ended", "+4031")
    assert (l1.kind, l1.sip_call_id, l1.codec, l1.packets_lost, l1.jitter_ms, l1.mos) == (
        "caller",
        "abc@x",
        "PCMU",
        3,
        4.5,
        4.2,
    )
    assert (l2.kind, l2.end_reason, l2.sip_status, naive(l2.ended_at)) == (
        "agent",
        "agent_hangup",
        200,
        at(11),
    )


def test_projection_is_idempotent_and_rebuild_is_identical(sessions: sessionmaker[Session]) -> None:
    events = scenario(EventRecord(sessions, node_id="n1", projectors=()), queue_id=12345)
    for env in events:
        with sessions() as s, s.begin():
            apply_events(s, [env])
    live = cdr_snapshot(sessions)
    with sessions() as s, s.begin():  # everything again, in reverse: same rows
        apply_events(s, events[::-1])
    assert cdr_snapshot(sessions) == live
    assert rebuild_calls(sessions) == 2
    assert cdr_snapshot(sessions) == live
    with sessions() as s, s.begin():  # damage the projection: rebuild repairs it and drops a stray call
        c1 = s.get(Call, "c1")
        assert c1 is not None
        c1.transfers, c1.state = 99, "ringing"
        s.delete(s.get(CallLeg, "l2"))
        s.add(Call(id="stray", direction="inbound"))
    assert rebuild_calls(sessions) == 2
    assert cdr_snapshot(sessions) == live
    assert sorted(live["calls"]) == ["c1", "c2"] and sorted(live["call_legs"]) == ["l1", "l2"]


def test_outbound_call_takes_the_trunk_of_the_answered_leg() -> None:
    from duplex.events.types import EventEnvelope
    from duplex.reports.projections import project

    def ev(i: int, type: str, leg: str | None = None, **data: object) -> EventEnvelope:
        return EventEnvelope(id=i, node_id="n", seq=i, type=type, ts_ms=1000 * i, call_id="c", leg_id=leg,
                             data=dict(data))  # fmt: skip

    calls, legs = project(
        [
            ev(1, "call.created", direction="outbound"),
            ev(2, "leg.created", "l1", kind="trunk", trunk_id=7),
            ev(3, "leg.ended", "l1", reason="failed", sip_status=503),
            ev(4, "leg.created", "l2", kind="trunk", trunk_id=8),
            ev(5, "leg.answered", "l2"),
        ]
    )
    assert calls["c"]["trunk_id"] == 8
    assert (legs["l1"]["trunk_id"], legs["l1"]["sip_status"], legs["l2"]["trunk_id"]) == (7, 503, 8)
