"""Agents lent to the dialer (blending): reserved like an offer, so no inbound call reaches them; on the call,
wrap-up of the campaign's queue, available; released back to inbound at once; the service-level window."""

from __future__ import annotations

import pytest
from acd_helpers import agent, center, offers, run_until

from duplex.acd import (
    AgentState,
    AgentStateChanged,
    IllegalTransition,
    LeftReason,
    QueueConfig,
    QueueLeft,
    ServiceLevelWindow,
)


def _changes(events: list[object]) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.old, e.new, e.call_id, e.queue_id) for e in events if isinstance(e, AgentStateChanged)]


def test_lent_agent_goes_reserved_on_call_wrap_up_available() -> None:
    queues = [QueueConfig(queue_id="in"), QueueConfig(queue_id="campaign", wrap_up_seconds=7)]
    acd = center(queues, [agent("a", "in", "campaign")])
    assert acd.free_since("a") == 0.0
    acd.reserve_outbound("a", "out-1", 5, queue_id="campaign")
    assert acd.free_since("a") is None and acd.lent_call("a") == "out-1" and acd.free_agents("in") == 0
    acd.connect_outbound("a", 6)
    acd.call_ended("a", 66)
    run_until(acd, 72.9)
    assert acd.agent_state("a") is AgentState.WRAP_UP  # the campaign queue's 7 s
    run_until(acd, 73)
    assert _changes(acd.events()) == [
        ("available", "reserved", "out-1", "campaign"),
        ("reserved", "on_call", "out-1", "campaign"),
        ("on_call", "wrap_up", "out-1", "campaign"),
        ("wrap_up", "available", None, "campaign"),
    ]
    assert acd.free_since("a") == 73


def test_an_inbound_call_waits_while_the_agent_is_lent_and_gets_them_on_release() -> None:
    acd = center([QueueConfig(queue_id="in")], [agent("a", "in")])
    acd.reserve_outbound("a", "out-1", 1)
    acd.enqueue("c1", "in", 2)
    assert offers(acd.events()) == [] and acd.position("c1") == 1
    assert acd.release_outbound("a", 3) is True
    events = acd.events()
    assert _changes(events)[0] == ("reserved", "available", "out-1", None)
    assert offers(events) == [("c1", "a")]
    assert acd.release_outbound("a", 4) is False  # reserved for c1 now, by the ACD: not the dialer's


def test_lent_agent_on_a_campaign_call_is_not_offered_inbound_until_wrap_up_ends() -> None:
    acd = center([QueueConfig(queue_id="in")], [agent("a", "in")], default_wrap_up_seconds=10)
    acd.reserve_outbound("a", "out-1", 1)
    acd.connect_outbound("a", 2)
    acd.enqueue("c1", "in", 3)
    acd.call_ended("a", 30)
    run_until(acd, 39.9)
    assert offers(acd.events()) == []
    run_until(acd, 40)  # the default wrap-up (no campaign queue)
    assert offers(acd.events()) == [("c1", "a")]


@pytest.mark.parametrize("state", ["aux", "reserved", "on_call", "wrap_up", "not_free_after_reject"])
def test_only_a_free_agent_can_be_lent(state: str) -> None:
    acd = center([QueueConfig(queue_id="in")], [agent("a", "in")], reject_delay_seconds=10)
    if state == "aux":
        acd.aux("a", "lunch", 1)
    elif state == "not_free_after_reject":
        acd.enqueue("c1", "in", 1)
        acd.reject("a", 2)
        acd.abandon("c1", 3)
    else:
        acd.enqueue("c1", "in", 1)
        if state != "reserved":
            acd.accept("a", 2)
        if state == "wrap_up":
            acd.call_ended("a", 3)
    acd.events()
    before = acd.agent_state("a")
    with pytest.raises(IllegalTransition):
        acd.reserve_outbound("a", "out-1", 4)
    assert acd.agent_state("a") is before and acd.events() == [] and acd.lent_call("a") is None


def test_logout_while_lent_leaves_no_queue_entry_and_the_release_finds_the_agent_gone() -> None:
    acd = center([QueueConfig(queue_id="in")], [agent("a", "in")])
    acd.reserve_outbound("a", "out-1", 1)
    acd.logout("a", 2)
    assert acd.agent_state("a") is AgentState.LOGGED_OUT and acd.lent_call("a") is None
    assert acd.release_outbound("a", 3) is False
    with pytest.raises(IllegalTransition):
        acd.connect_outbound("a", 3)


def _left(at: float, waited: float, reason: LeftReason, queue: str = "q") -> QueueLeft:
    return QueueLeft(at=at, call_id=f"c{at}", queue_id=queue, agent_id=None, reason=reason, waited=waited)


def test_service_level_window_counts_answers_in_time_over_the_window() -> None:
    window = ServiceLevelWindow(target_seconds=20, window_seconds=100)
    assert window.level(["q"], 0) is None
    window.observe(_left(10, 5, LeftReason.ANSWERED))
    window.observe(_left(20, 25, LeftReason.ANSWERED))  # late
    window.observe(_left(30, 3, LeftReason.ABANDONED))  # gave up within the target: not counted
    window.observe(_left(40, 30, LeftReason.ABANDONED))  # waited past the target: missed
    window.observe(_left(50, 60, LeftReason.TIMEOUT))
    window.observe(_left(60, 1, LeftReason.ANSWERED, queue="other"))
    assert window.level(["q"], 60) == pytest.approx(1 / 4)
    assert window.level(["q", "other"], 60) == pytest.approx(2 / 5)
    assert window.level(["q"], 115) == pytest.approx(0 / 3)  # the answer at 10 left the window
    assert window.level(["q"], 200) is None
