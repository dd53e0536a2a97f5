"""Configuration values of the ACD core: queues, their skill rules, overflow and escalation, agent memberships.

A queue stands for one skill requirement (the seeds' "sales", "support tier 1"): an agent serves a queue with a
per-queue proficiency and penalty, so "index by skill" is "index by queue". The minimum proficiency a call needs
relaxes with the caller's waiting time in steps.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from duplex.acd.types import RoutingStrategy

__all__ = [
    "TIME_EPSILON",
    "AgentConfig",
    "Escalation",
    "Membership",
    "OverflowKind",
    "OverflowTarget",
    "QueueConfig",
    "RelaxationStep",
]


# A timer armed for entered_at + step fires at a ``now`` whose ``now - entered_at`` may be one rounding error short
# of the step; every comparison of a waiting time with a step allows for that.
TIME_EPSILON = 1e-9


class OverflowKind(enum.StrEnum):
    """Where a call goes when its queue is full or it waited too long."""

    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowTarget:
    kind: OverflowKind
    queue_id: str | None = None  # only for OverflowKind.QUEUE

    def __post_init__(self) -> None:
        if (self.kind is OverflowKind.QUEUE) != (self.queue_id is not None):
            raise ValueError("an overflow target names a queue exactly when its kind is 'queue'")


@dataclass(frozen=True, slots=True, kw_only=True)
class RelaxationStep:
    """After ``after_seconds`` of waiting, agents with ``min_proficiency`` or more may take the call."""

    after_seconds: float
    min_proficiency: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """After ``after_seconds`` in this queue the call moves to ``to_queue`` (1st line -> 2nd line)."""

    after_seconds: float
    to_queue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    """One queue. ``min_proficiency`` holds at entry; ``relaxation`` lowers it as the caller waits."""

    queue_id: str
    strategy: RoutingStrategy = RoutingStrategy.LONGEST_IDLE
    priority: int = 0  # higher is served first by an agent free for several queues
    min_proficiency: int = 1
    relaxation: tuple[RelaxationStep, ...] = ()
    escalation: Escalation | None = None
    max_wait_seconds: float | None = None
    max_size: int | None = None
    overflow: OverflowTarget | None = None  # None: a timed-out call leaves with reason "timeout"
    wrap_up_seconds: float = 10.0
    offer_timeout_seconds: float = 15.0  # ringing longer than this is a no-answer
    ring_all_limit: int = 20  # ring-all offers to at most this many agents at once
    initial_handle_seconds: float = 180.0  # the estimator's handle time before any call was measured

    def __post_init__(self) -> None:
        previous_after, previous_min = 0.0, self.min_proficiency
        for step in self.relaxation:
            if step.after_seconds <= previous_after or step.min_proficiency >= previous_min:
                raise ValueError(f"queue {self.queue_id}: relaxation steps must lower the minimum over time")
            previous_after, previous_min = step.after_seconds, step.min_proficiency
        if self.offer_timeout_seconds <= 0 or self.wrap_up_seconds < 0 or self.ring_all_limit < 1:
            raise ValueError(
                f"queue {self.queue_id}: offer timeout, wrap-up and ring-all limit must be positive"
            )

    def min_proficiency_after(self, waited: float) -> int:
        """The lowest proficiency that may take a call that has waited ``waited`` seconds."""
        minimum = self.min_proficiency
        for step in self.relaxation:
            if waited + TIME_EPSILON < step.after_seconds:
                break
            minimum = step.min_proficiency
        return minimum

    def wait_for_proficiency(self, proficiency: int) -> float | None:
        """How long a call waits before an agent of ``proficiency`` may take it; None: never."""
        if proficiency >= self.min_proficiency:
            return 0.0
        for step in self.relaxation:
            if proficiency >= step.min_proficiency:
                return step.after_seconds
        return None

    def next_relaxation_after(self, waited: float) -> float | None:
        """Waiting time of the next relaxation step, or None when the minimum is already at its lowest."""
        for step in self.relaxation:
            if waited + TIME_EPSILON < step.after_seconds:
                return step.after_seconds
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    """An agent serving a queue: proficiency (1 or more, higher is better) and Asterisk-style penalty (lower is
    offered first; a higher penalty only gets calls when no lower-penalty agent is free)."""

    queue_id: str
    proficiency: int = 1
    penalty: int = 0
    order: int = 0  # position in the queue's member list (round-robin and linear top-down)

    def __post_init__(self) -> None:
        if self.proficiency < 1 or self.penalty < 0:
            raise ValueError("proficiency must be 1 or more and penalty 0 or more")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    agent_id: str
    memberships: tuple[Membership, ...] = field(default_factory=tuple)
