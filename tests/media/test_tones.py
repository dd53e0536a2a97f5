"""Call-progress tone generation and classification."""

from __future__ import annotations

import numpy as np
import pytest

from duplex.media.events import AudioFrame, FrameTap
from duplex.media.tones import CallProgress, CallProgressDetector, beep, busy, ringback, sit, tone
from duplex.services.media.tts import TextToSpeech


def classify(pcm: np.ndarray, noise: float = 0.0) -> list[tuple[CallProgress, float]]:
    if noise:
        pcm = np.clip(pcm + np.random.default_rng(7).normal(0, noise, len(pcm)), -32768, 32767).astype(
            np.int16
        )
    det = CallProgressDetector()
    events = []
    for i in range(0, len(pcm) - 159, 160):
        events += det.feed(pcm[i : i + 160], now=100.0 + i / 8000)
    return [(e.kind, round(e.at - 100.0, 2)) for e in events]


def test_generators_have_the_specified_cadence() -> None:
    eu = ringback("eu", 5.0)
    assert len(eu) == 40000
    on = np.abs(eu.astype(int)) > 0
    assert on[:7990].any() and not on[8100:39900].any()  # 1 s on, 4 s off
    us = ringback("us", 6.0)
    assert np.abs(us[15000:16000]).max() > 0 and np.abs(us[16100:47000]).max() == 0  # 2 s on, 4 s off
    assert len(sit()) == int(8000 * (0.274 + 0.274 + 0.380 + 0.5))
    assert len(beep(ms=200)) == 1600


@pytest.mark.parametrize(
    ("pcm", "kind"),
    [
        (ringback("eu", 6.0), CallProgress.RINGBACK),
        (ringback("us", 7.0), CallProgress.RINGBACK),
        (busy("eu", 3.0), CallProgress.BUSY),
        (busy("us", 3.0), CallProgress.BUSY),
        (np.tile(sit(), 2), CallProgress.SIT),
        (np.zeros(8000 * 4, dtype=np.int16), CallProgress.SILENCE),
    ],
    ids=["ringback-eu", "ringback-us", "busy-eu", "busy-us", "sit", "silence"],
)
def test_classification_with_line_noise(pcm: np.ndarray, kind: CallProgress) -> None:
    events = classify(pcm, noise=150.0)
    assert events and events[0][0] == kind, events
    assert len(events) == 1, events


def test_decision_times() -> None:
    assert classify(ringback("eu", 6.0)) == [(CallProgress.RINGBACK, 1.0)]  # at the end of the first burst
    assert classify(busy("eu", 3.0)) == [(CallProgress.BUSY, 1.5)]  # after two on/off periods
    (sit_event,) = classify(sit())
    assert sit_event[0] == CallProgress.SIT and sit_event[1] < 0.93


def test_speech_is_not_a_tone() -> None:
    speech = TextToSpeech().synthesize("Hello, this is John. I can't take your call right now.")
    events = classify(speech)
    assert events[0][0] == CallProgress.SPEECH
    assert CallProgress.RINGBACK not in [k for k, _ in events]


def test_continuous_tone_is_not_ringback() -> None:
    assert CallProgress.RINGBACK not in [k for k, _ in classify(tone((425.0,), 4000))]


class Collect:
    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []

    def on_frame(self, frame: AudioFrame) -> None:
        self.frames.append(frame)


def test_frame_tap_protocol() -> None:
    assert isinstance(Collect(), FrameTap)
    assert isinstance(CallProgressDetector(), FrameTap)
    det = CallProgressDetector()
    pcm = busy("eu", 2.0)
    for i in range(0, len(pcm), 160):
        det.on_frame(AudioFrame(pcm=pcm[i : i + 160], timestamp=i, at=i / 8000))
    assert det.state == CallProgress.BUSY
