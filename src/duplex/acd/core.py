"""The ACD core: queues, offers and agent states, decided on events.

Rules of this module (h11 style):

1. Sans-IO: no sockets, no asyncio, no clock, no global random. Inputs are method calls carrying ``now`` and
   ``handle_timer(now)``; outputs are drained with ``events()``; ``get_timer()`` returns the next deadline.
2. Decisions happen on events only (a call enters, an agent becomes free, an offer fails, a relaxation step
   passes), never by polling. After every input no waiting call has a free agent that may take it, so a freed
   agent is the only candidate for the calls it can take, and a new call only has to search the free agents.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Iterable

from duplex.acd.agent_state import TRANSITIONS, AgentInput, AgentState
from duplex.acd.config import TIME_EPSILON, AgentConfig, OverflowKind, QueueConfig
from duplex.acd.errors import AcdError, IllegalTransition, UnknownEntity
from duplex.acd.estimator import EwmaHandleTimeEstimator
from duplex.acd.events import (
    AcdEvent,
    AgentAccepted,
    AgentNoAnswer,
    AgentOffered,
    AgentRejected,
    AgentStateChanged,
    CallbackDue,
    CancelReason,
    LeftReason,
    OfferCancelled,
    QueueEntered,
    QueueLeft,
)
from duplex.acd.index import AgentIndex, CallIndex, FreeAgentIndex, WaitingCalls
from duplex.acd.records import AgentRecord, CallEntry
from duplex.acd.strategies import Strategy, strategy_for

__all__ = ["Acd"]

I = AgentInput  # noqa: E741 - short alias
STAFFED = frozenset({AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})


class TimerKind(enum.Enum):
    RELAX = "relaxation step"
    ESCALATE = "escalation"
    MAX_WAIT = "max wait"
    NO_ANSWER = "offer timeout"
    WRAP_UP_END = "wrap-up end"
    RELEASE = "reject delay end"


CALL_TIMERS = frozenset({TimerKind.RELAX, TimerKind.ESCALATE, TimerKind.MAX_WAIT})


class Acd:
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

    # -- agent inputs ----------------------------------------------------------------------------------------

    def login(self, agent_id: str, now: float) -> None:
        agent = self._agent(agent_id)
        self._set_state(agent, I.LOGIN, now)
        agent.idle_since = now
        self._agent_free(agent, now)

    def ready(self, agent_id: str, now: float) -> None:
        """Back to available from a break, wrap-up (ended early) or not-responding."""
        agent = self._agent(agent_id)
        was = agent.machine.state
        self._set_state(agent, I.READY, now)
        if was is AgentState.WRAP_UP:
            self._observe_handle(agent, now)
        agent.idle_since = now
        self._agent_free(agent, now)

    def aux(self, agent_id: str, reason: str, now: float) -> None:
        """A break with a reason code (lunch, training, ...)."""
        agent = self._agent(agent_id)
        was = agent.machine.state
        self._set_state(agent, I.AUX, now, reason=reason)
        self._unindex(agent)
        if was is AgentState.WRAP_UP:
            self._observe_handle(agent, now)

    def logout(self, agent_id: str, now: float) -> None:
        """Log out; a call ringing this agent goes back to the head of its queue."""
        agent = self._agent(agent_id)
        was = agent.machine.state
        if I.LOGOUT not in TRANSITIONS[was]:
            raise IllegalTransition(f"agent {agent_id} cannot log out while {was.value}")
        entry = (
            self._withdraw(agent, CancelReason.AGENT_LOGGED_OUT, now) if was is AgentState.RESERVED else None
        )
        self._set_state(agent, I.LOGOUT, now)
        self._unindex(agent)
        if was is AgentState.WRAP_UP:
            self._observe_handle(agent, now)
        if entry is not None and not entry.offered_to:
            self._requeue_head(entry, now)

    def accept(self, agent_id: str, now: float) -> None:
        """The agent answered the offered call: it leaves the queue, the agent is on the call."""
        agent = self._agent(agent_id)
        entry = self._offer_of(agent)
        self._set_state(agent, I.ACCEPT, now, call_id=entry.call_id, queue_id=entry.queue_id)
        agent.offered_call = None
        agent.current_call, agent.current_queue, agent.talk_started = entry.call_id, entry.queue_id, now
        entry.offered_to.discard(agent_id)
        self._emit(AgentAccepted(at=now, call_id=entry.call_id, queue_id=entry.queue_id, agent_id=agent_id))
        reason = LeftReason.CALLBACK if entry.callback_number is not None else LeftReason.ANSWERED
        others = [self._agents[other] for other in sorted(entry.offered_to)]
        self._leave(entry, reason, now, agent_id=agent_id)
        for other in others:  # ring-all: everyone else stops ringing
            self._cancel_offer(other, entry, CancelReason.ANSWERED_ELSEWHERE, now)
        for other in others:
            self._agent_free(other, now)

    def reject(self, agent_id: str, now: float) -> None:
        """The agent declined: the call goes back to the head of its queue, the agent is held back a while."""
        agent = self._agent(agent_id)
        entry = self._offer_of(agent)
        self._emit(AgentRejected(at=now, call_id=entry.call_id, queue_id=entry.queue_id, agent_id=agent_id))
        self._set_state(agent, I.REJECT, now, call_id=entry.call_id, queue_id=entry.queue_id)
        agent.offered_call = None
        agent.held_until = now + self.reject_delay_seconds
        entry.offered_to.discard(agent_id)
        if not entry.offered_to:
            self._requeue_head(entry, now)
        self._agent_free(agent, now)

    def connect(self, agent_id: str, call_id: str, now: float) -> None:
        """A call put through to a free agent without an offer (an outbound call of a blended agent)."""
        agent = self._agent(agent_id)
        self._set_state(agent, I.CONNECT, now, call_id=call_id)
        self._unindex(agent)
        agent.current_call, agent.current_queue, agent.talk_started = call_id, None, now

    def call_ended(self, agent_id: str, now: float) -> None:
        """The agent's call ended (either side hung up): wrap-up for the queue's time."""
        agent = self._agent(agent_id)
        queue_id, call_id = agent.current_queue, agent.current_call
        self._set_state(agent, I.HANG_UP, now, call_id=call_id, queue_id=queue_id)
        agent.last_talk = now - agent.talk_started
        agent.talk_seconds += agent.last_talk
        agent.calls_answered += 1
        agent.current_call, agent.wrap_started = None, now
        wrap = self._queues[queue_id].wrap_up_seconds if queue_id else self.default_wrap_up_seconds
        agent.wrap_up_until = now + wrap
        if wrap > 0:
            self._arm(agent.wrap_up_until, TimerKind.WRAP_UP_END, agent_id, agent.token)
        else:
            self._end_wrap_up(agent, now)

    def extend_wrap_up(self, agent_id: str, seconds: float, now: float) -> None:
        agent = self._agent(agent_id)
        self._set_state(agent, I.EXTEND_WRAP_UP, now, queue_id=agent.current_queue)
        agent.wrap_up_until += seconds
        self._arm(agent.wrap_up_until, TimerKind.WRAP_UP_END, agent_id, agent.token)

    # -- call inputs -----------------------------------------------------------------------------------------

    def enqueue(
        self,
        call_id: str,
        queue_id: str,
        now: float,
        *,
        priority: int = 0,
        callback_number: str | None = None,
    ) -> None:
        """A call enters a queue (``callback_number``: a queued callback; nobody waits on the line)."""
        if call_id in self._calls:
            raise AcdError(f"call {call_id} is already queued")
        self._queue(queue_id)
        entry = CallEntry(call_id, queue_id, priority, now, next(self._seq), callback_number=callback_number)
        self._calls[call_id] = entry
        self._enter(entry, queue_id, now)

    def abandon(self, call_id: str, now: float) -> bool:
        """The caller hung up. False if the call is no longer queued (answered or gone: a race, not an error)."""
        entry = self._calls.get(call_id)
        if entry is None:
            return False
        ringing = [self._agents[agent_id] for agent_id in sorted(entry.offered_to)]
        if not ringing:
            self._waiting.remove(entry)
        self._leave(entry, LeftReason.ABANDONED, now)
        for agent in ringing:
            self._cancel_offer(agent, entry, CancelReason.CALLER_ABANDONED, now)
        for agent in ringing:
            self._agent_free(agent, now)
        return True

    def request_callback(self, call_id: str, number: str, now: float) -> None:
        """The caller asks to be called back: the call keeps its place and no longer times out."""
        self._call(call_id).callback_number = number

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

    def _fire(self, kind: TimerKind, ref: str, now: float) -> None:
        if kind in CALL_TIMERS:
            entry = self._calls[ref]
            if kind is TimerKind.RELAX:
                self._arm_relaxation(entry, now)
            if entry.offered_to:
                return  # moves wait for the offer to end (_requeue_head); a ringing call needs no relaxation
            if kind is TimerKind.RELAX:
                self._try_offer(entry, now)
            elif kind is TimerKind.MAX_WAIT and entry.callback_number is None:
                self._waiting.remove(entry)
                self._overflow(entry, now, LeftReason.TIMEOUT)
            elif kind is TimerKind.ESCALATE:
                self._waiting.remove(entry)
                self._escalate(entry, now)
            return
        agent = self._agents[ref]
        if kind is TimerKind.NO_ANSWER:
            self._no_answer(agent, now)
        elif kind is TimerKind.WRAP_UP_END:
            self._end_wrap_up(agent, now)
        else:
            self._agent_free(agent, now)

    # -- internals -------------------------------------------------------------------------------------------

    def _end_wrap_up(self, agent: AgentRecord, now: float) -> None:
        self._set_state(agent, I.WRAP_UP_END, now, queue_id=agent.current_queue)
        self._observe_handle(agent, now)
        agent.idle_since = now
        self._agent_free(agent, now)

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
                old=old.value,
                new=new.value,
                reason=reason or inp.value,
                call_id=call_id,
                queue_id=queue_id,
            )
        )

    def _unindex(self, agent: AgentRecord) -> None:
        if agent.free:
            self._free.remove(agent)
            agent.free = False

    def _agent_free(self, agent: AgentRecord, now: float) -> None:
        """The agent may take a call: the best call waiting for it, else into the free index."""
        if agent.machine.state is not AgentState.AVAILABLE or agent.free:
            return
        if agent.held_until > now:
            self._arm(agent.held_until, TimerKind.RELEASE, agent.agent_id, agent.token)
            return
        entry = self._waiting.best_for(agent, now)
        if entry is not None:
            self._waiting.remove(entry)
            self._offer(entry, [agent.agent_id], now)
        else:
            self._free.add(agent)
            agent.free = True

    def _enter(self, entry: CallEntry, queue_id: str, now: float) -> None:
        queue = self._queues[queue_id]
        entry.queue_id, entry.entered_at, entry.band, entry.seq = queue_id, now, 1, next(self._seq)
        entry.epoch += 1
        full = queue.max_size is not None and self._waiting.size(queue_id) >= queue.max_size
        if full:
            position = self._waiting.size(queue_id) + 1
        else:
            self._waiting.add(entry)
            position = self._waiting.position(entry)
        self._emit(
            QueueEntered(
                at=now, call_id=entry.call_id, queue_id=queue_id, priority=entry.priority, position=position
            )
        )
        if full:
            self._overflow(entry, now, LeftReason.OVERFLOW)
            return
        self._arm_relaxation(entry, now)
        if queue.escalation is not None:
            self._arm(now + queue.escalation.after_seconds, TimerKind.ESCALATE, entry.call_id, entry.epoch)
        if queue.max_wait_seconds is not None:
            self._arm(now + queue.max_wait_seconds, TimerKind.MAX_WAIT, entry.call_id, entry.epoch)
        self._try_offer(entry, now)

    def _arm_relaxation(self, entry: CallEntry, now: float) -> None:
        # Each step is armed when the previous one fires, so a call has at most one relaxation timer.
        step = self._queues[entry.queue_id].next_relaxation_after(now - entry.entered_at)
        if step is not None:
            self._arm(entry.entered_at + step, TimerKind.RELAX, entry.call_id, entry.epoch)

    def _try_offer(self, entry: CallEntry, now: float) -> None:
        queue = self._queues[entry.queue_id]
        tier = self._free.tier(entry.queue_id, queue.min_proficiency_after(now - entry.entered_at))
        if tier:
            agent_ids = self._strategies[entry.queue_id].choose(tier, self.rng)
            self._waiting.remove(entry)
            self._offer(entry, agent_ids[:1] if entry.callback_number is not None else agent_ids, now)

    def _offer(self, entry: CallEntry, agent_ids: list[str], now: float) -> None:
        queue = self._queues[entry.queue_id]
        for agent_id in agent_ids:
            agent = self._agents[agent_id]
            self._unindex(agent)
            agent.offered_call = entry.call_id
            entry.offered_to.add(agent_id)
            offered = AgentOffered(
                at=now,
                call_id=entry.call_id,
                queue_id=entry.queue_id,
                agent_id=agent_id,
                callback_number=entry.callback_number,
            )
            self._emit(offered)
            self._set_state(agent, I.OFFER, now, call_id=entry.call_id, queue_id=entry.queue_id)
            self._strategies[entry.queue_id].offered(agent, agent.memberships[entry.queue_id])
            self._arm(now + queue.offer_timeout_seconds, TimerKind.NO_ANSWER, agent_id, agent.token)
            if entry.callback_number is not None:
                self._emit(
                    CallbackDue(
                        at=now,
                        call_id=entry.call_id,
                        queue_id=entry.queue_id,
                        agent_id=agent_id,
                        callback_number=entry.callback_number,
                    )
                )

    def _withdraw(self, agent: AgentRecord, reason: CancelReason, now: float) -> CallEntry:
        entry = self._offer_of(agent)
        entry.offered_to.discard(agent.agent_id)
        agent.offered_call = None
        self._emit(
            OfferCancelled(
                at=now, call_id=entry.call_id, queue_id=entry.queue_id, agent_id=agent.agent_id, reason=reason
            )
        )
        return entry

    def _cancel_offer(self, agent: AgentRecord, entry: CallEntry, reason: CancelReason, now: float) -> None:
        agent.offered_call = None
        self._emit(
            OfferCancelled(
                at=now, call_id=entry.call_id, queue_id=entry.queue_id, agent_id=agent.agent_id, reason=reason
            )
        )
        self._set_state(agent, I.OFFER_CANCELLED, now, call_id=entry.call_id, queue_id=entry.queue_id)

    def _no_answer(self, agent: AgentRecord, now: float) -> None:
        entry = self._offer_of(agent)
        self._emit(
            AgentNoAnswer(at=now, call_id=entry.call_id, queue_id=entry.queue_id, agent_id=agent.agent_id)
        )
        self._set_state(agent, I.NO_ANSWER, now, call_id=entry.call_id, queue_id=entry.queue_id)
        agent.offered_call = None
        entry.offered_to.discard(agent.agent_id)
        if not entry.offered_to:
            self._requeue_head(entry, now)

    def _requeue_head(self, entry: CallEntry, now: float) -> None:
        """An offer failed: back to the head of the queue, unless a move fell due while it rang."""
        queue = self._queues[entry.queue_id]
        waited = now - entry.entered_at + TIME_EPSILON
        if (
            entry.callback_number is None
            and queue.max_wait_seconds is not None
            and waited >= queue.max_wait_seconds
        ):
            self._overflow(entry, now, LeftReason.TIMEOUT)
        elif queue.escalation is not None and waited >= queue.escalation.after_seconds:
            self._escalate(entry, now)
        else:
            entry.band = 0
            self._waiting.add(entry)
            self._try_offer(entry, now)

    def _overflow(self, entry: CallEntry, now: float, no_target: LeftReason) -> None:
        """Max wait or max size: to the overflow target, else leave with ``no_target`` as the reason."""
        target = self._queues[entry.queue_id].overflow
        if target is None or (target.kind is OverflowKind.QUEUE and entry.hops >= self.max_hops):
            self._leave(entry, no_target, now)
        elif target.kind is OverflowKind.QUEUE and target.queue_id is not None:
            self._move(entry, target.queue_id, now)
        else:
            self._leave(entry, LeftReason.OVERFLOW, now, overflow_kind=target.kind)

    def _escalate(self, entry: CallEntry, now: float) -> None:
        escalation = self._queues[entry.queue_id].escalation
        if escalation is None or entry.hops >= self.max_hops:
            entry.band = 0
            self._waiting.add(entry)
            return
        self._move(entry, escalation.to_queue, now)

    def _move(self, entry: CallEntry, queue_id: str, now: float) -> None:
        self._leave(
            entry,
            LeftReason.OVERFLOW,
            now,
            overflow_kind=OverflowKind.QUEUE,
            overflow_queue=queue_id,
            final=False,
        )
        entry.hops += 1
        self._enter(entry, queue_id, now)

    def _leave(
        self,
        entry: CallEntry,
        reason: LeftReason,
        now: float,
        *,
        agent_id: str | None = None,
        overflow_kind: OverflowKind | None = None,
        overflow_queue: str | None = None,
        final: bool = True,
    ) -> None:
        entry.epoch += 1
        if final:
            del self._calls[entry.call_id]
        self._emit(
            QueueLeft(
                at=now,
                call_id=entry.call_id,
                queue_id=entry.queue_id,
                agent_id=agent_id,
                reason=reason,
                waited=now - entry.entered_at,
                overflow_kind=overflow_kind,
                overflow_queue=overflow_queue,
            )
        )

    def _observe_handle(self, agent: AgentRecord, now: float) -> None:
        if agent.current_queue is not None:
            self.estimator.observe(agent.current_queue, agent.last_talk + now - agent.wrap_started)
            agent.current_queue = None
