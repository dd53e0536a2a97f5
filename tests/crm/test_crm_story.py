"""A call's story for the screen pop, from its events: IVR path and inputs, keys, queue waits, notes."""

from __future__ import annotations

import itertools
from typing import Any

from duplex.crm import call_story
from duplex.events.types import EventEnvelope

_ids = itertools.count(1)


def ev(
    ts: int, type_: str, *, queue: int | None = None, agent: int | None = None, **data: Any
) -> EventEnvelope:
    n = next(_ids)
    return EventEnvelope(id=n, node_id="n", seq=n, type=type_, ts_ms=ts, call_id="c", queue_id=queue,
                         agent_id=agent, data=data)  # fmt: skip


def ivr_call() -> list[EventEnvelope]:
    """A caller goes through a menu (presses 2), types an account number, waits 45 s and is answered."""
    return [
        ev(
            0,
            "call.created",
            direction="inbound",
            **{"from": "+40721000001"},
            to="+40215550100",
            tracking_source="google-ads",
            phone_number_id=1,
        ),
        ev(100, "ivr.entered", flow_id=7, version=2),
        ev(100, "ivr.node_entered", flow_id=7, node="start", node_type="answer"),
        ev(150, "ivr.node_entered", flow_id=7, node="menu", node_type="menu"),
        ev(4000, "dtmf.received", digit="2", source="rfc4733"),
        ev(4000, "ivr.node_entered", flow_id=7, node="account", node_type="input"),
        ev(6000, "dtmf.received", digit="4", source="rfc4733"),
        ev(6500, "dtmf.received", digit="2", source="rfc4733"),
        ev(7000, "ivr.variable_set", flow_id=7, node="account", variable="account", value="42"),
        ev(7000, "ivr.node_entered", flow_id=7, node="crm", node_type="lookup"),
        ev(7200, "ivr.variable_set", flow_id=7, node="crm", variable="tier", value="gold"),
        ev(7200, "ivr.node_entered", flow_id=7, node="support", node_type="queue"),
        ev(7300, "queue.entered", queue=3, priority=0, position=1),
        ev(50_000, "agent.offered", queue=3, agent=5, strategy="longest_idle"),
        ev(52_300, "agent.accepted", queue=3, agent=5, ring_ms=2300),
        ev(52_300, "queue.left", queue=3, reason="answered", waited_ms=45000),
        ev(52_400, "call.bridged", agent=5, legs=["a", "b"]),
        ev(60_000, "dtmf.received", digit="9", source="info"),  # the agent's keypad, not IVR input
        ev(61_000, "call.note_added", agent=5, text="wants a refund", by_user_id=12),
    ]


def test_the_path_inputs_and_keys_of_an_ivr_call() -> None:
    story = call_story(ivr_call(), now_ms=70_000)
    assert [(s.node, s.node_type) for s in story.ivr_path] == [
        ("start", "answer"), ("menu", "menu"), ("account", "input"), ("crm", "lookup"), ("support", "queue")]  # fmt: skip
    assert [(i.variable, i.value, i.node_type) for i in story.ivr_inputs] == [
        ("account", "42", "input"), ("tier", "gold", "lookup")]  # fmt: skip
    assert [(k.digit, k.node) for k in story.key_presses] == [
        ("2", "menu"),
        ("4", "account"),
        ("2", "account"),
    ]
    assert story.ivr_exit is None
    assert [(n.text, n.agent_id, n.by_user_id) for n in story.notes] == [("wants a refund", 5, 12)]
    assert story.offered_agents == {5}


def test_time_waited_runs_from_queue_entered_to_agent_accepted() -> None:
    story = call_story(ivr_call(), now_ms=70_000)
    (wait,) = story.queue_waits
    assert (wait.queue_id, wait.outcome, wait.agent_id, wait.waited_ms) == (3, "answered", 5, 45_000)
    assert story.waited_ms == 45_000


def test_a_call_still_waiting_counts_up_to_now_and_an_abandoned_one_to_its_end() -> None:
    waiting = [ev(1000, "queue.entered", queue=1)]
    (still,) = call_story(waiting, now_ms=31_000).queue_waits
    assert (still.outcome, still.ended_ms, still.waited_ms) == (None, None, 30_000)
    gone = [*waiting, ev(9000, "call.ended", reason="caller_hangup", answered=True, hangup_by="remote",
                         leg_kind="caller", sip_status=None)]  # fmt: skip
    (abandoned,) = call_story(gone, now_ms=31_000).queue_waits
    assert (abandoned.outcome, abandoned.waited_ms) == ("abandoned", 8000)


def test_an_overflow_then_a_second_queue_are_two_stays() -> None:
    events = [
        ev(0, "queue.entered", queue=1),
        ev(20_000, "queue.left", queue=1, reason="overflow", to_queue_id=2),
        ev(20_000, "queue.entered", queue=2),
        ev(25_000, "agent.accepted", queue=2, agent=4),
        ev(25_000, "queue.left", queue=2, reason="answered"),
    ]
    story = call_story(events, now_ms=30_000)
    assert [(w.queue_id, w.outcome, w.waited_ms) for w in story.queue_waits] == [
        (1, "overflow", 20_000), (2, "answered", 5_000)]  # fmt: skip
    assert story.waited_ms == 25_000


def test_a_call_without_ivr_or_queue_has_an_empty_story() -> None:
    story = call_story([ev(0, "call.answered")], now_ms=1)
    assert story.ivr_path == () and story.queue_waits == () and story.waited_ms == 0 and story.notes == ()
