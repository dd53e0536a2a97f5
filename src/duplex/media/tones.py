"""Call-progress tones: generators and a cadence-based detector (sans-IO, time is an argument).

Generators return 8 kHz int16 PCM. ``CallProgressDetector.feed(pcm, now)`` takes 20 ms frames and reports
``CallProgressEvent``s when its classification changes: ringback, busy, SIT, silence or speech.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from duplex.media.codecs import G711Codec
from duplex.media.events import AudioFrame, FrameTap
from duplex.media.goertzel import GoertzelBank, frame_energy

__all__ = [
    "SIT_FREQS",
    "CallProgress",
    "CallProgressDetector",
    "CallProgressEvent",
    "FrameTap",
    "beep",
    "busy",
    "cadence",
    "encoded_beep",
    "ringback",
    "sit",
    "tone",
]

RATE = 8000
Pcm = npt.NDArray[np.int16]
SIT_FREQS = (913.8, 1370.6, 1776.7)  # ITU-T E.180 / Telcordia SR-2275 special information tone


def tone(freqs: Sequence[float], ms: float, *, amplitude: float = 6000.0, rate: int = RATE) -> Pcm:
    """Sum of sines, each ``amplitude`` peak, for ``ms`` milliseconds."""
    t = np.arange(int(rate * ms / 1000)) / rate
    sig = np.zeros_like(t)
    for f in freqs:
        sig += amplitude * np.sin(2 * np.pi * f * t)
    return np.clip(np.round(sig), -32768, 32767).astype(np.int16)


def silence(ms: float, rate: int = RATE) -> Pcm:
    return np.zeros(int(rate * ms / 1000), dtype=np.int16)


def cadence(
    freqs: Sequence[float], on_ms: float, off_ms: float, seconds: float, *, amplitude: float = 6000.0
) -> Pcm:
    """Repeat (on, off) until ``seconds`` of audio."""
    period = np.concatenate([tone(freqs, on_ms, amplitude=amplitude), silence(off_ms)])
    total = int(RATE * seconds)
    reps = -(-total // len(period))
    return np.tile(period, reps)[:total]


def ringback(region: str = "eu", seconds: float = 5.0) -> Pcm:
    """EU (ETSI TR 101 041): 425 Hz 1 s on / 4 s off. US (ANSI T1.401): 440+480 Hz 2 s on / 4 s off."""
    if region == "us":
        return cadence((440.0, 480.0), 2000, 4000, seconds)
    return cadence((425.0,), 1000, 4000, seconds)


def busy(region: str = "eu", seconds: float = 3.0) -> Pcm:
    """EU: 425 Hz 0.5 s / 0.5 s. US: 480+620 Hz 0.5 s / 0.5 s."""
    if region == "us":
        return cadence((480.0, 620.0), 500, 500, seconds)
    return cadence((425.0,), 500, 500, seconds)


def beep(freq: float = 1000.0, ms: float = 200.0) -> Pcm:
    return tone((freq,), ms, amplitude=8000.0)


@functools.lru_cache(maxsize=32)
def encoded_beep(
    codec: G711Codec, freq: float = 1000.0, ms: float = 200.0, frame: int = 160
) -> tuple[bytes, ...]:
    """``beep`` encoded with ``codec`` as RTP payloads of ``frame`` samples (the last one padded with silence),
    computed once per codec: the echo test sends it to every caller (`RtpEndpoint.play_payloads`)."""
    pcm = beep(freq, ms)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % frame, dtype=np.int16)])
    return tuple(codec.encode(pcm[i : i + frame]) for i in range(0, len(pcm), frame))


def sit(pause_ms: float = 500.0) -> Pcm:
    """Three rising SIT segments (274, 274, 380 ms) then a pause."""
    parts = [tone((f,), d) for f, d in zip(SIT_FREQS, (274, 274, 380), strict=True)]
    return np.concatenate([*parts, silence(pause_ms)])


class CallProgress(enum.Enum):
    SILENCE = "silence"
    RINGBACK = "ringback"
    BUSY = "busy"
    SIT = "sit"
    SPEECH = "speech"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallProgressEvent:
    kind: CallProgress
    at: float


_FREQS = (350.0, 425.0, 440.0, 480.0, 620.0, *SIT_FREQS)


def _label_tones(strong: set[float]) -> str:
    """Label a frame from its strong bins. 20 ms cannot split 425 from 440 Hz, so they are one class."""
    sits = [f for f in SIT_FREQS if f in strong]
    if sits:
        return f"sit{SIT_FREQS.index(sits[0]) + 1}"
    low = bool(strong & {425.0, 440.0})
    if 480.0 in strong and 620.0 in strong:
        return "busy_us"
    if 480.0 in strong and low:
        return "ring_us"
    if 350.0 in strong and low:
        return "dial_us"
    if low:
        return "single"
    return "other"


@dataclass(slots=True)
class _Segment:
    label: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class CallProgressDetector:
    """Classifies 20 ms frames (energy + Goertzel) and the on/off cadence of the tones.

    Frame labels: ``silence`` (below ``silence_energy``), a tone label (two known bins holding
    ``tone_ratio`` of the energy) or ``other`` (energy spread: speech-like). Decisions:
    SIT on the three SIT segments in order; busy after two 0.3-0.7 s on/off periods of the same tone;
    ringback after one 0.8-2.5 s tone burst followed by silence; speech after ``speech_ms`` of ``other``
    within 1 s; silence after ``silence_ms`` without anything else.
    """

    def __init__(
        self,
        *,
        frame_samples: int = 160,
        silence_energy: float = 9.0e4,
        tone_ratio: float = 0.8,
        speech_ms: float = 300.0,
        silence_ms: float = 3000.0,
    ) -> None:
        self._bank = GoertzelBank(_FREQS, frame_samples)
        self.frame_seconds = frame_samples / RATE
        self.silence_energy = silence_energy
        self.tone_ratio = tone_ratio
        self.speech_s = speech_ms / 1000
        self.silence_s = silence_ms / 1000
        self.state: CallProgress | None = None
        self._segments: list[_Segment] = []
        self._current: _Segment | None = None
        self._other_times: list[float] = []

    def classify_frame(self, pcm: npt.ArrayLike) -> str:
        x = np.asarray(pcm, dtype=np.float64)
        energy = frame_energy(x)
        if energy < self.silence_energy:
            return "silence"
        p = self._bank.power(x)
        strong = [(float(p[i]), f) for i, f in enumerate(_FREQS) if p[i] > 0.15 * energy]
        if not strong or sum(s for s, _ in strong) < self.tone_ratio * energy:
            return "other"
        return _label_tones({f for _, f in strong})

    def on_frame(self, frame: AudioFrame) -> None:
        """``FrameTap`` adapter; events accumulate in ``state``."""
        self.feed(frame.pcm, frame.at)

    def feed(self, pcm: npt.ArrayLike, now: float) -> list[CallProgressEvent]:
        label = self.classify_frame(pcm)
        end = now + self.frame_seconds
        if self._current is not None and self._current.label == label:
            self._current.end = end
        else:
            if self._current is not None:
                self._segments.append(self._current)
                self._segments = self._segments[-12:]
            self._current = _Segment(label, now, end)
        if label == "other":
            self._other_times.append(now)
        self._other_times = [t for t in self._other_times if t > now - 1.0]
        decision = self._decide()
        if decision is not None and decision != self.state:
            self.state = decision
            return [CallProgressEvent(kind=decision, at=now)]
        return []

    def _decide(self) -> CallProgress | None:
        cur = self._current
        assert cur is not None
        done = [s for s in self._segments if s.duration >= 0.06 or s.label == "silence"]
        tones = [s for s in done if s.label.startswith("sit")]
        if [s.label for s in tones[-3:]] == ["sit1", "sit2", "sit3"] or (
            cur.label == "sit3" and [s.label for s in tones[-2:]] == ["sit1", "sit2"]
        ):
            return CallProgress.SIT
        if len(self._other_times) * self.frame_seconds >= self.speech_s:
            return CallProgress.SPEECH
        bursts = [s for s in done if s.label in ("single", "ring_us", "busy_us")]
        if len(bursts) >= 2 and all(0.3 <= b.duration <= 0.7 for b in bursts[-2:]):
            gaps = [s for s in done[-4:] if s.label == "silence"]
            if gaps and all(0.3 <= g.duration <= 0.7 for g in gaps[-1:]):
                return CallProgress.BUSY
        if cur.label == "silence" and bursts and done and done[-1] is bursts[-1]:
            if 0.8 <= bursts[-1].duration <= 2.5 and bursts[-1].label in ("single", "ring_us"):
                return CallProgress.RINGBACK
        if (
            cur.label == "silence"
            and cur.duration >= self.silence_s
            and self.state in (None, CallProgress.SPEECH)
        ):
            return CallProgress.SILENCE
        return None
