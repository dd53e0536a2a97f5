"""Mutable runtime records of the ACD core: one per agent and one per call in a queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from duplex.acd.agent_state import AgentStateMachine
from duplex.acd.config import Membership

__all__ = ["AgentRecord", "CallEntry", "CallKey"]

# (band, -priority, entered_at, seq): band 0 holds calls put back at the head after an offer failed.
CallKey = tuple[int, int, float, int]


@dataclass(slots=True, eq=False)
class AgentRecord:
    agent_id: str
    memberships: dict[str, Membership]
    machine: AgentStateMachine = field(default_factory=AgentStateMachine)
    idle_since: float = 0.0
    talk_seconds: float = 0.0
    calls_answered: int = 0
    held_until: float = 0.0  # after a reject the agent is not offered calls until then
    offered_call: str | None = None
    lent_call: str | None = None  # reserved for a call the dialer placed (no queue entry behind it)
    lent_queue: str | None = None  # that call's campaign queue (its wrap-up follows the call)
    current_call: str | None = None
    current_queue: str | None = None
    talk_started: float = 0.0
    last_talk: float = 0.0
    wrap_started: float = 0.0
    wrap_up_until: float = 0.0
    free: bool = False  # in the free-agent index
    token: int = 0  # bumped on every state change; timers armed under an older token are stale


@dataclass(slots=True, eq=False)
class CallEntry:
    call_id: str
    queue_id: str
    priority: int
    entered_at: float
    seq: int
    band: int = 1
    callback_number: str | None = None
    offered_to: set[str] = field(default_factory=set)
    epoch: int = 0  # bumped when the call changes queue or leaves; older timers are stale
    hops: int = 0  # queues visited through overflow and escalation, to stop a loop of overflow targets

    @property
    def key(self) -> CallKey:
        return (self.band, -self.priority, self.entered_at, self.seq)
