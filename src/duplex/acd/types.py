"""Value types of the ACD that other layers (database models, API) name."""

from __future__ import annotations

import enum

__all__ = ["RoutingStrategy"]


class RoutingStrategy(enum.StrEnum):
    """How a queue picks the agent for a waiting call."""

    LONGEST_IDLE = "longest_idle"
    SKILLS_BASED = "skills_based"
    ROUND_ROBIN = "round_robin"
    FEWEST_CALLS = "fewest_calls"
    RING_ALL = "ring_all"
    RANDOM = "random"
