"""Events of the inbound contact center: queues and agents (call_id, queue_id and agent_id are on the
envelope). Part of the catalogue in `duplex.events.types`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from duplex.events.payload import EventPayload, json_name

__all__ = [
    "AgentAccepted",
    "AgentLoggedIn",
    "AgentLoggedOut",
    "AgentNoAnswer",
    "AgentOffered",
    "AgentRejected",
    "AgentStateChanged",
    "QueueEntered",
    "QueueEscalated",
    "QueueLeft",
]


# -- queues and agents (call_id, queue_id and agent_id are on the envelope) -----------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class QueueEntered(EventPayload):
    """A call joined a queue."""

    event_type: ClassVar[str] = "queue.entered"
    priority: int = 0  # higher is served first
    position: int | None = None  # 1 = next to be served, when it joined


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLeft(EventPayload):
    """A call left a queue."""

    event_type: ClassVar[str] = "queue.left"
    reason: Literal["answered", "abandoned", "overflow", "timeout", "callback"]  # callback: kept place
    waited_ms: int | None = None  # time in this queue
    to_queue_id: int | None = None  # where an overflow went (another queue, e.g. the next support tier)
    # the queue's overflow action that took the call: another queue, voicemail or a callback offer
    overflow_to: Literal["queue", "voicemail", "callback"] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueEscalated(EventPayload):
    """A call's waiting relaxed to the next step: lower minimum proficiency or the next support tier."""

    event_type: ClassVar[str] = "queue.escalated"
    step: int  # 1 = the first escalation step
    min_proficiency: int | None = None  # the skill level now accepted
    to_queue_id: int | None = None  # the next tier's queue, if the step moves the call


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered(EventPayload):
    """A call was offered to an agent (the agent is reserved and ringing)."""

    event_type: ClassVar[str] = "agent.offered"
    strategy: str | None = None  # the routing strategy that chose the agent
    ring_timeout_s: float | None = None  # no answer within it -> agent.no_answer


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAccepted(EventPayload):
    """An agent accepted an offered call."""

    event_type: ClassVar[str] = "agent.accepted"
    ring_ms: int | None = None  # time from the offer


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRejected(EventPayload):
    """An agent declined an offered call (the call goes back to the head of its queue)."""

    event_type: ClassVar[str] = "agent.rejected"
    sip_status: int | None = None  # the phone's answer (486, 603), if it came from the phone


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNoAnswer(EventPayload):
    """An agent did not answer an offered call in time (the agent becomes not-responding)."""

    event_type: ClassVar[str] = "agent.no_answer"
    ring_ms: int | None = None  # how long it rang


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged(EventPayload):
    """An agent's state changed (offline, available, reserved, on_call, wrap_up, break, ...)."""

    event_type: ClassVar[str] = "agent.state_changed"
    from_: str | None = field(metadata=json_name("from"))  # None when not known (first state)
    to: str  # the new state
    reason: str | None  # the aux/break reason code, or why the ACD changed it
    by_user_id: int | None  # who changed it (None: the ACD or the phone)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn(EventPayload):
    """An agent logged in."""

    event_type: ClassVar[str] = "agent.logged_in"
    via: str | None = None  # api, phone (a feature code) or console


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut(EventPayload):
    """An agent logged out."""

    event_type: ClassVar[str] = "agent.logged_out"
    via: str | None = None  # api, phone, console, or auto (e.g. not responding)
