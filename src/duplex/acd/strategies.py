"""Routing strategies: how a queue picks among its free agents.

Each strategy gives a free agent a sort key that stays fixed while the agent is free (so the agent index can keep
agents sorted by it) and chooses from the *tier*: the free agents of the lowest penalty that have at least the
call's minimum proficiency, as buckets of one proficiency each, highest proficiency first, each sorted by key.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import ClassVar, Protocol

from duplex.acd.config import Membership, QueueConfig
from duplex.acd.records import AgentRecord
from duplex.acd.types import RoutingStrategy

__all__ = [
    "AgentKey",
    "Bucket",
    "FewestCalls",
    "LeastTalkTime",
    "LinearTopDown",
    "LongestIdleAgent",
    "RandomAgent",
    "RingAll",
    "RoundRobin",
    "SkillsBestMatch",
    "Strategy",
    "WeightedRandom",
    "strategy_for",
]

# The last element of every key is the agent id, so keys are unique and ties break the same way everywhere.
AgentKey = tuple[float | int | str, ...]


class SortedKeys(Protocol):
    """What a bucket needs from its container (a ``sortedcontainers.SortedList`` or a sorted list)."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[AgentKey]: ...
    def __getitem__(self, index: int) -> AgentKey: ...
    def bisect_right(self, value: AgentKey) -> int: ...


Bucket = tuple[int, SortedKeys]  # (proficiency, keys)


class Strategy:
    kind: ClassVar[RoutingStrategy]

    def __init__(self, queue: QueueConfig) -> None:
        self.queue = queue

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        raise NotImplementedError

    def choose(self, tier: Sequence[Bucket], rng: random.Random) -> list[str]:
        """Agent ids to offer the call to (one, or several for ring-all); ``tier`` is never empty."""
        best = min(keys[0] for _, keys in tier)
        return [str(best[-1])]

    def offered(self, agent: AgentRecord, membership: Membership) -> None:
        """Called after the queue offered a call to ``agent`` (strategies with memory note it)."""


class LongestIdleAgent(Strategy):
    kind = RoutingStrategy.LONGEST_IDLE

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.idle_since, agent.agent_id)


class LeastTalkTime(Strategy):
    kind = RoutingStrategy.LEAST_TALK_TIME

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.talk_seconds, agent.agent_id)


class FewestCalls(Strategy):
    kind = RoutingStrategy.FEWEST_CALLS

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.calls_answered, agent.agent_id)


class LinearTopDown(Strategy):
    """Always the first free agent in member order (FreeSWITCH top-down, Asterisk linear)."""

    kind = RoutingStrategy.LINEAR_TOP_DOWN

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (membership.order, agent.agent_id)


class SkillsBestMatch(Strategy):
    """The most proficient free agent; among equals, the longest idle."""

    kind = RoutingStrategy.SKILLS_BASED

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.idle_since, agent.agent_id)

    def choose(self, tier: Sequence[Bucket], rng: random.Random) -> list[str]:
        return [str(tier[0][1][0][-1])]  # buckets come highest proficiency first and are never empty


class RoundRobin(Strategy):
    """The next free agent after the one this queue offered last, in member order (Asterisk rrmemory)."""

    kind = RoutingStrategy.ROUND_ROBIN

    def __init__(self, queue: QueueConfig) -> None:
        super().__init__(queue)
        self.last: AgentKey | None = None

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (membership.order, agent.agent_id)

    def choose(self, tier: Sequence[Bucket], rng: random.Random) -> list[str]:
        if self.last is not None:
            after = [keys[i] for _, keys in tier if (i := keys.bisect_right(self.last)) < len(keys)]
            if after:
                return [str(min(after)[-1])]
        return super().choose(tier, rng)

    def offered(self, agent: AgentRecord, membership: Membership) -> None:
        self.last = self.key(agent, membership)


class RingAll(Strategy):
    """Every free agent of the tier rings (up to the queue's limit, longest idle first); the first to accept wins."""

    kind = RoutingStrategy.RING_ALL

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.idle_since, agent.agent_id)

    def choose(self, tier: Sequence[Bucket], rng: random.Random) -> list[str]:
        merged = heapq.merge(*(iter(keys) for _, keys in tier))
        return [str(key[-1]) for key in itertools.islice(merged, self.queue.ring_all_limit)]


class RandomAgent(Strategy):
    """Uniform over the tier: draw an index, then walk the buckets (highest proficiency first, by agent id)."""

    kind = RoutingStrategy.RANDOM

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.agent_id,)

    def choose(self, tier: Sequence[Bucket], rng: random.Random) -> list[str]:
        index = rng.randrange(sum(len(keys) for _, keys in tier))
        for _, keys in tier:
            if index < len(keys):
                return [str(keys[index][-1])]
            index -= len(keys)
        raise AssertionError("index beyond the tier")


class WeightedRandom(Strategy):
    """Random with each agent weighted by proficiency: better agents get more calls, everyone gets some."""

    kind = RoutingStrategy.WEIGHTED_RANDOM

    def key(self, agent: AgentRecord, membership: Membership) -> AgentKey:
        return (agent.agent_id,)

    def choose(self, tier: Sequence[Bucket], rng: random.Random) -> list[str]:
        draw = rng.randrange(sum(proficiency * len(keys) for proficiency, keys in tier))
        for proficiency, keys in tier:
            if draw < proficiency * len(keys):
                return [str(keys[draw // proficiency][-1])]
            draw -= proficiency * len(keys)
        raise AssertionError("draw beyond the tier's weight")


_STRATEGIES: dict[RoutingStrategy, type[Strategy]] = {
    cls.kind: cls
    for cls in (
        LongestIdleAgent,
        LeastTalkTime,
        FewestCalls,
        LinearTopDown,
        SkillsBestMatch,
        RoundRobin,
        RingAll,
        RandomAgent,
        WeightedRandom,
    )
}


def strategy_for(queue: QueueConfig) -> Strategy:
    """A fresh strategy object (with its own memory) for ``queue``."""
    return _STRATEGIES[queue.strategy](queue)
