"""Blending: inbound first; idle agents are lent to outbound campaigns only while inbound service holds."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from duplex.acd.events import AcdEvent, LeftReason, QueueLeft

__all__ = ["InboundFirstBlending", "ServiceLevelWindow"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundFirstBlending:
    """How many free agents the dialer may borrow.

    None while the inbound service level (fraction answered within the queue's target, measured by the caller)
    is under ``min_service_level``, or while more than ``max_waiting_per_free_agent`` inbound calls wait per
    free agent; otherwise every free agent beyond ``reserve_free_agents`` kept back for the next inbound call.
    """

    min_service_level: float = 0.8
    max_waiting_per_free_agent: float = 0.0
    reserve_free_agents: int = 1

    def agents_to_lend(self, *, waiting_calls: int, free_agents: int, service_level: float | None) -> int:
        if free_agents <= 0:
            return 0
        if service_level is not None and service_level < self.min_service_level:
            return 0
        if waiting_calls / free_agents > self.max_waiting_per_free_agent:
            return 0
        return max(0, free_agents - self.reserve_free_agents)


class ServiceLevelWindow:
    """The inbound service level of the last ``window_seconds``: of the calls that left a queue then, the share
    answered within ``target_seconds`` of entering it. A call abandoned within the target counts neither way
    (the caller gave up before service could be late); one abandoned later, a timeout or an overflow to another
    queue counts as missed. Fed the ACD's events; time is the events' own ``at``."""

    def __init__(self, *, target_seconds: float = 20.0, window_seconds: float = 900.0) -> None:
        self.target_seconds = target_seconds
        self.window_seconds = window_seconds
        self._left: dict[str, deque[tuple[float, bool]]] = {}  # queue id -> (left at, within target)

    def observe(self, event: AcdEvent) -> None:
        if not isinstance(event, QueueLeft):
            return
        in_time = event.waited <= self.target_seconds
        if event.reason in (LeftReason.ANSWERED, LeftReason.CALLBACK):
            met = in_time
        elif event.reason is LeftReason.ABANDONED and in_time:
            return
        else:
            met = False
        self._left.setdefault(event.queue_id, deque()).append((event.at, met))

    def level(self, queue_ids: Iterable[str], now: float) -> float | None:
        """The service level over ``queue_ids`` at ``now``; None when no call counted in the window."""
        met = total = 0
        for queue_id in queue_ids:
            calls = self._left.get(queue_id)
            if calls is None:
                continue
            while calls and calls[0][0] <= now - self.window_seconds:
                calls.popleft()
            total += len(calls)
            met += sum(1 for _, ok in calls if ok)
        return met / total if total else None
