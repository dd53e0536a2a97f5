"""`FlowCall`: one caller's leg driven through an IVR flow (`duplex.ivr.FlowRun`).

The run is a sans-IO core: this shell feeds it what happens on the leg (answered, DTMF digits, prompts done,
lookup answers, queue results, the agent or the caller hanging up) and carries out its commands. Prompts play
one after another from the prompt cache; a digit during a prompt stops it (barge-in). While the caller waits in
a queue they hear their position and estimated wait, with hold tones between the announcements.

The run's clock (`flow_clock`) is the POSIX time when the flow started, advanced by the event loop's clock:
opening hours and time-of-day conditions read the time of day, while the run's timers (a menu's digit timeout,
a lookup's deadline; `get_timer`) wait on the loop's clock, so they fire after exactly their seconds, never
jump with the wall clock, and run on virtual time in tests.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from duplex.acd import Acd
from duplex.config import Settings
from duplex.ivr import (
    AgentHungUp,
    Answer,
    Answered,
    CallContext,
    CallerHungUp,
    CollectDigits,
    Digit,
    Enqueue,
    Flow,
    FlowEnded,
    FlowRun,
    Hangup,
    HttpLookup,
    InputEvent,
    NodeEntered,
    OfferCallback,
    Output,
    Play,
    PromptDone,
    QueueOutcome,
    QueueResult,
    RecordingDone,
    Say,
    StopPrompt,
    SurveyAnswered,
    Transfer,
    VariableSet,
    Voicemail,
)
from duplex.ivr.announcements import position_announcement
from duplex.media.events import DtmfReceived, MediaEvent
from duplex.media.recorder import CallRecorder
from duplex.media.tones import cadence
from duplex.services.calls.call import Leg
from duplex.services.calls.uas import InboundLeg
from duplex.services.contact_center.voicemail import deliver_voicemail
from duplex.services.ivr_lookup import run_lookup
from duplex.services.ivr_prompts import PromptCache
from duplex.stores.center_store import CenterConfig

__all__ = ["HOLD_SECONDS", "CenterPort", "FlowCall", "flow_clock"]

log = logging.getLogger("duplex.services.contact_center.flow_call")

HOLD_SECONDS = 20.0  # hold tones between two position announcements


class CenterPort(Protocol):
    """What a flow asks of the contact center (`center.ContactCenter`)."""

    settings: Settings
    config: CenterConfig
    acd: Acd
    rng: random.Random
    prompts: PromptCache
    waiting: dict[str, FlowCall]

    def spawn(self, coro: Any) -> asyncio.Future[Any]: ...
    def enqueue(self, flow: FlowCall, queue: str | int, priority: int) -> bool: ...
    def abandon(self, call_id: str) -> None: ...
    def request_callback(
        self, flow: FlowCall, queue: str | int, number: str, *, at_head: bool = False
    ) -> bool: ...


def recordable(value: object) -> str | int | float | bool | None:
    """A variable's value as the event record keeps it: scalars as they are, what a lookup mapped from an
    object or a list as its JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def flow_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """A flow's clock: POSIX seconds now, moving from here on with ``loop.time()`` (see the module's doc)."""
    offset = time.time() - loop.time()
    return lambda: offset + loop.time()


class FlowCall:
    def __init__(self, center: CenterPort, leg: InboundLeg, flow_id: int, version: int, flow: Flow,
                 *, clock: Callable[[], float] | None = None) -> None:  # fmt: skip
        self.center = center
        self.leg = leg
        self.call_id = leg.call.id
        self.flow_id = flow_id
        self.version = version
        number = leg.control.directory.number(leg.call.to_number)
        self.run = FlowRun(flow, CallContext(caller_id=leg.call.from_number, called_number=leg.call.to_number,
                                             tracking_source=number.tracking_source if number else None))  # fmt: skip
        self.inputs: asyncio.Queue[InputEvent] = asyncio.Queue()
        self._prompts: collections.deque[Path] = collections.deque()
        self._player: asyncio.Task[None] | None = None
        self._hold: asyncio.Task[None] | None = None
        self.agent_leg: Leg | None = None
        self.recorder: CallRecorder | None = None
        self.recording_path: Path | None = None
        self.announcements: list[str] = []  # what the caller was told while waiting
        self.language = flow.language  # of the queue announcements (the Enqueue says which)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._clock = clock  # the run's `now` (default: `flow_clock` from when the flow starts)

    # -- what the center tells the caller's flow --------------------------------------------------------------

    def queue_left(self, reason: str, overflow_to: str | None = None, queue_id: str | None = None) -> None:
        """The call left its queue without an agent: max wait or max size, and the queue's overflow action
        (``voicemail`` or ``callback``; the flow runs it unless its queue node names its own target)."""
        self._stop_hold()
        outcome = QueueOutcome.TIMEOUT if reason == "timeout" else QueueOutcome.OVERFLOW
        policy = self.center.config.policies.get(queue_id) if queue_id is not None else None
        webhook = policy.voicemail_webhook if policy is not None and policy.voicemail_webhook else None
        self.inputs.put_nowait(QueueResult(outcome=outcome, target=overflow_to, voicemail_webhook=webhook,
                                           queue=queue_id))  # fmt: skip

    def connect(self, agent_leg: Leg, queue_id: str, agent_id: str) -> None:
        """An agent answered the offer: bridge the caller to them (and record, by the queue's policy)."""
        self._stop_hold()
        caller = self.leg
        if not caller.is_up or caller.media is None or agent_leg.media is None:
            self._spawn(agent_leg.hangup("caller_gone"))
            return
        self.agent_leg = agent_leg
        caller.media.stop_playback()
        caller.media.bridge(agent_leg.media)
        caller.bridged_to, agent_leg.bridged_to = agent_leg, caller
        caller.emit("call.bridged", {"legs": [caller.id, agent_leg.id]}, agent_id=int(agent_id))
        policy = self.center.config.policies.get(queue_id)
        if policy is not None and (
            policy.recording == "all"
            or (policy.recording == "percent" and self.center.rng.random() * 100 < policy.recording_percent)
        ):
            self.start_recording(agent_id)  # fmt: skip
        self.inputs.put_nowait(QueueResult(outcome=QueueOutcome.ANSWERED, agent=agent_id))
        self._spawn(self._watch_agent(agent_leg, agent_id))

    def start_recording(self, agent_id: str | None = None) -> bool:
        """Stereo WAV of the connected call: caller left, agent right."""
        media = self.leg.media
        if media is None or self.agent_leg is None or self.recorder is not None:
            return False
        path = self.center.settings.data_dir / "recordings" / f"{self.call_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.recording_path = path
        self.recorder = media.record(path, stereo=True)
        self.leg.emit("recording.started", {"path": str(path)}, agent_id=self.agent_leg.agent_id)
        return True

    def pause_recording(self, paused: bool) -> bool:
        if self.recorder is None:
            return False
        self.recorder.paused = paused
        return True

    def stop_recording(self) -> None:
        recorder, path = self.recorder, self.recording_path
        if recorder is None or path is None or self.leg.media is None:
            return
        self.recorder = None
        self.leg.media.stop_recording()
        control = self.leg.control
        rel = control.recording_path(path)
        size = path.stat().st_size if path.exists() else 0
        leg_id = self.agent_leg.id if self.agent_leg is not None else self.leg.id
        control.store.add_recording(self.call_id, leg_id, rel, int(recorder.writer.duration * 1000), size)

    # -- the run ---------------------------------------------------------------------------------------------

    async def run_flow(self) -> None:
        leg = self.leg
        leg.call.hangup_together = False  # the caller stays when an agent leaves (survey, next node)
        leg.emit("ivr.entered", {"flow_id": self.flow_id, "version": self.version})
        if leg.media is not None:
            leg.media.listeners.append(self._on_media)
        self._spawn(self._watch_caller())
        now = self._clock = self._clock or flow_clock(asyncio.get_running_loop())
        try:
            outputs = self.run.start(now())
            while True:
                leg.keys_secret = self.run.collecting_secret  # the run itself hears the real digits
                for output in outputs:
                    await self._act(output)
                if self.run.finished:
                    break
                timer = self.run.get_timer()
                try:
                    timeout = None if timer is None else max(0.0, timer - now())
                    event = await asyncio.wait_for(self.inputs.get(), timeout)
                except TimeoutError:
                    outputs = self.run.handle_timer(now())
                else:
                    outputs = self.run.handle(event, now())
        finally:
            leg.keys_secret = False
            await self._finish()

    async def _finish(self) -> None:
        self._stop_hold()
        self._prompts.clear()
        self.center.abandon(self.call_id)
        self.stop_recording()
        agent = self.agent_leg  # hung up with the caller, unless it talks on with a conference's third party
        if agent is not None and not agent.ended.is_set() and agent.bridged_to in (None, self.leg):
            await agent.hangup("caller_hangup")
        if self.leg.state.value != "ended":
            await self.leg.hangup(self.run.end_reason or "flow_end")
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_media(self, event: MediaEvent) -> None:
        if isinstance(event, DtmfReceived) and self.agent_leg is None and len(event.digit) == 1:
            self.inputs.put_nowait(Digit(digit=event.digit))

    async def _watch_caller(self) -> None:
        await self.leg.ended.wait()
        self.center.abandon(self.call_id)
        self.inputs.put_nowait(CallerHungUp())

    async def _watch_agent(self, agent_leg: Leg, agent_id: str) -> None:
        await agent_leg.ended.wait()
        successor = self.leg.bridged_to
        if successor is not None and successor is not agent_leg and successor.is_up and self.leg.is_up:
            # the agent handed the caller over (an attended transfer; leaving a three-way conference): the
            # caller talks on with that party, whose leaving now ends the conversation
            self.agent_leg = successor
            self._spawn(self._watch_agent(successor, agent_id))
            return
        self.stop_recording()
        if self.leg.media is not None:
            self.leg.media.bridge(None)
        self.agent_leg = None
        self.leg.bridged_to = None
        self.inputs.put_nowait(AgentHungUp())

    async def _act(self, output: Output) -> None:
        leg = self.leg
        if isinstance(output, NodeEntered):
            leg.emit(
                "ivr.node_entered",
                {"flow_id": self.flow_id, "node": output.node_id, "node_type": output.node_type},
            )
        elif isinstance(output, VariableSet):
            data = {"flow_id": self.flow_id, "node": output.node_id, "variable": output.variable,
                    "value": recordable(output.value)}  # fmt: skip
            if output.sensitive:
                data["sensitive"] = True  # and the value is already the mask
            leg.emit("ivr.variable_set", data)
        elif isinstance(output, FlowEnded):
            leg.emit("ivr.left", {"flow_id": self.flow_id, "to": output.reason, "target": output.node_id})
        elif isinstance(output, SurveyAnswered):
            leg.emit("csat.recorded", {"score": output.score, "source": "ivr_survey"})
        elif isinstance(output, Answer):
            await leg.answer()
            if leg.is_up:
                self.inputs.put_nowait(Answered())
        elif isinstance(output, Play):
            self._queue_prompt(self.center.settings.data_dir / "prompts" / output.file)
        elif isinstance(output, Say):
            loop = asyncio.get_running_loop()
            path = await loop.run_in_executor(
                None, self.center.prompts.render, output.text, output.language, output.voice
            )
            self._queue_prompt(path)
        elif isinstance(output, StopPrompt):
            self._prompts.clear()
            if leg.media is not None:
                leg.media.stop_playback()
        elif isinstance(output, HttpLookup):
            self._spawn(self._lookup(output))
        elif isinstance(output, Enqueue):
            self.language = output.language
            if self.center.enqueue(self, output.queue, output.priority):
                self._hold = asyncio.ensure_future(self._hold_loop())
            else:
                self.inputs.put_nowait(QueueResult(outcome=QueueOutcome.OVERFLOW))
        elif isinstance(output, OfferCallback):
            self.center.request_callback(self, output.queue, output.number, at_head=output.at_head)
        elif isinstance(output, Voicemail):
            # The center's task, not the flow's: a caller hanging up ends the flow, not the message's delivery.
            self.center.spawn(self._voicemail(output))
        elif isinstance(output, Transfer):
            await self._transfer(output)
        elif isinstance(output, Hangup):
            await leg.hangup(output.reason)
        elif isinstance(output, CollectDigits):
            pass  # digits always reach the run (the DTMF listener); the run keeps its own timeouts

    def _queue_prompt(self, path: Path) -> None:
        self._prompts.append(path)
        if self._player is None or self._player.done():
            self._player = asyncio.ensure_future(self._play_prompts())

    async def _play_prompts(self) -> None:
        while self._prompts and self.leg.is_up:
            await self.leg.play(wav=self._prompts.popleft())
        self.inputs.put_nowait(PromptDone())

    def _stop_hold(self) -> None:
        if self._hold is not None and not self._hold.done():
            self._hold.cancel()
            if self.leg.media is not None:
                self.leg.media.stop_playback()
        self._hold = None

    async def _hold_loop(self) -> None:
        """Position and estimated wait, then hold tones, until an agent answers or the call leaves."""
        center, loop = self.center, asyncio.get_running_loop()
        hold = cadence([425.0, 475.0], 400.0, 1600.0, HOLD_SECONDS)
        await asyncio.sleep(0)  # let the flow's own prompt before the queue finish first
        queue_id = center.acd.queue_of(self.call_id)
        policy = center.config.policies.get(queue_id) if queue_id is not None else None
        announce = policy is None or policy.announce_position
        while self.leg.is_up and self.call_id in center.waiting and self.leg.media is not None:
            if announce:
                text = position_announcement(
                    self.language, center.acd.position(self.call_id), center.acd.estimated_wait(self.call_id)
                )
                path = await loop.run_in_executor(None, center.prompts.render, text, self.language, None)
                if self.call_id not in center.waiting or self.leg.media is None:
                    break
                self.announcements.append(text)
                await self.leg.play(wav=path)
            if self.call_id in center.waiting:
                await self.leg.play(hold)

    async def _lookup(self, request: HttpLookup) -> None:
        async with httpx.AsyncClient() as client:
            self.inputs.put_nowait(await run_lookup(request, client))

    async def _voicemail(self, command: Voicemail) -> None:
        while self._player is not None and not self._player.done():
            await asyncio.sleep(0.05)  # the greeting first
        path = self.center.settings.data_dir / "recordings" / f"{self.call_id}-voicemail.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        recorded = await self.leg.record(path, max_seconds=command.max_seconds)
        self.inputs.put_nowait(RecordingDone())
        if recorded is not None:
            await deliver_voicemail(self.leg, command, recorded)

    async def _transfer(self, command: Transfer) -> None:
        target = command.number or command.agent
        if target is None:
            return
        agent = self.leg.control.directory.agent_by_target(target)
        await self.leg.transfer(agent.extension if agent else target)  # REFER: the caller's phone dials it
