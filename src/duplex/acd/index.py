"""Indexes that let the ACD decide without scanning every agent or call.

Free agents: per queue, per penalty, per proficiency, a sorted list of the queue strategy's keys. Choosing an agent
for a call looks at the lowest penalty that has an agent proficient enough and at the few proficiency buckets of
that penalty: O(levels x log n).

Waiting calls: per queue, one sorted list of (band, -priority, entered_at, seq). Within one (band, priority) group
the calls an agent may take form a prefix (relaxation only depends on waiting time, and the oldest waited
longest), so the best call for a freed agent is the first group head that has waited long enough for the agent's
proficiency: O(queues of the agent x groups x log n). Position is the rank in the list: O(log n).
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from sortedcontainers import SortedList

from duplex.acd.config import TIME_EPSILON, QueueConfig
from duplex.acd.records import AgentRecord, CallEntry, CallKey
from duplex.acd.strategies import AgentKey, Bucket, Strategy

__all__ = ["AgentIndex", "CallIndex", "FreeAgentIndex", "WaitingCalls", "queue_order"]


class AgentIndex(Protocol):
    """The free agents (available and not held back), searchable per queue."""

    def add_queue(self, queue: QueueConfig, strategy: Strategy) -> None: ...
    def add(self, agent: AgentRecord) -> None: ...
    def remove(self, agent: AgentRecord) -> None: ...
    def tier(self, queue_id: str, min_proficiency: int) -> list[Bucket]: ...
    def free_count(self, queue_id: str) -> int: ...


class CallIndex(Protocol):
    """The calls waiting in queues (not those being offered)."""

    def add_queue(self, queue: QueueConfig) -> None: ...
    def add(self, entry: CallEntry) -> None: ...
    def remove(self, entry: CallEntry) -> None: ...
    def position(self, entry: CallEntry) -> int: ...
    def size(self, queue_id: str) -> int: ...
    def best_for(self, agent: AgentRecord, now: float) -> CallEntry | None: ...


def queue_order(queue: QueueConfig, key: CallKey) -> tuple[int, CallKey]:
    """Across queues, a freed agent takes the call of the highest-priority queue first, then by the call key."""
    return (-queue.priority, key)


class FreeAgentIndex:
    def __init__(self) -> None:
        self._levels: dict[str, dict[int, dict[int, SortedList[AgentKey]]]] = {}
        self._strategies: dict[str, Strategy] = {}
        self._keys: dict[tuple[str, str], AgentKey] = {}
        self._counts: Counter[str] = Counter()

    def add_queue(self, queue: QueueConfig, strategy: Strategy) -> None:
        self._levels[queue.queue_id] = {}
        self._strategies[queue.queue_id] = strategy

    def add(self, agent: AgentRecord) -> None:
        for queue_id, membership in agent.memberships.items():
            key = self._strategies[queue_id].key(agent, membership)
            by_proficiency = self._levels[queue_id].setdefault(membership.penalty, {})
            by_proficiency.setdefault(membership.proficiency, SortedList()).add(key)
            self._keys[queue_id, agent.agent_id] = key
            self._counts[queue_id] += 1

    def remove(self, agent: AgentRecord) -> None:
        for queue_id, membership in agent.memberships.items():
            key = self._keys.pop((queue_id, agent.agent_id))
            by_penalty = self._levels[queue_id]
            by_proficiency = by_penalty[membership.penalty]
            keys = by_proficiency[membership.proficiency]
            keys.remove(key)
            # Empty buckets go, so a search only meets levels that hold someone.
            if not keys:
                del by_proficiency[membership.proficiency]
                if not by_proficiency:
                    del by_penalty[membership.penalty]
            self._counts[queue_id] -= 1

    def tier(self, queue_id: str, min_proficiency: int) -> list[Bucket]:
        by_penalty = self._levels[queue_id]
        for penalty in sorted(by_penalty):
            by_proficiency = by_penalty[penalty]
            buckets: list[Bucket] = [
                (proficiency, by_proficiency[proficiency])
                for proficiency in sorted(by_proficiency, reverse=True)
                if proficiency >= min_proficiency
            ]
            if buckets:
                return buckets
        return []

    def free_count(self, queue_id: str) -> int:
        return self._counts[queue_id]


class WaitingCalls:
    def __init__(self) -> None:
        self._queues: dict[str, QueueConfig] = {}
        self._keys: dict[str, SortedList[CallKey]] = {}
        self._groups: dict[str, Counter[tuple[int, int]]] = {}
        self._entries: dict[int, CallEntry] = {}  # by seq, the unique last part of a key

    def add_queue(self, queue: QueueConfig) -> None:
        self._queues[queue.queue_id] = queue
        self._keys[queue.queue_id] = SortedList()
        self._groups[queue.queue_id] = Counter()

    def add(self, entry: CallEntry) -> None:
        key = entry.key
        self._keys[entry.queue_id].add(key)
        self._groups[entry.queue_id][key[:2]] += 1
        self._entries[entry.seq] = entry

    def remove(self, entry: CallEntry) -> None:
        key = entry.key
        self._keys[entry.queue_id].remove(key)
        groups = self._groups[entry.queue_id]
        groups[key[:2]] -= 1
        if not groups[key[:2]]:
            del groups[key[:2]]
        del self._entries[entry.seq]

    def position(self, entry: CallEntry) -> int:
        return self._keys[entry.queue_id].index(entry.key) + 1

    def size(self, queue_id: str) -> int:
        return len(self._keys[queue_id])

    def best_for(self, agent: AgentRecord, now: float) -> CallEntry | None:
        best: tuple[tuple[int, CallKey], CallEntry] | None = None
        for queue_id, membership in agent.memberships.items():
            queue = self._queues[queue_id]
            needed = queue.wait_for_proficiency(membership.proficiency)
            key = None if needed is None else self._first_waited(queue_id, now, needed)
            if key is not None and (best is None or queue_order(queue, key) < best[0]):
                best = (queue_order(queue, key), self._entries[key[3]])
        return None if best is None else best[1]

    def _first_waited(self, queue_id: str, now: float, needed: float) -> CallKey | None:
        keys = self._keys[queue_id]
        for group in sorted(self._groups[queue_id]):
            head = keys[keys.bisect_left((*group, float("-inf"), -1))]
            if now - head[2] + TIME_EPSILON >= needed:
                return head
        return None
