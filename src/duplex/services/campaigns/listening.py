"""What the runtime hears on a lead's leg: call progress tones before the answer, the answering-machine
verdict after it, and the end of a machine's greeting (its beep, then silence) before a message is left.

Each is a core (`media.tones.CallProgressDetector`, `media.amd.AnsweringMachineDetector`) fed the leg's
decoded 20 ms frames through a listener on its `MediaSession`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from duplex.media.amd import AmdParameters, AmdResult, AnsweringMachineDetector
from duplex.media.events import AudioFrame, MediaEvent
from duplex.media.session import MediaSession
from duplex.media.tones import CallProgress, CallProgressDetector

__all__ = ["ProgressListener", "detect_answering_machine", "wait_for_greeting_end"]


class ProgressListener:
    """Feeds early media (183 with SDP) to a call-progress detector; `heard` is what it recognised last."""

    def __init__(self, media: MediaSession) -> None:
        self.media = media
        self.detector = CallProgressDetector()
        self.heard: set[CallProgress] = set()
        media.listeners.append(self._on_event)

    def _on_event(self, event: MediaEvent) -> None:
        if isinstance(event, AudioFrame):
            for found in self.detector.feed(event.pcm, event.at):
                self.heard.add(found.kind)

    def close(self) -> None:
        if self._on_event in self.media.listeners:
            self.media.listeners.remove(self._on_event)


async def _listen(media: MediaSession, feed: Callable[[AudioFrame], bool], timeout: float) -> bool:
    """Feed frames to `feed` until it returns True (then True) or `timeout` seconds pass (False)."""
    done = asyncio.get_running_loop().create_future()

    def on_event(event: MediaEvent) -> None:
        if isinstance(event, AudioFrame) and not done.done() and feed(event):
            done.set_result(True)

    media.listeners.append(on_event)
    try:
        return await asyncio.wait_for(done, timeout)
    except TimeoutError:
        return False
    finally:
        media.listeners.remove(on_event)


async def detect_answering_machine(
    media: MediaSession, params: AmdParameters | None = None, *, grace: float = 1.0
) -> AmdResult | None:
    """The detector's verdict on the answered leg's audio; None when the leg sent no audio long enough."""
    detector = AnsweringMachineDetector(params)
    verdict: list[AmdResult] = []

    def feed(frame: AudioFrame) -> bool:
        result = detector.feed(frame.pcm, frame.at)
        if result is not None:
            verdict.append(result)
        return result is not None

    await _listen(media, feed, detector.params.total_analysis_time / 1000 + grace)
    return verdict[0] if verdict else None


async def wait_for_greeting_end(
    media: MediaSession, *, silence_ms: float = 1000.0, timeout: float = 30.0
) -> bool:
    """Wait until the machine's greeting (and its beep) gave way to `silence_ms` of silence."""
    detector = CallProgressDetector(silence_ms=silence_ms)

    def feed(frame: AudioFrame) -> bool:
        return any(e.kind is CallProgress.SILENCE for e in detector.feed(frame.pcm, frame.at))

    return await _listen(media, feed, timeout)
