"""The ACD core: queues, offers and agent states, decided on events.

Rules of this module (h11 style):

1. Sans-IO: no sockets, no asyncio, no clock, no global random. Inputs are method calls carrying ``now`` and
   ``handle_timer(now)``; outputs are drained with ``events()``; ``get_timer()`` returns the next deadline.
2. Decisions happen on events only (a call enters, an agent becomes free, an offer fails, a relaxation step
   passes), never by polling. After every input no waiting call has a free agent that may take it, so a freed
   agent is the only candidate for the calls it can take, and a new call only has to search the free agents.
"""

from __future__ import annotations

from duplex.acd._base import CALL_TIMERS, AcdBase, TimerKind
from duplex.acd.agent_state import TRANSITIONS, AgentInput, AgentState
from duplex.acd.config import TIME_EPSILON, OverflowKind
from duplex.acd.errors import AcdError, IllegalTransition
from duplex.acd.events import (
    AgentAccepted,
    AgentNoAnswer,
    AgentOffered,
    AgentRejected,
    CallbackDue,
    CancelReason,
    LeftReason,
    OfferCancelled,
    QueueEntered,
    QueueLeft,
)
from duplex.acd.records import AgentRecord, CallEntry

__all__ = ["Acd"]

I = AgentInput  # noqa: E741 - short alias


class Acd(AcdBase):
    """Automatic call distribution over a fixed set of queues and agents (arguments: :class:`AcdBase`)."""

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
        offered = was is AgentState.RESERVED and agent.lent_call is None
        entry = self._withdraw(agent, CancelReason.AGENT_LOGGED_OUT, now) if offered else None
        agent.lent_call = agent.lent_queue = None  # a lent agent's call: the dialer finds the agent gone
        self._set_state(agent, I.LOGOUT, now)
        self._unindex(agent)
        if was is AgentState.WRAP_UP:
            self._observe_handle(agent, now)
        if entry is not None and not entry.offered_to:
            self._requeue_head(entry, now)

    def accept(self, agent_id: str, now: float) -> None:
        """The agent answered the offered call: it leaves the queue, the agent is on the call."""
        agent = self._agent(agent_id)
        entry = self._offer_of(agent)  # an offer exists only in reserved, where accept is in the table
        self._emit(AgentAccepted(at=now, call_id=entry.call_id, queue_id=entry.queue_id, agent_id=agent_id))
        self._set_state(agent, I.ACCEPT, now, call_id=entry.call_id, queue_id=entry.queue_id)
        agent.offered_call = None
        agent.current_call, agent.current_queue, agent.talk_started = entry.call_id, entry.queue_id, now
        entry.offered_to.discard(agent_id)
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
        """A call put through to a free agent without an offer or a reservation (campaign calls reserve first:
        `reserve_outbound`)."""
        agent = self._agent(agent_id)
        self._set_state(agent, I.CONNECT, now, call_id=call_id)
        self._unindex(agent)
        agent.current_call, agent.current_queue, agent.talk_started = call_id, None, now

    # -- outbound: free agents lent to the dialer -------------------------------------------------------------

    def reserve_outbound(
        self, agent_id: str, call_id: str, now: float, *, queue_id: str | None = None
    ) -> None:
        """Reserve a free agent for a call the dialer placed (a lead who answered), as an offer would: the agent
        leaves the free index, so no inbound call is offered to them, and is reserved while their phone rings.
        ``queue_id`` is the campaign's queue: its wrap-up follows the call. No offer timer is armed: the dialer
        gives the phone its own (short) time and then connects or releases the agent.

        Raises:
            IllegalTransition: the agent is not free (not available, or ringing, or held back after a reject).
        """
        agent = self._agent(agent_id)
        if not agent.free:
            raise IllegalTransition(f"agent {agent_id} is not free ({agent.machine.state.value})")
        if queue_id is not None:
            self._queue(queue_id)
        self._unindex(agent)
        self._set_state(agent, I.OFFER, now, call_id=call_id, queue_id=queue_id)
        agent.lent_call, agent.lent_queue = call_id, queue_id

    def connect_outbound(self, agent_id: str, now: float) -> None:
        """The lent agent's phone answered the dialer's call: the agent is on it."""
        agent = self._agent(agent_id)
        call_id, queue_id = agent.lent_call, agent.lent_queue
        if call_id is None:
            raise IllegalTransition(f"agent {agent_id} is not reserved for an outbound call")
        self._set_state(agent, I.ACCEPT, now, call_id=call_id, queue_id=queue_id)
        agent.lent_call = agent.lent_queue = None
        agent.current_call, agent.current_queue, agent.talk_started = call_id, queue_id, now

    def release_outbound(self, agent_id: str, now: float) -> bool:
        """The dialer's call was not put through (the lead hung up, the phone did not answer in time): the agent
        is available again and takes a waiting inbound call at once. False when the agent is no longer reserved
        for an outbound call (logged out meanwhile)."""
        agent = self._agent(agent_id)
        call_id, queue_id = agent.lent_call, agent.lent_queue
        if call_id is None:
            return False
        agent.lent_call = agent.lent_queue = None
        self._set_state(agent, I.OFFER_CANCELLED, now, call_id=call_id, queue_id=queue_id)
        self._agent_free(agent, now)
        return True

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
        at_head: bool = False,
    ) -> None:
        """A call enters a queue (``callback_number``: a queued callback; nobody waits on the line).

        ``at_head``: the call takes the place at the head of its priority, like a call whose offer failed (a
        callback chosen after the queue's max wait keeps the place the caller had earned)."""
        if call_id in self._calls:
            raise AcdError(f"call {call_id} is already queued")
        self._queue(queue_id)
        entry = CallEntry(call_id, queue_id, priority, now, next(self._seq), callback_number=callback_number)
        self._calls[call_id] = entry
        self._enter(entry, queue_id, now, band=0 if at_head else 1)

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
        """The caller asks to be called back: the call keeps its place and no longer times out. The caller's
        hang-up that follows is not an abandon; ``abandon`` now cancels the callback. An offer ringing now is
        withdrawn and made again as a callback (with :class:`CallbackDue`), so nobody answers an empty line."""
        entry = self._call(call_id)
        entry.callback_number = number
        if not entry.offered_to:
            return
        ringing = [self._agents[agent_id] for agent_id in sorted(entry.offered_to)]
        entry.offered_to.clear()
        for agent in ringing:
            self._cancel_offer(agent, entry, CancelReason.CALLBACK_REQUESTED, now)
        self._requeue_head(entry, now)
        for agent in ringing:
            self._agent_free(agent, now)

    # -- timers ----------------------------------------------------------------------------------------------

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

    def _enter(self, entry: CallEntry, queue_id: str, now: float, band: int = 1) -> None:
        queue = self._queues[queue_id]
        entry.queue_id, entry.entered_at, entry.band, entry.seq = queue_id, now, band, next(self._seq)
        entry.epoch += 1
        # max_size limits callers holding a line; a queued callback holds none, so it always gets its place.
        full = (
            entry.callback_number is None
            and queue.max_size is not None
            and self._waiting.size(queue_id) >= queue.max_size
        )
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
        entry.band = 0
        if (
            entry.callback_number is None
            and queue.max_wait_seconds is not None
            and waited >= queue.max_wait_seconds
        ):
            self._overflow(entry, now, LeftReason.TIMEOUT)
        elif queue.escalation is not None and waited >= queue.escalation.after_seconds:
            self._escalate(entry, now)
        else:
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
            self._waiting.add(entry)  # stays where it is, in the queue it has reached
            self._try_offer(entry, now)
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
