"""Estimated wait: position x EWMA handle time / staffed agents.

The handle time (talk plus wrap-up) of each finished call updates an exponentially weighted moving average per
queue; a caller at position k waits about k average handle times shared by the queue's staffed agents (logged in
and not on a break). Simple and cheap, biased low when agents are shared with other queues; the simulator
measures its error.
"""

from __future__ import annotations

__all__ = ["EwmaHandleTimeEstimator"]


class EwmaHandleTimeEstimator:
    def __init__(self, *, alpha: float = 0.1) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self._handle: dict[str, float] = {}

    def add_queue(self, queue_id: str, initial_handle_seconds: float) -> None:
        self._handle[queue_id] = initial_handle_seconds

    def observe(self, queue_id: str, handle_seconds: float) -> None:
        """A call of ``queue_id`` finished after ``handle_seconds`` of talk and wrap-up."""
        self._handle[queue_id] += self.alpha * (handle_seconds - self._handle[queue_id])

    def handle_time(self, queue_id: str) -> float:
        return self._handle[queue_id]

    def estimate(self, queue_id: str, position: int, staffed_agents: int) -> float | None:
        """Seconds until the caller at ``position`` (1 = head) is offered; None when nobody is staffed."""
        if staffed_agents <= 0:
            return None
        return position * self._handle[queue_id] / staffed_agents
