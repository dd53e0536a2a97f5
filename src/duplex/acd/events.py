"""Events the ACD core emits. Each names the call, the queue and the agent (None where there is none yet); the
call layer maps them onto the global event catalogue (``queue.entered``, ``agent.offered``, ...)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from duplex.acd.agent_state import AgentState
from duplex.acd.config import OverflowKind

__all__ = [
    "AcdEvent",
    "AgentAccepted",
    "AgentNoAnswer",
    "AgentOffered",
    "AgentRejected",
    "AgentStateChanged",
    "CallbackDue",
    "CancelReason",
    "LeftReason",
    "OfferCancelled",
    "QueueEntered",
    "QueueLeft",
]


class LeftReason(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOW = "overflow"  # max wait, max size or an escalation step moved the call on
    TIMEOUT = "timeout"  # max wait with no overflow target
    CALLBACK = "callback"  # a queued callback reached an agent who accepted it


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueEntered:
    at: float
    call_id: str
    queue_id: str
    agent_id: None = None
    priority: int
    position: int  # 1 is the head; a call over the queue's max size still enters, then overflows


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLeft:
    at: float
    call_id: str
    queue_id: str
    agent_id: str | None  # the agent who answered, for answered and callback
    reason: LeftReason
    waited: float  # seconds in this queue
    overflow_kind: OverflowKind | None = None
    overflow_queue: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered:
    at: float
    call_id: str
    queue_id: str
    agent_id: str
    callback_number: str | None  # set for a queued callback: the call layer dials it when the agent accepts


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAccepted:
    at: float
    call_id: str
    queue_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRejected:
    at: float
    call_id: str
    queue_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNoAnswer:
    at: float
    call_id: str
    queue_id: str
    agent_id: str


class CancelReason(enum.StrEnum):
    CALLER_ABANDONED = "caller_abandoned"
    ANSWERED_ELSEWHERE = "answered_elsewhere"  # ring-all: another agent took it
    AGENT_LOGGED_OUT = "agent_logged_out"
    CALLBACK_REQUESTED = "callback_requested"  # the caller chose a callback while this agent rang


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCancelled:
    """The agent's phone must stop ringing for this call."""

    at: float
    call_id: str
    queue_id: str
    agent_id: str
    reason: CancelReason


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackDue:
    """An agent was reserved for a queued callback: the call layer calls the customer back now."""

    at: float
    call_id: str
    queue_id: str
    agent_id: str
    callback_number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged:
    at: float
    agent_id: str
    old: AgentState
    new: AgentState
    reason: str = ""  # aux reason code, or why the ACD moved the agent
    call_id: str | None = None
    queue_id: str | None = None


AcdEvent = (
    QueueEntered
    | QueueLeft
    | AgentOffered
    | AgentAccepted
    | AgentRejected
    | AgentNoAnswer
    | OfferCancelled
    | CallbackDue
    | AgentStateChanged
)
