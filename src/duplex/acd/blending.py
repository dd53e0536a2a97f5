"""Blending: inbound first; idle agents are lent to outbound campaigns only while inbound service holds."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InboundFirstBlending"]


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
