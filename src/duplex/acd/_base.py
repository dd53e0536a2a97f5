"""State, configuration, lookups and timers shared by the ACD core's decisions (see :mod:`duplex.acd.core`)."""

from __future__ import annotations

import enum
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Iterable

from duplex.acd.agent_state import AgentInput, AgentState
from duplex.acd.config import AgentConfig, QueueConfig
from duplex.acd.errors import AcdError, IllegalTransition, UnknownEntity
from duplex.acd.estimator import EwmaHandleTimeEstimator
from duplex.acd.events import AcdEvent, AgentStateChanged
from duplex.acd.index import AgentIndex, CallIndex, FreeAgentIndex, WaitingCalls
from duplex.acd.records import AgentRecord, CallEntry
from duplex.acd.strategies import Strategy, strategy_for

__all__ = ["CALL_TIMERS", "AcdBase", "TimerKind"]

STAFFED = frozenset({AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})


class TimerKind(enum.Enum):
    RELAX = "relaxation step"
    ESCALATE = "escalation"
    MAX_WAIT = "max wait"
    NO_ANSWER = "offer timeout"
    WRAP_UP_END = "wrap-up end"
    RELEASE = "reject delay end"


CALL_TIMERS = frozenset({TimerKind.RELAX, TimerKind.ESCALATE, TimerKind.MAX_WAIT})


class AcdBase:
    """Automatic call distribution over a fixed set of queues and agents.

    Args:
        queues, agents: the configuration; agents start logged out.
        rng: the only source of randomness (random strategies).
        reject_delay_seconds: an agent who rejects an offer is offered nothing for this long.
        default_wrap_up_seconds: wrap-up after a call that did not come from a queue (``connect``).
        max_hops: overflow and escalation moves per call, so a loop of overflow targets ends.
        agent_index, call_index: the search structures (the benchmark swaps in linear scans).
    """

    def __init__(
        self,
        queues: Iterable[QueueConfig],
        agents: Iterable[AgentConfig],
        *,
        rng: random.Random,
        reject_delay_seconds: float = 5.0,
        default_wrap_up_seconds: float = 10.0,
        max_hops: int = 8,
        agent_index: AgentIndex | None = None,
        call_index: CallIndex | None = None,
        estimator: EwmaHandleTimeEstimator | None = None,
    ) -> None:
        self.rng = rng
        self.reject_delay_seconds = reject_delay_seconds
        self.default_wrap_up_seconds = default_wrap_up_seconds
        self.max_hops = max_hops
        self.estimator = estimator or EwmaHandleTimeEstimator()
        self._free: AgentIndex = agent_index if agent_index is not None else FreeAgentIndex()
        self._waiting: CallIndex = call_index if call_index is not None else WaitingCalls()
        self._queues: dict[str, QueueConfig] = {}
        self._strategies: dict[str, Strategy] = {}
        self._agents: dict[str, AgentRecord] = {}
        self._calls: dict[str, CallEntry] = {}
        self._staffed: Counter[str] = Counter()
        self._timers: list[tuple[float, int, TimerKind, str, int]] = []
        self._seq = itertools.count()
        self._events: list[AcdEvent] = []
        queue_list = list(queues)
        for queue in queue_list:
            self._add_queue(queue)
        for queue in queue_list:
            self._check_targets(queue)
        for agent in agents:
            self.add_agent(agent)

    # -- configuration ---------------------------------------------------------------------------------------

    def add_queue(self, queue: QueueConfig) -> None:
        """Add a queue whose overflow and escalation targets already exist."""
        self._check_targets(queue)
        self._add_queue(queue)

    def _add_queue(self, queue: QueueConfig) -> None:
        if queue.queue_id in self._queues:
            raise AcdError(f"queue {queue.queue_id} exists")
        self._queues[queue.queue_id] = queue
        self._strategies[queue.queue_id] = strategy_for(queue)
        self._free.add_queue(queue, self._strategies[queue.queue_id])
        self._waiting.add_queue(queue)
        self.estimator.add_queue(queue.queue_id, queue.initial_handle_seconds)

    def _check_targets(self, queue: QueueConfig) -> None:
        targets = [queue.escalation.to_queue] if queue.escalation else []
        if queue.overflow is not None and queue.overflow.queue_id is not None:
            targets.append(queue.overflow.queue_id)
        for target in targets:
            if target not in self._queues and target != queue.queue_id:
                raise UnknownEntity(f"queue {queue.queue_id} moves calls to unknown queue {target}")

    def add_agent(self, agent: AgentConfig) -> None:
        if agent.agent_id in self._agents:
            raise AcdError(f"agent {agent.agent_id} exists")
        for membership in agent.memberships:
            self._queue(membership.queue_id)
        memberships = {m.queue_id: m for m in agent.memberships}
        self._agents[agent.agent_id] = AgentRecord(agent_id=agent.agent_id, memberships=memberships)

    def rebuild_indexes(self, agent_index: AgentIndex, call_index: CallIndex) -> None:
        """Move the free agents and waiting calls into other (empty) search structures, for example a linear
        scan to check the indexed decisions against."""
        for queue_id, queue in self._queues.items():
            agent_index.add_queue(queue, self._strategies[queue_id])
            call_index.add_queue(queue)
        for agent in self._agents.values():
            if agent.free:
                agent_index.add(agent)
        for entry in self._calls.values():
            if not entry.offered_to:
                call_index.add(entry)
        self._free, self._waiting = agent_index, call_index

    # -- outputs and queries ---------------------------------------------------------------------------------

    def events(self) -> list[AcdEvent]:
        """Drain the events produced since the last call."""
        out, self._events = self._events, []
        return out

    def agent_state(self, agent_id: str) -> AgentState:
        return self._agent(agent_id).machine.state

    def offered_call(self, agent_id: str) -> str | None:
        return self._agent(agent_id).offered_call

    def free_since(self, agent_id: str) -> float | None:
        """When a free agent (available and offered nothing) became idle; None when the agent is not free."""
        agent = self._agent(agent_id)
        return agent.idle_since if agent.free else None

    def lent_call(self, agent_id: str) -> str | None:
        """The dialer's call an agent is reserved for (`Acd.reserve_outbound`), if any."""
        return self._agent(agent_id).lent_call

    def queue_of(self, call_id: str) -> str | None:
        entry = self._calls.get(call_id)
        return None if entry is None else entry.queue_id

    def position(self, call_id: str) -> int | None:
        """1 for the head of the queue; None while the call is being offered."""
        entry = self._call(call_id)
        return None if entry.offered_to else self._waiting.position(entry)

    def estimated_wait(self, call_id: str) -> float | None:
        """Seconds until the call is offered (see :mod:`duplex.acd.estimator`); None if unknown."""
        position = self.position(call_id)
        if position is None:
            return 0.0
        queue_id = self._calls[call_id].queue_id
        return self.estimator.estimate(queue_id, position, self._staffed[queue_id])

    def waiting_count(self, queue_id: str) -> int:
        return self._waiting.size(self._queue(queue_id).queue_id)

    def free_agents(self, queue_id: str) -> int:
        return self._free.free_count(self._queue(queue_id).queue_id)

    def staffed_agents(self, queue_id: str) -> int:
        return self._staffed[self._queue(queue_id).queue_id]

    # -- timers ----------------------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        while self._timers and self._stale(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def handle_timer(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)
            if not self._stale(timer):
                self._fire(timer[2], timer[3], now)

    def _arm(self, deadline: float, kind: TimerKind, ref: str, token: int) -> None:
        heapq.heappush(self._timers, (deadline, next(self._seq), kind, ref, token))

    def _stale(self, timer: tuple[float, int, TimerKind, str, int]) -> bool:
        _, _, kind, ref, token = timer
        if kind in CALL_TIMERS:
            entry = self._calls.get(ref)
            return entry is None or entry.epoch != token
        return self._agents[ref].token != token

    def _emit(self, event: AcdEvent) -> None:
        self._events.append(event)

    def _agent(self, agent_id: str) -> AgentRecord:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownEntity(f"unknown agent {agent_id}") from None

    def _queue(self, queue_id: str) -> QueueConfig:
        try:
            return self._queues[queue_id]
        except KeyError:
            raise UnknownEntity(f"unknown queue {queue_id}") from None

    def _call(self, call_id: str) -> CallEntry:
        try:
            return self._calls[call_id]
        except KeyError:
            raise UnknownEntity(f"call {call_id} is not queued") from None

    def _offer_of(self, agent: AgentRecord) -> CallEntry:
        if agent.offered_call is None:
            raise IllegalTransition(f"agent {agent.agent_id} has no offer ({agent.machine.state.value})")
        return self._calls[agent.offered_call]

    def _set_state(
        self,
        agent: AgentRecord,
        inp: AgentInput,
        now: float,
        *,
        reason: str = "",
        call_id: str | None = None,
        queue_id: str | None = None,
    ) -> None:
        old = agent.machine.state
        new = agent.machine.apply(inp, reason)
        agent.token += 1
        if (old in STAFFED) != (new in STAFFED):
            for member_queue in agent.memberships:
                self._staffed[member_queue] += 1 if new in STAFFED else -1
        self._emit(
            AgentStateChanged(
                at=now,
                agent_id=agent.agent_id,
                old=old,
                new=new,
                reason=reason or inp.value,
                call_id=call_id,
                queue_id=queue_id,
            )
        )

    def _unindex(self, agent: AgentRecord) -> None:
        if agent.free:
            self._free.remove(agent)
            agent.free = False

    def _fire(self, kind: TimerKind, ref: str, now: float) -> None:
        raise NotImplementedError
