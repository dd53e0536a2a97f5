"""Fixed-delay reordering jitter buffer for fixed-size audio frames, keyed by RTP timestamp (sans-IO).

The first accepted packet fixes the playout clock: a frame with timestamp ``ts`` plays at
``t0 + delay + (ts - ts0) / clock_rate``. ``pop(now)`` returns the next frame once its playout time has come;
a missing frame is concealed by repeating the last payload (``max_repeats`` times) and then by silence
(``payload=None``). Packets that arrive after their slot was played are counted as late and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from duplex.media.rtp import RtpPacket, ts_add, ts_diff

__all__ = ["JitterBuffer", "JitterFrame"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JitterFrame:
    timestamp: int
    payload: bytes | None  # None = play silence
    concealed: bool = False
    marker: bool = False
    payload_type: int | None = None


class JitterBuffer:
    def __init__(
        self,
        *,
        delay: float = 0.06,
        frame_samples: int = 160,
        clock_rate: int = 8000,
        capacity: int = 100,
        max_repeats: int = 2,
        resync_after_late: int = 5,
        max_silent: int = 25,
    ) -> None:
        self.delay = delay
        self.frame_samples = frame_samples
        self.clock_rate = clock_rate
        self.capacity = capacity
        self.max_repeats = max_repeats
        self.resync_after_late = resync_after_late
        # after this many concealed frames in a row with nothing buffered the playout clock stops (no timer)
        # until the next packet resyncs it: a far end that stopped sending (hold without SDP, a dead phone,
        # the moments after a relay took over) must not cost a 50 Hz timer for the rest of the leg
        self.max_silent = max_silent
        self._silent_run = 0
        self._frames: dict[int, RtpPacket] = {}
        self._base_ts = 0
        self._base_time = 0.0
        self._next_ts: int | None = None
        self._last_payload: bytes | None = None
        self._last_pt: int | None = None
        self._repeats = 0
        self._late_run = 0
        self.received = 0
        self.duplicates = 0
        self.late = 0
        self.concealed = 0
        self.overflows = 0

    @property
    def buffered(self) -> int:
        """Frames waiting for playout."""
        return len(self._frames)

    def _sync(self, packet: RtpPacket, now: float) -> None:
        self._frames.clear()
        self._base_ts = packet.timestamp
        self._base_time = now + self.delay
        self._next_ts = packet.timestamp
        self._late_run = 0

    def playout_time(self, timestamp: int) -> float:
        return self._base_time + ts_diff(timestamp, self._base_ts) / self.clock_rate

    def put(self, packet: RtpPacket, now: float) -> bool:
        """Store a packet. Returns False if it was dropped (duplicate, late, or overflow)."""
        if self._next_ts is None:
            self._sync(packet, now)
        assert self._next_ts is not None
        ahead = ts_diff(packet.timestamp, self._next_ts)
        if ahead < 0:
            self.late += 1
            self._late_run += 1
            if self._late_run < self.resync_after_late:
                return False
            self._sync(packet, now)  # the sender's clock moved away from ours: start over
            ahead = 0
        elif ahead > self.capacity * self.frame_samples:
            self._sync(packet, now)  # a big jump forward (restart or long pause): start over
            ahead = 0
        self._late_run = 0
        if packet.timestamp in self._frames:
            self.duplicates += 1
            return False
        if len(self._frames) >= self.capacity:
            self.overflows += 1
            return False
        self._frames[packet.timestamp] = packet
        self.received += 1
        return True

    def get_timer(self) -> float | None:
        """Playout time of the next frame, or None before the first packet (and after `max_silent` concealed frames)."""
        if self._next_ts is None:
            return None
        return self.playout_time(self._next_ts)

    def pop(self, now: float) -> JitterFrame | None:
        """The frame due at ``now``, or None if the next slot is not due yet (or nothing was received)."""
        if self._next_ts is None or now + 1e-9 < self.playout_time(self._next_ts):
            return None
        ts = self._next_ts
        self._next_ts = ts_add(ts, self.frame_samples)
        packet = self._frames.pop(ts, None)
        if packet is not None:
            self._silent_run = 0
            self._last_payload = packet.payload
            self._repeats = 0
            self._last_pt = packet.payload_type
            return JitterFrame(
                timestamp=ts, payload=packet.payload, marker=packet.marker, payload_type=packet.payload_type
            )
        self.concealed += 1
        self._silent_run += 1
        if self._silent_run >= self.max_silent and not self._frames:
            self._next_ts = None  # stop; put() resyncs on the next packet
            self._silent_run = 0
        if self._last_payload is not None and self._repeats < self.max_repeats:
            self._repeats += 1
            return JitterFrame(
                timestamp=ts, payload=self._last_payload, concealed=True, payload_type=self._last_pt
            )
        return JitterFrame(timestamp=ts, payload=None, concealed=True)

    def pop_all(self, now: float) -> list[JitterFrame]:
        """Every frame due at ``now`` (more than one if the caller fell behind)."""
        out = []
        while (frame := self.pop(now)) is not None:
            out.append(frame)
        return out
