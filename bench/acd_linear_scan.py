"""A naive ACD search for bench/acd.py: the same decisions as duplex.acd's indexes, by scanning every agent and
every waiting call. Plugged into the same `Acd` core, so only the search differs."""

from __future__ import annotations

import bisect
from collections import Counter

from duplex.acd.config import TIME_EPSILON, QueueConfig
from duplex.acd.index import queue_order
from duplex.acd.records import AgentRecord, CallEntry, CallKey
from duplex.acd.strategies import AgentKey, Bucket, Strategy


class KeyList(list[AgentKey]):
    """A sorted list with the one search method the strategies use."""

    def bisect_right(self, value: AgentKey) -> int:
        return bisect.bisect_right(self, value)


class LinearScanAgents:
    def __init__(self) -> None:
        self._strategies: dict[str, Strategy] = {}
        self._agents: dict[str, AgentRecord] = {}  # every agent that was ever free
        self._free: dict[str, dict[str, AgentKey]] = {}  # agent -> queue -> key while free

    def add_queue(self, queue: QueueConfig, strategy: Strategy) -> None:
        self._strategies[queue.queue_id] = strategy

    def add(self, agent: AgentRecord) -> None:
        self._agents[agent.agent_id] = agent
        self._free[agent.agent_id] = {
            queue_id: self._strategies[queue_id].key(agent, membership)
            for queue_id, membership in agent.memberships.items()
        }

    def remove(self, agent: AgentRecord) -> None:
        del self._free[agent.agent_id]

    def tier(self, queue_id: str, min_proficiency: int) -> list[Bucket]:
        candidates = []
        for agent in self._agents.values():
            membership = agent.memberships.get(queue_id)
            keys = self._free.get(agent.agent_id)
            if keys is not None and membership is not None and membership.proficiency >= min_proficiency:
                candidates.append((membership.penalty, membership.proficiency, keys[queue_id]))
        if not candidates:
            return []
        lowest = min(penalty for penalty, _, _ in candidates)
        by_proficiency: dict[int, KeyList] = {}
        for penalty, proficiency, key in candidates:
            if penalty == lowest:
                by_proficiency.setdefault(proficiency, KeyList()).append(key)
        return [(p, KeyList(sorted(by_proficiency[p]))) for p in sorted(by_proficiency, reverse=True)]

    def free_count(self, queue_id: str) -> int:
        return sum(1 for keys in self._free.values() if queue_id in keys)


class LinearScanCalls:
    def __init__(self) -> None:
        self._queues: dict[str, QueueConfig] = {}
        self._entries: dict[int, tuple[CallKey, CallEntry]] = {}
        self._sizes: Counter[str] = Counter()  # a count, not a decision: kept O(1) so setup stays short

    def add_queue(self, queue: QueueConfig) -> None:
        self._queues[queue.queue_id] = queue

    def add(self, entry: CallEntry) -> None:
        self._entries[entry.seq] = (entry.key, entry)
        self._sizes[entry.queue_id] += 1

    def remove(self, entry: CallEntry) -> None:
        del self._entries[entry.seq]
        self._sizes[entry.queue_id] -= 1

    def position(self, entry: CallEntry) -> int:
        key = entry.key
        return 1 + sum(1 for k, e in self._entries.values() if e.queue_id == entry.queue_id and k < key)

    def size(self, queue_id: str) -> int:
        return self._sizes[queue_id]

    def best_for(self, agent: AgentRecord, now: float) -> CallEntry | None:
        best: tuple[tuple[int, CallKey], CallEntry] | None = None
        for key, entry in self._entries.values():
            membership = agent.memberships.get(entry.queue_id)
            if membership is None:
                continue
            queue = self._queues[entry.queue_id]
            needed = queue.wait_for_proficiency(membership.proficiency)
            if needed is None or now - entry.entered_at + TIME_EPSILON < needed:
                continue
            order = queue_order(queue, key)
            if best is None or order < best[0]:
                best = (order, entry)
        return None if best is None else best[1]
