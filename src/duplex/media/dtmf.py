"""DTMF: RFC 4733 telephone-events (payload, sender plan, receiver) and in-band Goertzel detection.

* ``TelephoneEvent``: the 4-byte payload of RFC 4733 §2.3.
* ``plan_dtmf_packets``: the packet sequence a sender emits for one digit (§2.5.1).
* ``DtmfReceiver``: turns telephone-event RTP packets into one digit each (§2.5.2), ignoring the
  retransmitted end packets.
* ``InbandDtmfDetector``: detects DTMF tones in 8 kHz PCM (ITU-T Q.23/Q.24 style checks).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from duplex.media.goertzel import GoertzelBank, frame_energy
from duplex.media.rtp import RtpPacket

__all__ = [
    "DTMF_EVENTS",
    "DtmfPacketPlan",
    "DtmfReceiver",
    "InbandDtmfDetector",
    "TelephoneEvent",
    "event_to_digit",
    "generate_dtmf",
    "plan_dtmf_packets",
]

# RFC 4733 §3.2 Table 3: DTMF named events.
DTMF_EVENTS = {d: i for i, d in enumerate("0123456789*#ABCD")}
_DIGITS = {v: k for k, v in DTMF_EVENTS.items()}
_ROW = (697.0, 770.0, 852.0, 941.0)
_COL = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYPAD = ("123A", "456B", "789C", "*0#D")


def event_to_digit(event: int) -> str | None:
    return _DIGITS.get(event)


@dataclass(frozen=True, slots=True, kw_only=True)
class TelephoneEvent:
    """RFC 4733 §2.3 payload: event (8 bits), E, R, volume (6 bits), duration (16 bits, timestamp units)."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255:
            raise ValueError(f"telephone-event code {self.event} out of range 0-255")
        if not 0 <= self.volume <= 63:
            raise ValueError(f"telephone-event volume {self.volume} out of range 0-63")
        if not 0 <= self.duration <= 0xFFFF:
            raise ValueError(f"telephone-event duration {self.duration} out of range 0-65535")

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        if len(data) < 4:
            raise ValueError(f"telephone-event payload truncated: {len(data)} bytes, needs 4")
        event, flags, duration = struct.unpack_from("!BBH", data)
        # "R: This field is reserved for future use. The sender MUST set it to zero, and the receiver
        # MUST ignore it."
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    def __bytes__(self) -> bytes:
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    @property
    def digit(self) -> str | None:
        return event_to_digit(self.event)


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfPacketPlan:
    """One packet of a digit: send at ``offset`` seconds after the start, all with the event's timestamp."""

    offset: float
    marker: bool
    event: TelephoneEvent


def plan_dtmf_packets(
    digit: str,
    *,
    duration_ms: int = 100,
    volume: int = 10,
    interval_ms: int = 20,
    clock_rate: int = 8000,
    end_repeats: int = 3,
) -> list[DtmfPacketPlan]:
    """The RFC 4733 §2.5.1 packet sequence for one digit.

    "the first packet [has] the M bit set"; updates carry the growing duration; "the final packet for
    an event [...] SHOULD be sent a total of three times" with the E bit set and the same duration.
    """
    if digit.upper() not in DTMF_EVENTS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    code = DTMF_EVENTS[digit.upper()]
    step = clock_rate * interval_ms // 1000
    total = clock_rate * duration_ms // 1000
    plans = []
    elapsed = step
    n = 0
    while elapsed < total:
        ev = TelephoneEvent(event=code, volume=volume, duration=elapsed)
        plans.append(DtmfPacketPlan(offset=n * interval_ms / 1000, marker=n == 0, event=ev))
        elapsed += step
        n += 1
    end = TelephoneEvent(event=code, end=True, volume=volume, duration=min(total, 0xFFFF))
    for _ in range(end_repeats):
        plans.append(DtmfPacketPlan(offset=n * interval_ms / 1000, marker=n == 0, event=end))
        n += 1
    return plans


class DtmfReceiver:
    """Reports each telephone-event once, keyed by its RTP timestamp (RFC 4733 §2.5.2.1: "a new event
    [is recognised] by a new timestamp"). Duplicates, updates and the repeated end packets are ignored;
    a digit is reported from whichever of its packets arrives first, so loss of the start is tolerated."""

    def __init__(self, history: int = 32) -> None:
        self._seen: deque[tuple[int, int]] = deque(maxlen=history)
        self.malformed = 0

    def receive(self, packet: RtpPacket) -> TelephoneEvent | None:
        """Returns the event the first time its (ssrc, timestamp) is seen, else None."""
        try:
            ev = TelephoneEvent.parse(packet.payload)
        except ValueError:
            self.malformed += 1
            return None
        key = (packet.ssrc, packet.timestamp)
        if key in self._seen:
            return None
        self._seen.append(key)
        return ev


def generate_dtmf(
    digit: str, ms: int, *, amplitude: int = 7000, rate: int = 8000, twist_db: float = 0.0
) -> npt.NDArray[np.int16]:
    """PCM of a DTMF digit: row + column sine, each ``amplitude`` peak (column raised by ``twist_db``)."""
    d = digit.upper()
    hits = [(r, row.index(d)) for r, row in enumerate(_KEYPAD) if len(d) == 1 and d in row]
    if not hits:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    r, c = hits[0]
    t = np.arange(rate * ms // 1000) / rate
    col_amp = amplitude * 10 ** (twist_db / 20)
    sig = amplitude * np.sin(2 * np.pi * _ROW[r] * t) + col_amp * np.sin(2 * np.pi * _COL[c] * t)
    return np.clip(np.round(sig), -32768, 32767).astype(np.int16)


class InbandDtmfDetector:
    """Goertzel DTMF detector for 8 kHz frames of any length (typically 160 samples).

    Analysis windows are 160 samples with a hop of 80 (10 ms). A window is a hit for a digit when:
    the two strongest bins (one per group) hold ``min_tone_ratio`` of the window energy (speech and noise
    spread their energy), each beats the other bins of its group by ``peak_margin_db``, the twist is
    within ``normal_twist_db`` / ``reverse_twist_db`` (Q.24), and the energy exceeds ``min_energy``.
    A digit is reported after ``min_hits`` consecutive hits (two windows 10 ms apart span >= 30 ms, so
    any tone of 40 ms is detected), and again only after a pause of ``min_gap`` windows.
    """

    WINDOW = 160
    HOP = 80

    def __init__(
        self,
        *,
        min_energy: float = 3.0e4,
        min_tone_ratio: float = 0.7,
        peak_margin_db: float = 6.0,
        normal_twist_db: float = 8.0,
        reverse_twist_db: float = 4.0,
        min_hits: int = 2,
        min_gap: int = 2,
    ) -> None:
        self._bank = GoertzelBank(_ROW + _COL, self.WINDOW)
        self.min_energy = min_energy
        self.min_tone_ratio = min_tone_ratio
        self.peak_margin = 10 ** (peak_margin_db / 10)
        self.normal_twist = 10 ** (normal_twist_db / 10)
        self.reverse_twist = 10 ** (reverse_twist_db / 10)
        self.min_hits = min_hits
        self.min_gap = min_gap
        self._buf = np.zeros(0, dtype=np.float64)
        self._candidate: str | None = None
        self._hits = 0
        self._current: str | None = None
        self._misses = 0

    def classify_window(self, window: npt.NDArray[np.float64]) -> str | None:
        energy = frame_energy(window)
        if energy < self.min_energy:
            return None
        p = self._bank.power(window)
        rows, cols = p[:4], p[4:]
        r, c = int(np.argmax(rows)), int(np.argmax(cols))
        pr, pc = float(rows[r]), float(cols[c])
        if (pr + pc) < self.min_tone_ratio * energy:
            return None
        if any(pr < self.peak_margin * float(x) for i, x in enumerate(rows) if i != r):
            return None
        if any(pc < self.peak_margin * float(x) for i, x in enumerate(cols) if i != c):
            return None
        if pr > pc * self.normal_twist or pc > pr * self.reverse_twist:
            return None
        return _KEYPAD[r][c]

    def feed(self, frame: npt.ArrayLike) -> list[str]:
        """Analyse more samples; returns digits whose detection completed in this call."""
        self._buf = np.concatenate([self._buf, np.asarray(frame, dtype=np.float64)])
        out: list[str] = []
        while len(self._buf) >= self.WINDOW:
            digit = self.classify_window(self._buf[: self.WINDOW])
            self._buf = self._buf[self.HOP :]
            if digit is not None and digit == self._candidate:
                self._hits += 1
            else:
                self._candidate, self._hits = digit, (1 if digit else 0)
            if digit is None or digit != self._current:
                self._misses += 1
                if self._misses >= self.min_gap:
                    self._current = None
            else:
                self._misses = 0
            if digit is not None and self._hits >= self.min_hits and self._current is None:
                self._current = digit
                self._misses = 0
                out.append(digit)
        return out
