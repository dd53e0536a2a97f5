"""Value types of the ACD that other layers (database models, API) name."""

from __future__ import annotations

import enum

__all__ = ["RoutingStrategy"]


class RoutingStrategy(enum.StrEnum):
    """How a queue picks the agent for a waiting call (stored in a 24-character column)."""

    LONGEST_IDLE = "longest_idle"
    SKILLS_BASED = "skills_based"  # skills best match: highest proficiency first, then longest idle
    ROUND_ROBIN = "round_robin"  # with memory: the next agent after the one offered last
    LEAST_TALK_TIME = "least_talk_time"
    FEWEST_CALLS = "fewest_calls"
    RING_ALL = "ring_all"
    LINEAR_TOP_DOWN = "linear_top_down"  # always the first free agent in the queue's member order
    RANDOM = "random"
    WEIGHTED_RANDOM = "weighted_random"  # random, weighted by the agent's proficiency in the queue
