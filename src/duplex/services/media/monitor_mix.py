"""The asyncio shell around `duplex.media.monitoring.MonitorMixer`: three in-process legs (caller, agent,
supervisor) mixed every 20 ms instead of the caller and agent being relayed to each other.

Each leg's received audio is taken by a frame tap (the leg then decodes it, after its jitter buffer) into a
short inbox; a 20 ms ticker takes one frame from each inbox (none: silence), mixes them and puts each leg's
output in its outbox, which the leg's own paced sender plays like a prompt that never ends. Inboxes and
outboxes hold a few frames at most: when two 20 ms clocks drift apart a frame is dropped or a silent one
sent, rather than the delay growing. ``stop()`` takes the taps and the playback away again; the caller of
``stop`` re-bridges caller and agent (a plain relay) if the call goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from duplex.media.events import AudioFrame
from duplex.media.monitoring import MonitorMixer, MonitorMode
from duplex.services.media.endpoint import RtpEndpoint

__all__ = ["MonitorMix"]

log = logging.getLogger("duplex.media.monitor_mix")

Pcm = npt.NDArray[np.int16]
FRAME = 160
PTIME = 0.02
DEPTH = 4  # frames an inbox or outbox keeps (80 ms): bounded delay when clocks drift


class _Inbox:
    """A leg's received audio as a sample queue (a `FrameTap`): frames of any length in (a phone may send
    30 ms packets), 20 ms out; the newest DEPTH frames' worth are kept."""

    def __init__(self) -> None:
        self.samples = np.zeros(0, dtype=np.int16)

    def on_frame(self, frame: AudioFrame) -> None:
        self.samples = np.concatenate([self.samples, frame.pcm])[-DEPTH * FRAME :]

    def take(self) -> Pcm | None:
        if len(self.samples) < FRAME:
            return None
        frame, self.samples = self.samples[:FRAME], self.samples[FRAME:]
        return frame


class _Outbox(Iterator[Pcm]):
    """What a leg is sent: the mixer's frames, silence when none is ready (never exhausted)."""

    def __init__(self) -> None:
        self.frames: deque[Pcm] = deque(maxlen=DEPTH)
        self.silence = np.zeros(FRAME, dtype=np.int16)

    def __next__(self) -> Pcm:
        return self.frames.popleft() if self.frames else self.silence


class MonitorMix:
    """Mix ``caller``, ``agent`` and ``supervisor`` (in-process endpoints) in ``mode`` until ``stop()``."""

    def __init__(self, caller: RtpEndpoint, agent: RtpEndpoint, supervisor: RtpEndpoint,
                 mode: MonitorMode = MonitorMode.LISTEN) -> None:  # fmt: skip
        self.legs = (caller, agent, supervisor)
        self.mixer = MonitorMixer(mode)
        self.inboxes = (_Inbox(), _Inbox(), _Inbox())
        self.outboxes = (_Outbox(), _Outbox(), _Outbox())
        self.ticks = 0
        self._ticker: asyncio.Task[None] | None = None
        self._players: list[asyncio.Task[None]] = []  # each leg's play() of its outbox

    @property
    def mode(self) -> MonitorMode:
        return self.mixer.mode

    def set_mode(self, mode: MonitorMode) -> None:
        self.mixer.set_mode(mode)

    def start(self) -> None:
        caller, agent, _ = self.legs
        caller.bridge(None)  # both directions: the mixer carries caller <-> agent now
        loop = asyncio.get_running_loop()
        for leg, inbox, outbox in zip(self.legs, self.inboxes, self.outboxes, strict=True):
            leg.add_tap(inbox)
            self._players.append(loop.create_task(leg.play(outbox)))
        self._ticker = loop.create_task(self._run())

    async def stop(self) -> None:
        if self._ticker is not None:  # first: nothing new goes out
            self._ticker.cancel()
        for leg, inbox in zip(self.legs, self.inboxes, strict=True):
            leg.remove_tap(inbox)
            leg.stop_playback()  # ends the leg's play() of its outbox
        await asyncio.gather(
            *self._players, *([self._ticker] if self._ticker else []), return_exceptions=True
        )
        self._players.clear()
        self._ticker = None

    def tick(self) -> None:
        caller, agent, supervisor = (inbox.take() for inbox in self.inboxes)
        out = self.mixer.mix(caller, agent, supervisor)
        for outbox, pcm in zip(self.outboxes, (out.caller, out.agent, out.supervisor), strict=True):
            outbox.frames.append(pcm)
        self.ticks += 1

    async def _run(self) -> None:
        """Tick every 20 ms on an absolute schedule; after a stall of > 100 ms restart from now."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            try:
                self.tick()
            except Exception:  # one bad frame must not silence the call for good
                log.exception("monitor mix tick failed")
                for inbox in self.inboxes:
                    inbox.samples = inbox.samples[:0]
            next_tick += PTIME
            now = loop.time()
            if now - next_tick > 0.1:
                next_tick = now
            await asyncio.sleep(max(0.0, next_tick - now))
