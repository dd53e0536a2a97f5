"""`ContactCenter`: the node's one live ACD, fed by calls, agents and its own timers, its decisions carried out
on real calls.

The ACD core (`duplex.acd.Acd`) decides; this service rings the offered agent's registered phone
(`uac.originate` to the registrar binding), tells the ACD whether the phone answered, rejected or rang out,
cancels the INVITE when the ACD withdraws the offer (caller hung up, no answer, logout), and hands an answered
agent leg to the waiting caller's `FlowCall`, which bridges it. Every ACD event becomes a recorded event naming
the call, the queue and the agent. The ACD clock is the event loop's (`loop.time()`).

Agent states start logged out at every start-up: the calls of a previous run are gone, so no agent can still
be reserved or on one of them, and whether an available agent is still at the desk is unknown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from duplex.acd import (
    Acd,
    AcdError,
    AcdEvent,
    AgentAccepted,
    AgentNoAnswer,
    AgentOffered,
    AgentRejected,
    AgentState,
    CallbackDue,
    InboundFirstBlending,
    OfferCancelled,
    QueueEntered,
    QueueLeft,
    ServiceLevelWindow,
)
from duplex.config import Settings
from duplex.events.bus import EventBus
from duplex.events.types import EventEnvelope
from duplex.ivr import InvalidFlow
from duplex.ivr import load_flow as load_flow_definition
from duplex.services.calls.b2bua import call_info_headers
from duplex.services.calls.call import Call, CallControl, Leg
from duplex.services.calls.uac import OutboundLeg, originate
from duplex.services.calls.uas import InboundLeg
from duplex.services.contact_center.callback import call_customer_back
from duplex.services.contact_center.flow_call import FlowCall
from duplex.services.ivr_prompts import PromptCache
from duplex.stores.call_store import AgentInfo, TelephonyStore
from duplex.stores.center_store import (
    CenterConfig,
    load_center,
    load_flow,
    purge_recordings,
    reset_agent_states,
    save_agent_state,
)

__all__ = ["FEATURE_CODES", "ContactCenter", "Offer", "queue_only_flow"]

log = logging.getLogger("duplex.services.contact_center")

CONFIG_ENTITIES = frozenset({"queue", "agent", "skill", "team", "queue_member", "queue_skill", "agent_skill"})
RETENTION_INTERVAL = 3600.0  # seconds between two retention runs

# Dialled from an agent's registered phone: log in / become available, pause, log out.
FEATURE_CODES = {"*21": "available", "*22": "aux", "*23": "logged_out"}
FEATURE_PROMPTS = {
    "available": "You are available.",
    "aux": "You are paused.",
    "logged_out": "You are logged out.",
}


def queue_only_flow(queue_id: int) -> dict[str, Any]:
    """Answer and queue; max wait and max size run the queue's overflow action, else hang up
    (``queue_timeout`` / ``queue_overflow``)."""
    return {"format": 1, "start": "answer", "language": "en", "nodes": {
        "answer": {"type": "answer", "next": "queue"},
        "queue": {"type": "queue", "queue": queue_id},
    }}  # fmt: skip


@dataclass(slots=True)
class Offer:
    """An offer ringing an agent's phone."""

    call_id: str
    queue_id: str
    agent_id: str
    started: float
    leg: OutboundLeg | None = None
    withdrawn: bool = False


class ContactCenter:
    def __init__(self, settings: Settings, store: TelephonyStore, *, rng: random.Random | None = None,
                 prompts: PromptCache | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.store = store
        self.rng = rng or random.Random()
        self.prompts = prompts or PromptCache(settings.data_dir)
        self.control: CallControl | None = None
        self.config = CenterConfig()
        self.acd = Acd((), (), rng=self.rng)
        self.active: dict[str, FlowCall] = {}  # call id -> every call running a flow
        self.callbacks: set[str] = set()  # ACD call ids of queued callbacks (the caller has hung up)
        self.waiting: dict[str, FlowCall] = {}  # ACD call id -> the caller's flow (on the line)
        self.offers: dict[str, Offer] = {}  # agent id -> its ringing offer
        self.talking: dict[str, Leg] = {}  # agent id -> the agent's leg of a connected call
        self.lent: dict[str, str] = {}  # agent id -> the campaign call it is reserved for or on (acd_pool)
        self.service_level = ServiceLevelWindow()  # inbound, fed by drain(): what blending looks at
        self.blending = InboundFirstBlending(min_service_level=settings.blend_min_service_level,
                                             reserve_free_agents=settings.blend_reserve_free_agents)  # fmt: skip
        self.since: dict[str, float] = {}  # agent id -> wall-clock time of the last state change
        self.reasons: dict[str, str] = {}
        self._changed_by: int | None = None
        self._wake = asyncio.Event()
        self._timer_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- life cycle ------------------------------------------------------------------------------------------

    def attach(self, control: CallControl) -> None:
        self.control = control

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        stale = await loop.run_in_executor(None, reset_agent_states, self.store.sessions)
        for agent_id, state in sorted(stale.items()):
            self.store.emit("agent.state_changed", agent_id=agent_id,
                            data={"from": state, "to": AgentState.LOGGED_OUT.value, "reason": "node_restart",
                                  "by_user_id": None})  # fmt: skip
        await self.reload()
        self._timer_task = asyncio.ensure_future(self._run_timers())
        if self.settings.recording_retention_days > 0:
            self.spawn(self._retention())

    async def stop(self) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()
        for task in list(self._tasks):
            task.cancel()

    def follow_config(self, bus: EventBus) -> None:
        """Reload queues and agents when the API changes them (``config.changed``); while calls are queued or
        connected the reload waits for the next event that finds the center idle."""
        self.spawn(self._follow_config(bus.subscribe()))

    async def _follow_config(self, events: asyncio.Queue[EventEnvelope]) -> None:
        pending = False
        while True:
            event = await events.get()
            if event.type == "config.changed" and event.data.get("entity") in CONFIG_ENTITIES:
                pending = True
            if pending and not (self.waiting or self.offers or self.talking or self.lent):
                pending = False
                await self.reload()

    async def _retention(self) -> None:
        """Delete recordings older than the retention setting, at start-up and then hourly."""
        loop = asyncio.get_running_loop()
        while True:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.settings.recording_retention_days)
            directory = self.settings.data_dir / "recordings"
            deleted = await loop.run_in_executor(
                None, purge_recordings, self.store.sessions, directory, cutoff
            )
            if deleted:
                log.info("retention: deleted %d recordings older than %s", deleted, cutoff.isoformat())
            await asyncio.sleep(RETENTION_INTERVAL)

    def recording(self, call_id: str, action: str) -> bool:
        """Start (on demand), pause, resume or stop the recording of a connected call; False when the call
        is not connected here (or has no recording to pause)."""
        flow = self.active.get(call_id)
        if flow is None:
            return False
        if action == "start":
            return flow.start_recording()
        if action == "stop":
            flow.stop_recording()
            return True
        return flow.pause_recording(action == "pause")

    async def reload(self) -> None:
        """Load queues and agents again (after a configuration change). The ACD is rebuilt only while no call
        waits or rings, so nobody loses a place; agents keep their state (available ones log in again)."""
        config = await asyncio.get_running_loop().run_in_executor(None, load_center, self.store.sessions)
        if self.waiting or self.offers or self.talking or self.lent:
            log.info("configuration reload deferred: calls are queued or connected")
            return
        states = {a.agent_id: self.acd.agent_state(a.agent_id) for a in self.config.agents}
        self.config = config  # each queue's ring timeout is its own (`QueueConfig.offer_timeout_seconds`)
        self.acd = Acd(config.queues, config.agents, rng=self.rng)
        now = self.now()
        for agent in config.agents:
            previous = states.get(agent.agent_id, AgentState.LOGGED_OUT)
            if previous is not AgentState.LOGGED_OUT:
                self.acd.login(agent.agent_id, now)
                if previous is AgentState.AUX:
                    self.acd.aux(agent.agent_id, self.reasons.get(agent.agent_id, ""), now)
        self.acd.events()  # the same states again: nothing to record

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def spawn(self, coro: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_timers(self) -> None:
        while True:
            deadline = self.acd.get_timer()
            self._wake.clear()
            timeout = None if deadline is None else max(0.0, deadline - self.now())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                self.acd.handle_timer(self.now())
                self.drain()

    # -- agent states ----------------------------------------------------------------------------------------

    def agent_state(self, agent_id: int) -> tuple[AgentState, float, str]:
        """State, seconds in it and the aux reason."""
        key = str(agent_id)
        state = self.acd.agent_state(key)
        return state, time.time() - self.since.get(key, time.time()), self.reasons.get(key, "")

    def set_state(
        self, agent_id: int, state: str, *, reason: str = "", by_user_id: int | None = None
    ) -> AgentState:
        """``available``, ``aux`` (with a reason) or ``logged_out``. Raises `IllegalTransition` (for example
        aux while on a call) and `KeyError` for an unknown agent or state."""
        key, now = str(agent_id), self.now()
        current = self.acd.agent_state(key)
        self._changed_by = by_user_id
        try:
            if state == "available":
                if current is AgentState.LOGGED_OUT:
                    self.acd.login(key, now)
                elif current is not AgentState.AVAILABLE:
                    self.acd.ready(key, now)
            elif state == "aux":
                self.acd.aux(key, reason or "break", now)
            elif state == "logged_out":
                if current is not AgentState.LOGGED_OUT:
                    self.acd.logout(key, now)
            else:
                raise KeyError(state)
            self.drain()
        finally:
            self._changed_by = None
        return self.acd.agent_state(key)

    def agent_placed_call(self, agent_id: int, leg: InboundLeg) -> None:
        """The agent's phone placed a call (dial box, desk phone): an available agent is busy with it for the
        ACD, so neither a queue nor a campaign offers them a call meanwhile; then the default wrap-up."""
        key = str(agent_id)
        try:
            if self.acd.agent_state(key) is not AgentState.AVAILABLE:
                return  # e.g. a consultation during a queue call, which keeps them busy already
            self.acd.connect(key, leg.call.id, self.now())
        except (AcdError, KeyError):  # not an ACD agent (a supervisor's phone), or held back after a reject
            return
        self.drain()
        self.talking[key] = leg
        self.spawn(self._after_call(key, leg))

    async def feature_code(self, leg: InboundLeg, agent: AgentInfo, code: str) -> None:
        """An agent dialled *21/*22/*23 from the phone: change the state, say the new one, hang up."""
        try:
            self.set_state(agent.id, FEATURE_CODES[code], reason="phone")
            text = FEATURE_PROMPTS[FEATURE_CODES[code]]
        except AcdError:
            text = "That is not possible now."
        await leg.answer()
        if leg.is_up:
            path = await asyncio.get_running_loop().run_in_executor(
                None, self.prompts.render, text, "en", None
            )
            await leg.play(wav=path)
        if leg.is_up:
            await leg.hangup("feature_code")

    # -- calls -----------------------------------------------------------------------------------------------

    async def run_number(self, leg: Leg) -> None:
        """A call to a number with a published flow runs it; a number with only a queue is answered and
        queued (an implicit flow: answer, queue, hang up)."""
        number = leg.control.directory.number(leg.call.to_number)
        assert isinstance(leg, InboundLeg) and number is not None
        loaded = None
        if number.flow_id is not None:
            loop = asyncio.get_running_loop()
            loaded = await loop.run_in_executor(None, load_flow, self.store.sessions, number.flow_id)
        if loaded is not None:
            flow_id, (version, definition) = number.flow_id or 0, loaded
        elif number.queue_id is not None:
            flow_id, version, definition = 0, 0, queue_only_flow(number.queue_id)
        else:
            await leg.reject(404, "flow_not_published")
            return
        try:
            flow = load_flow_definition(definition)
        except InvalidFlow as exc:
            log.error("flow %s v%s of %s is invalid: %s", flow_id, version, number.number, exc)
            await leg.reject(500, "invalid_flow")
            return
        flow_call = FlowCall(self, leg, flow_id, version, flow)
        self.active[leg.call.id] = flow_call
        try:
            await flow_call.run_flow()
        finally:
            self.active.pop(leg.call.id, None)

    def enqueue(self, flow: FlowCall, queue: str | int, priority: int) -> bool:
        queue_id = self.config.queue_id(queue)
        if queue_id is None:
            log.warning("flow names unknown queue %r", queue)
            return False
        self.waiting[flow.call_id] = flow
        self.acd.enqueue(flow.call_id, queue_id, self.now(), priority=priority)
        self.drain()
        return True

    def abandon(self, call_id: str) -> None:
        """The caller hung up; a call that asked for a callback keeps its place."""
        self.waiting.pop(call_id, None)
        if call_id not in self.callbacks and self.acd.abandon(call_id, self.now()):
            self.drain()

    def request_callback(
        self, flow: FlowCall, queue: str | int, number: str, *, at_head: bool = False
    ) -> bool:
        """Keep the caller's place (or take one: ``at_head`` after the queue's overflow offered the callback)
        and call ``number`` back when an agent is reserved."""
        if flow.call_id in self.waiting:
            self.waiting.pop(flow.call_id)
            self.acd.request_callback(flow.call_id, number, self.now())
        else:
            queue_id = self.config.queue_id(queue)
            if queue_id is None or self.acd.queue_of(flow.call_id) is not None:
                return False
            self.acd.enqueue(flow.call_id, queue_id, self.now(), callback_number=number, at_head=at_head)
        self.callbacks.add(flow.call_id)
        self.drain()
        return True

    def drain(self) -> None:
        """Record the ACD's events and carry out its decisions."""
        for event in self.acd.events():
            self.service_level.observe(event)
            self._record(event)
            self._act(event)
        self._wake.set()

    def _record(self, event: AcdEvent) -> None:
        if isinstance(event, CallbackDue | OfferCancelled):
            return  # carried out (a call back, a CANCEL); the legs' own events record them
        queue_id = int(event.queue_id) if event.queue_id is not None else None
        agent_id = int(event.agent_id) if event.agent_id is not None else None
        data: dict[str, Any]
        if isinstance(event, QueueEntered):
            type_, data = "queue.entered", {"priority": event.priority, "position": event.position}
        elif isinstance(event, QueueLeft):
            to_queue = int(event.overflow_queue) if event.overflow_queue else None
            type_ = "queue.left"
            data = {
                "reason": event.reason.value,
                "waited_ms": int(event.waited * 1000),
                "to_queue_id": to_queue,
                "overflow_to": event.overflow_kind.value if event.overflow_kind else None,
            }
        elif isinstance(event, AgentOffered):
            queue = next(q for q in self.config.queues if q.queue_id == event.queue_id)
            type_ = "agent.offered"
            data = {"strategy": queue.strategy.value, "ring_timeout_s": queue.offer_timeout_seconds}
        elif isinstance(event, AgentAccepted | AgentNoAnswer | AgentRejected):
            offer = self.offers.get(event.agent_id)
            ring_ms = int((event.at - offer.started) * 1000) if offer else None
            if isinstance(event, AgentRejected):
                status = offer.leg.sip_status if offer and offer.leg else None
                type_, data = "agent.rejected", {"sip_status": status}
            else:
                type_ = "agent.accepted" if isinstance(event, AgentAccepted) else "agent.no_answer"
                data = {"ring_ms": ring_ms}
        else:
            type_ = "agent.state_changed"
            data = {"from": event.old.value, "to": event.new.value, "reason": event.reason or None,
                    "by_user_id": self._changed_by}  # fmt: skip
            self.since[event.agent_id] = time.time()
            self.reasons[event.agent_id] = event.reason if event.new is AgentState.AUX else ""
            self.spawn(asyncio.get_running_loop().run_in_executor(
                None, save_agent_state, self.store.sessions, int(event.agent_id), event.new.value))  # fmt: skip
        self.store.emit(type_, call_id=event.call_id, queue_id=queue_id, agent_id=agent_id, data=data)

    def _act(self, event: AcdEvent) -> None:
        if isinstance(event, AgentOffered):
            offer = Offer(event.call_id, event.queue_id, event.agent_id, event.at)
            self.offers[event.agent_id] = offer
            self.spawn(self._ring(offer, event.callback_number))
        elif isinstance(event, OfferCancelled | AgentNoAnswer):
            self._withdraw(event.agent_id)
        elif isinstance(event, QueueLeft) and self.acd.queue_of(event.call_id) is None:
            self.callbacks.discard(event.call_id)
            flow = self.waiting.get(event.call_id)
            if flow is not None and event.reason.value in ("overflow", "timeout"):
                del self.waiting[event.call_id]
                kind = event.overflow_kind.value if event.overflow_kind is not None else None
                flow.queue_left(event.reason.value, kind, event.queue_id)

    def _withdraw(self, agent_id: str) -> None:
        offer = self.offers.pop(agent_id, None)
        if offer is not None:
            offer.withdrawn = True
            if offer.leg is not None:
                self.spawn(offer.leg.hangup("offer_withdrawn"))  # CANCEL while it rings

    async def _ring(self, offer: Offer, callback_number: str | None) -> None:
        control = self.control
        assert control is not None, "attach() the switch before calls arrive"
        agent = control.directory.agent(int(offer.agent_id))
        bindings = control.registrations.lookup(agent.sip_username, control.now()) if agent else []
        flow = self.waiting.get(offer.call_id)
        if not bindings or (flow is None and callback_number is None):
            self._offer_failed(offer, aux="unreachable" if not bindings else "")
            return
        binding = bindings[0]
        addr = (binding.source.host, binding.source.port)
        control.use_stream(addr, binding.source.transport)
        extra: tuple[tuple[str, str], ...] = ()
        if flow is not None:
            call, codecs, caller = flow.leg.call, flow.leg.codecs, flow.leg.call.from_number
            extra = call_info_headers(call)  # the desktop's screen pop finds the call by X-Duplex-Call-Id
        else:
            call = Call(
                control,
                direction="outbound",
                from_number="duplex",
                to_number=agent.extension if agent else "",
            )
            call.hangup_together = False
            codecs, caller = None, callback_number or "duplex"
        leg = await originate(call, binding.contact, contact=addr, agent_id=int(offer.agent_id), kind="agent",
                              from_value=f"<sip:{caller}@{control.public_ip}>", codecs=codecs,
                              extra=extra)  # fmt: skip
        offer.leg = leg
        if offer.withdrawn:
            await leg.hangup("offer_withdrawn")
            return
        answered = await leg.answered
        if self.offers.get(offer.agent_id) is not offer:  # withdrawn meanwhile (no answer, caller gone)
            if answered:
                await leg.hangup("offer_withdrawn")
            return
        del self.offers[offer.agent_id]
        if not answered:
            self._offer_failed(offer)
            return
        self.acd.accept(offer.agent_id, self.now())
        self.drain()
        self.talking[offer.agent_id] = leg
        self.spawn(self._after_call(offer.agent_id, leg))
        if callback_number is not None:
            self.spawn(call_customer_back(leg, callback_number))
        elif (flow := self.waiting.pop(offer.call_id, None)) is not None:
            flow.connect(leg, offer.queue_id, offer.agent_id)
        else:
            await leg.hangup("caller_gone")

    def _offer_failed(self, offer: Offer, aux: str = "") -> None:
        self.offers.pop(offer.agent_id, None)
        if self.acd.offered_call(offer.agent_id) == offer.call_id:
            self.acd.reject(offer.agent_id, self.now())
            if aux:
                self.acd.aux(offer.agent_id, aux, self.now())
        self.drain()

    async def _after_call(self, agent_id: str, leg: Leg) -> None:
        """The agent's leg ended: wrap-up (the queue's time), then available (an ACD timer)."""
        await leg.ended.wait()
        self.talking.pop(agent_id, None)
        self.acd.call_ended(agent_id, self.now())
        self.drain()
