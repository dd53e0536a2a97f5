"""Property tests: whatever the inputs, one call is never offered to two agents (outside ring-all), one agent never
holds two offers, every queue entry ends in exactly one queue.left, and no call waits while a free agent may take it.
"""

from __future__ import annotations

import random

from acd_helpers import run_until
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from duplex.acd import (
    Acd,
    AcdEvent,
    AgentAccepted,
    AgentConfig,
    AgentNoAnswer,
    AgentOffered,
    AgentRejected,
    AgentState,
    AgentStateChanged,
    Escalation,
    IllegalTransition,
    Membership,
    OfferCancelled,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    QueueEntered,
    QueueLeft,
    RelaxationStep,
    RoutingStrategy,
)

AGENTS = [f"a{i}" for i in range(6)]


def queues(strategy: RoutingStrategy) -> list[QueueConfig]:
    relax = (
        RelaxationStep(after_seconds=20, min_proficiency=2),
        RelaxationStep(after_seconds=40, min_proficiency=1),
    )
    return [
        QueueConfig(
            queue_id="tier2", strategy=strategy, max_wait_seconds=90, wrap_up_seconds=5, ring_all_limit=3
        ),
        QueueConfig(
            queue_id="tier1",
            strategy=strategy,
            min_proficiency=3,
            relaxation=relax,
            escalation=Escalation(after_seconds=60, to_queue="tier2"),
            wrap_up_seconds=0,
            offer_timeout_seconds=8,
        ),
        QueueConfig(
            queue_id="sales",
            strategy=strategy,
            priority=1,
            max_size=3,
            max_wait_seconds=45,
            overflow=OverflowTarget(kind=OverflowKind.QUEUE, queue_id="tier1"),
        ),
    ]


def agents(draw_proficiency: list[int]) -> list[AgentConfig]:
    names = ["tier1", "tier2", "sales"]
    out = []
    for i, agent_id in enumerate(AGENTS):
        memberships = tuple(
            Membership(
                queue_id=q,
                proficiency=draw_proficiency[(i + j) % len(draw_proficiency)],
                penalty=(i + j) % 2,
                order=i,
            )
            for j, q in enumerate(names)
            if (i + j) % 3 != 0
        )
        out.append(AgentConfig(agent_id=agent_id, memberships=memberships))
    return out


class AcdMachine(RuleBasedStateMachine):
    STRATEGIES: list[RoutingStrategy] = list(RoutingStrategy)

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.calls = 0
        self.open_entries: dict[str, str] = {}  # call -> queue it is in (from the events)
        self.ended: set[str] = set()
        self.ringing: dict[str, str] = {}  # agent -> call
        self.ring_all = False
        self.states: dict[str, str] = {}
        self.lent: dict[str, str] = {}  # agent -> the dialer's call it is reserved for (reserve_outbound)
        self.outbound = 0

    @initialize(
        data=st.data(),
        proficiencies=st.lists(st.integers(1, 5), min_size=3, max_size=3),
        seed=st.integers(0, 2**16),
    )
    def setup(self, data: st.DataObject, proficiencies: list[int], seed: int) -> None:
        strategy = data.draw(st.sampled_from(self.STRATEGIES))
        self.ring_all = strategy is RoutingStrategy.RING_ALL
        self.acd = Acd(
            queues(strategy), agents(proficiencies), rng=random.Random(seed), reject_delay_seconds=3
        )
        for agent_id in AGENTS:
            self.acd.login(agent_id, self.now)
        self.check(self.acd.events())

    def check(self, events: list[AcdEvent]) -> None:
        for event in events:
            if isinstance(event, QueueEntered):
                assert event.call_id not in self.open_entries and event.call_id not in self.ended
                self.open_entries[event.call_id] = event.queue_id
            elif isinstance(event, QueueLeft):
                assert self.open_entries.pop(event.call_id) == event.queue_id
                if event.overflow_queue is None:
                    assert event.call_id not in self.ended
                    self.ended.add(event.call_id)
            elif isinstance(event, AgentOffered):
                assert event.agent_id not in self.ringing, "one agent, two offers"
                assert event.agent_id not in self.lent, "an agent lent to the dialer offered an inbound call"
                if not self.ring_all:
                    assert event.call_id not in self.ringing.values(), "one call, two agents"
                self.ringing[event.agent_id] = event.call_id
            elif isinstance(event, AgentAccepted | AgentRejected | AgentNoAnswer | OfferCancelled):
                assert self.ringing.pop(event.agent_id) == event.call_id
            elif isinstance(event, AgentStateChanged):
                assert self.states.get(event.agent_id, "logged_out") == event.old
                self.states[event.agent_id] = event.new

    @rule(queue=st.sampled_from(["tier1", "tier2", "sales"]), priority=st.integers(0, 2))
    def enqueue(self, queue: str, priority: int) -> None:
        self.calls += 1
        self.acd.enqueue(f"c{self.calls}", queue, self.now, priority=priority)
        self.check(self.acd.events())

    @precondition(lambda self: self.calls > 0)
    @rule(data=st.data())
    def caller_action(self, data: st.DataObject) -> None:
        call_id = f"c{data.draw(st.integers(1, self.calls))}"
        if data.draw(st.booleans()):
            known = self.acd.abandon(call_id, self.now)
            assert known == (call_id in self.open_entries)
        elif call_id in self.open_entries:
            self.acd.request_callback(call_id, "+40215550199", self.now)
        self.check(self.acd.events())

    @rule(
        agent_id=st.sampled_from(AGENTS),
        action=st.sampled_from(
            ["accept", "reject", "call_ended", "logout", "login", "aux", "ready", "extend"]
        ),
    )
    def agent_action(self, agent_id: str, action: str) -> None:
        before = self.acd.agent_state(agent_id)
        try:
            if action == "aux":
                self.acd.aux(agent_id, "break", self.now)
            elif action == "extend":
                self.acd.extend_wrap_up(agent_id, 10, self.now)
            elif action == "connect":
                self.acd.connect(agent_id, f"outbound-{agent_id}-{self.now}", self.now)
            else:
                getattr(self.acd, action)(agent_id, self.now)
        except IllegalTransition:
            assert self.acd.agent_state(agent_id) is before
            assert self.acd.events() == []
            return
        if action == "logout":
            self.lent.pop(agent_id, None)
        self.check(self.acd.events())

    @rule(agent_id=st.sampled_from(AGENTS))
    def dialer_borrows(self, agent_id: str) -> None:
        """A campaign's answered lead takes a free agent (blending); only a free agent can be lent."""
        free = self.acd.free_since(agent_id) is not None
        self.outbound += 1
        try:
            self.acd.reserve_outbound(agent_id, f"out{self.outbound}", self.now, queue_id="sales")
        except IllegalTransition:
            assert not free and self.acd.events() == []
            return
        assert free and agent_id not in self.ringing
        self.lent[agent_id] = f"out{self.outbound}"
        self.check(self.acd.events())

    @precondition(lambda self: bool(self.lent))
    @rule(data=st.data(), answered=st.booleans())
    def lent_phone_answers_or_not(self, data: st.DataObject, answered: bool) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.lent)))
        del self.lent[agent_id]
        if answered:
            self.acd.connect_outbound(agent_id, self.now)
        else:
            assert self.acd.release_outbound(agent_id, self.now)
        self.check(self.acd.events())

    @precondition(lambda self: bool(self.ringing))
    @rule(data=st.data(), answer=st.booleans())
    def ringing_agent_answers(self, data: st.DataObject, answer: bool) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.ringing)))
        (self.acd.accept if answer else self.acd.reject)(agent_id, self.now)
        self.check(self.acd.events())

    @precondition(lambda self: "on_call" in self.states.values())
    @rule(data=st.data())
    def call_ends(self, data: st.DataObject) -> None:
        agent_id = data.draw(st.sampled_from(sorted(a for a, s in self.states.items() if s == "on_call")))
        self.acd.call_ended(agent_id, self.now)
        self.check(self.acd.events())

    @rule(seconds=st.sampled_from([0.5, 3.0, 7.0, 21.0, 50.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        run_until(self.acd, self.now)
        self.check(self.acd.events())

    @invariant()
    def no_call_waits_for_a_free_agent(self) -> None:
        acd = getattr(self, "acd", None)
        if acd is None:
            return
        for agent_id in AGENTS:
            assert acd.agent_state(agent_id).value == self.states.get(agent_id, "logged_out")
            reserved = agent_id in self.ringing or agent_id in self.lent
            assert (acd.agent_state(agent_id) is AgentState.RESERVED) == reserved
            assert acd.lent_call(agent_id) == self.lent.get(agent_id)
            assert acd.offered_call(agent_id) == self.ringing.get(agent_id)
        for call_id, queue_id in self.open_entries.items():
            assert acd.queue_of(call_id) == queue_id
        positions: dict[str, list[int]] = {}
        for call_id, queue_id in self.open_entries.items():
            position = acd.position(call_id)
            if position is not None:
                positions.setdefault(queue_id, []).append(position)
                assert (acd.estimated_wait(call_id) is None) == (acd.staffed_agents(queue_id) == 0)
        for queue_id in ("tier1", "tier2", "sales"):
            assert sorted(positions.get(queue_id, [])) == list(range(1, acd.waiting_count(queue_id) + 1))
        for agent_id, call_id in self.ringing.items():
            assert call_id in self.open_entries, f"{agent_id} rings for {call_id}, which left its queue"
        # White-box: the index's free agents against every waiting call, by brute force.
        for entry in acd._calls.values():
            if entry.offered_to:
                continue
            queue = acd._queues[entry.queue_id]
            minimum = queue.min_proficiency_after(self.now - entry.entered_at)
            for agent in acd._agents.values():
                membership = agent.memberships.get(entry.queue_id)
                if agent.free and membership is not None:
                    assert membership.proficiency < minimum, (
                        f"{entry.call_id} waits while {agent.agent_id} is free"
                    )

    def teardown(self) -> None:
        acd = getattr(self, "acd", None)
        if acd is None:
            return
        for call_id in list(self.open_entries):
            assert acd.abandon(call_id, self.now)
        self.check(acd.events())
        assert self.open_entries == {} and self.ringing == {}
        assert self.ended == {f"c{i}" for i in range(1, self.calls + 1)}


class RingAllMachine(AcdMachine):
    """Ring-all is the one strategy that offers a call to several agents: it gets examples of its own."""

    STRATEGIES = [RoutingStrategy.RING_ALL]


AcdMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
RingAllMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestAcdProperties = AcdMachine.TestCase
TestRingAllProperties = RingAllMachine.TestCase
