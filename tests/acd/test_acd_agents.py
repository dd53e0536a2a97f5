"""Agent states: the table, wrap-up, no-answer, reject, logout while reserved, hang-up during an offer, blending."""

from __future__ import annotations

import pytest
from acd_helpers import agent, center, lefts, offers, run_until

from duplex.acd import (
    AgentInput,
    AgentNoAnswer,
    AgentState,
    AgentStateChanged,
    AgentStateMachine,
    CancelReason,
    IllegalTransition,
    InboundFirstBlending,
    LeftReason,
    OfferCancelled,
    QueueConfig,
    RoutingStrategy,
)
from duplex.acd.agent_state import TRANSITIONS, mermaid_diagram


def test_every_missing_table_entry_raises_and_changes_nothing() -> None:
    for state, row in TRANSITIONS.items():
        for inp in AgentInput:
            machine = AgentStateMachine()
            machine.state = state
            if inp in row:
                assert machine.apply(inp, "lunch") is row[inp]
            else:
                with pytest.raises(IllegalTransition):
                    machine.apply(inp)
                assert machine.state is state


def test_aux_keeps_its_reason_code_and_the_diagram_has_every_edge() -> None:
    machine = AgentStateMachine()
    machine.apply(AgentInput.LOGIN)
    machine.apply(AgentInput.AUX, "training")
    assert (machine.state, machine.reason) == (AgentState.AUX, "training")
    machine.apply(AgentInput.READY)
    assert machine.reason == ""
    diagram = mermaid_diagram()
    assert diagram.count("-->") == 1 + sum(len(row) for row in TRANSITIONS.values())
    assert "reserved --> not_responding: no_answer" in diagram


def test_illegal_agent_inputs_raise_through_the_acd() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q")])
    with pytest.raises(IllegalTransition):
        acd.accept("a", 1)  # nothing offered
    with pytest.raises(IllegalTransition):
        acd.login("a", 1)
    acd.enqueue("c1", "q", 2)
    acd.accept("a", 3)
    with pytest.raises(IllegalTransition):
        acd.logout("a", 4)  # on a call
    assert acd.agent_state("a") is AgentState.ON_CALL


def test_wrap_up_lasts_the_queue_time_and_can_be_extended() -> None:
    queues = [QueueConfig(queue_id="q", wrap_up_seconds=30), QueueConfig(queue_id="fast", wrap_up_seconds=5)]
    acd = center(queues, [agent("a", "q", "fast")])
    acd.enqueue("c1", "q", 0)
    acd.accept("a", 1)
    acd.call_ended("a", 61)
    assert acd.agent_state("a") is AgentState.WRAP_UP
    acd.enqueue("c2", "fast", 62)
    acd.events()
    acd.extend_wrap_up("a", 15, 80)
    run_until(acd, 105.9)
    assert acd.agent_state("a") is AgentState.WRAP_UP and offers(acd.events()) == []
    run_until(acd, 106)
    assert offers(acd.events()) == [("c2", "a")]
    acd.accept("a", 107)
    acd.call_ended("a", 110)
    run_until(acd, 115)  # the fast queue's wrap-up
    assert acd.agent_state("a") is AgentState.AVAILABLE
    acd.enqueue("c3", "q", 116)
    acd.accept("a", 117)
    acd.call_ended("a", 118)
    acd.ready("a", 119)  # the agent ends wrap-up early
    assert acd.agent_state("a") is AgentState.AVAILABLE


def test_no_answer_puts_the_call_back_at_the_head_and_the_agent_not_responding() -> None:
    acd = center([QueueConfig(queue_id="q", offer_timeout_seconds=20)], [agent("a", "q"), agent("b", "q")])
    acd.aux("b", "break", 0)
    acd.enqueue("c1", "q", 1)
    acd.enqueue("c2", "q", 2)
    acd.enqueue("c3", "q", 3)
    assert offers(acd.events()) == [("c1", "a")]
    run_until(acd, 21)
    events = acd.events()
    assert [(e.call_id, e.agent_id) for e in events if isinstance(e, AgentNoAnswer)] == [("c1", "a")]
    assert acd.agent_state("a") is AgentState.NOT_RESPONDING
    assert [acd.position(c) for c in ("c1", "c2", "c3")] == [1, 2, 3]
    acd.ready("b", 22)
    assert offers(acd.events()) == [("c1", "b")]


def test_reject_requeues_at_the_head_and_holds_the_agent_back() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q"), agent("b", "q")], reject_delay_seconds=10)
    acd.aux("b", "break", 0)
    acd.enqueue("c1", "q", 1)
    acd.enqueue("c2", "q", 2)
    acd.reject("a", 3)
    assert acd.agent_state("a") is AgentState.AVAILABLE
    assert acd.position("c1") == 1 and offers(acd.events()) == [("c1", "a")]
    run_until(acd, 12.9)
    assert offers(acd.events()) == []
    run_until(acd, 13)
    assert offers(acd.events()) == [("c1", "a")]


def test_logout_while_reserved_returns_the_call_to_the_head() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q"), agent("b", "q")])
    acd.aux("b", "break", 0)
    acd.enqueue("c1", "q", 1)
    acd.enqueue("c2", "q", 2)
    acd.events()
    acd.logout("a", 3)
    events = acd.events()
    assert [(e.agent_id, e.reason) for e in events if isinstance(e, OfferCancelled)] == [
        ("a", CancelReason.AGENT_LOGGED_OUT)
    ]
    assert acd.agent_state("a") is AgentState.LOGGED_OUT and acd.offered_call("a") is None
    assert acd.position("c1") == 1
    acd.ready("b", 4)
    assert offers(acd.events()) == [("c1", "b")]
    assert acd.staffed_agents("q") == 1


def test_caller_hangs_up_during_an_offer_leaves_no_agent_reserved() -> None:
    acd = center(
        [QueueConfig(queue_id="q", strategy=RoutingStrategy.RING_ALL)], [agent(n, "q") for n in "abc"]
    )
    acd.enqueue("c1", "q", 1)
    acd.events()
    assert acd.abandon("c1", 2) is True
    events = acd.events()
    assert sorted(e.agent_id for e in events if isinstance(e, OfferCancelled)) == ["a", "b", "c"]
    assert [e.reason for e in lefts(events)] == [LeftReason.ABANDONED]
    assert {acd.agent_state(n) for n in "abc"} == {AgentState.AVAILABLE}
    assert acd.free_agents("q") == 3
    run_until(acd, 100)  # the old offer timers are stale: nobody becomes not-responding
    assert {acd.agent_state(n) for n in "abc"} == {AgentState.AVAILABLE}
    assert acd.abandon("c1", 101) is False


def test_freed_ringing_agent_takes_the_next_waiting_call() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q")])
    acd.enqueue("c1", "q", 1)
    acd.enqueue("c2", "q", 2)
    acd.abandon("c1", 3)
    assert offers(acd.events()) == [("c1", "a"), ("c2", "a")]


def test_outbound_connect_and_state_events() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q")], default_wrap_up_seconds=7)
    acd.connect("a", "out-1", 5)
    assert acd.free_agents("q") == 0
    acd.call_ended("a", 65)
    run_until(acd, 72)
    changes = [(e.old, e.new, e.call_id) for e in acd.events() if isinstance(e, AgentStateChanged)]
    assert changes == [
        ("available", "on_call", "out-1"),
        ("on_call", "wrap_up", "out-1"),
        ("wrap_up", "available", None),
    ]


@pytest.mark.parametrize(
    ("waiting", "free", "service_level", "lend"),
    [(0, 5, 0.9, 4), (0, 5, None, 4), (0, 5, 0.7, 0), (2, 5, 0.9, 0), (0, 1, 0.95, 0), (0, 0, 1.0, 0)],
)
def test_inbound_first_blending(waiting: int, free: int, service_level: float | None, lend: int) -> None:
    rule = InboundFirstBlending(min_service_level=0.8, max_waiting_per_free_agent=0.0, reserve_free_agents=1)
    assert rule.agents_to_lend(waiting_calls=waiting, free_agents=free, service_level=service_level) == lend


def test_blending_tolerates_a_waiting_ratio() -> None:
    rule = InboundFirstBlending(max_waiting_per_free_agent=0.5, reserve_free_agents=0)
    assert rule.agents_to_lend(waiting_calls=2, free_agents=4, service_level=None) == 4
    assert rule.agents_to_lend(waiting_calls=3, free_agents=4, service_level=None) == 0


def test_docs_state_diagram_is_the_table() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "acd.md").read_text()
    assert f"```mermaid\n{mermaid_diagram()}\n```" in docs


def test_the_ring_timeout_is_the_offering_queues_own() -> None:
    """An agent in two queues rings 5 s for a call of the fast queue and 30 s for one of the patient queue;
    after each no-answer the call goes to the next agent."""
    queues = [QueueConfig(queue_id="fast", offer_timeout_seconds=5), QueueConfig(queue_id="patient",
              offer_timeout_seconds=30)]  # fmt: skip
    acd = center(queues, [agent("a", "fast", "patient"), agent("b", "fast", "patient")])
    acd.aux("b", "break", 0)
    acd.enqueue("c1", "fast", 10)
    assert offers(acd.events()) == [("c1", "a")]
    assert acd.get_timer() == 15
    run_until(acd, 14.9)
    assert acd.agent_state("a") is AgentState.RESERVED
    run_until(acd, 15)
    assert acd.agent_state("a") is AgentState.NOT_RESPONDING
    acd.ready("b", 16)
    assert offers(acd.events())[-1] == ("c1", "b")  # the next agent
    acd.accept("b", 17)
    acd.ready("a", 18)
    acd.enqueue("c2", "patient", 20)
    assert offers(acd.events())[-1] == ("c2", "a")
    run_until(acd, 49.9)
    assert acd.agent_state("a") is AgentState.RESERVED
    run_until(acd, 50)
    assert acd.agent_state("a") is AgentState.NOT_RESPONDING
    assert [(e.call_id, e.at) for e in acd.events() if isinstance(e, AgentNoAnswer)] == [("c2", 50)]
