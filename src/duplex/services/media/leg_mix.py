"""The asyncio shell of a mixer over in-process legs: instead of being relayed to each other, the legs' audio
is mixed every 20 ms by a sans-IO mixer (`duplex.media.mixer`, `duplex.media.monitoring`).

Each leg's received audio is taken by a frame tap (the leg then decodes it, after its jitter buffer) into a
short inbox; a 20 ms ticker takes one frame from each inbox (none: silence), mixes them and puts each leg's
output in its outbox, which the leg's own paced sender plays like a prompt that never ends. Inboxes and
outboxes hold a few frames at most: when two 20 ms clocks drift apart a frame is dropped or a silent one
sent, rather than the delay growing. ``stop()`` takes the taps and the playback away again; the caller of
``stop`` bridges the legs that stay connected (a plain relay) if the call goes on.

`MonitorMix` (caller, agent and a supervisor) and `ConferenceMix` (a three-way call: everyone hears the
others) are the two mixes a call uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from duplex.media.events import AudioFrame
from duplex.media.mixer import ConferenceMixer
from duplex.media.session import MediaSession
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.webrtc import WebRtcSession

__all__ = ["ConferenceMix", "LegMix", "local_endpoint"]

log = logging.getLogger("duplex.media.leg_mix")

Pcm = npt.NDArray[np.int16]
FRAME = 160
PTIME = 0.02
DEPTH = 4  # frames an inbox or outbox keeps (80 ms): bounded delay when clocks drift


def local_endpoint(media: MediaSession | None) -> RtpEndpoint | None:
    """The in-process endpoint whose audio a mixer can take and feed (a browser leg's inner endpoint), or
    None for media outside this process (rtpengine)."""
    if isinstance(media, WebRtcSession):
        media = media.inner
    return media if isinstance(media, RtpEndpoint) else None


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


class LegMix:
    """Mix ``legs`` (in-process endpoints) until ``stop()``; subclasses say who hears whom in `mix`."""

    def __init__(self, legs: Sequence[RtpEndpoint]) -> None:
        self.legs = tuple(legs)
        self.inboxes = tuple(_Inbox() for _ in self.legs)
        self.outboxes = tuple(_Outbox() for _ in self.legs)
        self.ticks = 0
        self._ticker: asyncio.Task[None] | None = None
        self._players: list[asyncio.Task[None]] = []  # each leg's play() of its outbox

    def mix(self, frames: list[Pcm | None]) -> list[Pcm]:
        """One 20 ms tick: what each leg receives (in the order of ``legs``) from what each sent."""
        raise NotImplementedError

    def start(self) -> None:
        for leg in self.legs:
            leg.bridge(None)  # both directions: the mixer carries the audio between the legs now
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
        out = self.mix([inbox.take() for inbox in self.inboxes])
        for outbox, pcm in zip(self.outboxes, out, strict=True):
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
                log.exception("mix tick failed")
                for inbox in self.inboxes:
                    inbox.samples = inbox.samples[:0]
            next_tick += PTIME
            now = loop.time()
            if now - next_tick > 0.1:
                next_tick = now
            await asyncio.sleep(max(0.0, next_tick - now))


class ConferenceMix(LegMix):
    """A conference of ``legs``: each hears all the others, never itself (`ConferenceMixer`, N-1)."""

    def __init__(self, legs: Sequence[RtpEndpoint]) -> None:
        super().__init__(legs)
        self.mixer = ConferenceMixer(FRAME)
        self._names = [str(i) for i in range(len(self.legs))]
        for name in self._names:
            self.mixer.add(name)

    def mix(self, frames: list[Pcm | None]) -> list[Pcm]:
        out = self.mixer.mix(dict(zip(self._names, frames, strict=True)))
        return [out[name] for name in self._names]
