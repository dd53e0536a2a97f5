"""Receiver statistics (RFC 3550 Appendix A.1, A.3, A.8) and a call-quality estimate (ITU-T G.107 E-model).

``ReceiverStatistics`` is fed one ``(sequence_number, timestamp, arrival)`` per packet, with arrival in
seconds (any monotonic clock). It yields the values of an RTCP reception report block.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QualityEstimate", "ReceiverStatistics", "estimate_quality", "r_to_mos"]

RTP_SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000
MAX_MISORDER = 100


class ReceiverStatistics:
    """Per-source sequence and jitter state, RFC 3550 A.1 ``source`` structure.

    Probation (MIN_SEQUENTIAL) is not applied: a media leg's SSRC is known from signalling, so the first
    packet is accepted and sequence tracking starts at once.
    """

    def __init__(self, clock_rate: int = 8000) -> None:
        self.clock_rate = clock_rate
        self.max_seq = 0
        self.cycles = 0
        self.base_seq = 0
        self.bad_seq = RTP_SEQ_MOD + 1
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.transit: int | None = None
        self.jitter_q4 = 0  # jitter scaled by 16, as in RFC 3550 A.8 ("jitter += d - ((jitter + 8) >> 4)")
        self.duplicates_or_late = 0
        self.started = False

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update_seq(self, seq: int) -> bool:
        """RFC 3550 A.1 ``update_seq``. Returns False for a packet that is not counted (restart probe)."""
        if not self.started:
            self.started = True
            self._init_seq(seq)
            self.received = 1
            return True
        udelta = (seq - self.max_seq) % RTP_SEQ_MOD
        if udelta == 0:
            self.duplicates_or_late += 1  # same as the highest sequence number: a duplicate
        elif udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD  # "Sequence number wrapped - count another 64K cycle."
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            # "the sequence number made a very large jump"
            if seq == self.bad_seq:
                self._init_seq(seq)  # "Two sequential packets -- assume that the other side restarted"
            else:
                self.bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1)
                return False
        else:
            self.duplicates_or_late += 1  # "duplicate or reordered packet"
        self.received += 1
        return True

    def update_jitter(self, timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8: interarrival jitter from arrival time (seconds) and the RTP timestamp."""
        arrival_ts = int(arrival * self.clock_rate)
        transit = (arrival_ts - timestamp) & 0xFFFFFFFF
        if self.transit is not None:
            d = (transit - self.transit) & 0xFFFFFFFF
            if d >= 0x80000000:
                d = 0x100000000 - d
            self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4)
        self.transit = transit

    def update(self, seq: int, timestamp: int, arrival: float) -> bool:
        ok = self.update_seq(seq)
        if ok:
            self.update_jitter(timestamp, arrival)
        return ok

    # -- A.3 derived values ------------------------------------------------------------------------

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1 if self.started else 0

    @property
    def lost(self) -> int:
        """Cumulative packets lost; negative when duplicates arrived (RFC 3550 §6.4.1)."""
        return self.expected - self.received

    @property
    def jitter(self) -> int:
        """Interarrival jitter in timestamp units (the RTCP field value)."""
        return self.jitter_q4 >> 4

    @property
    def jitter_ms(self) -> float:
        return 1000.0 * self.jitter / self.clock_rate

    @property
    def loss_ratio(self) -> float:
        return max(0, self.lost) / self.expected if self.expected else 0.0

    def fraction_lost(self) -> int:
        """RFC 3550 A.3 fraction lost since the previous call, as an 8-bit fixed point value.

        Call once per report: it advances ``expected_prior`` / ``received_prior``.
        """
        expected_interval = self.expected - self.expected_prior
        self.expected_prior = self.expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEstimate:
    r_factor: float
    mos: float


def r_to_mos(r: float) -> float:
    """ITU-T G.107 Annex B: transmission rating R -> estimated MOS (CQE)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)


def estimate_quality(
    *,
    loss_ratio: float,
    jitter_ms: float,
    delay_ms: float,
    ie: float = 0.0,
    bpl: float = 25.1,
    burst_ratio: float = 1.0,
) -> QualityEstimate:
    """Simplified E-model (G.107): R = R0 - Is - Id - Ie,eff + A with default Is/A folded into 93.2.

    Args:
        loss_ratio: packet loss 0..1 (after jitter-buffer discards).
        jitter_ms: interarrival jitter; the jitter buffer is assumed to add 2x jitter of delay.
        delay_ms: one-way network delay (e.g. RTT/2), codec framing of 20 ms is added.
        ie, bpl: equipment impairment and packet-loss robustness (G.113 App. I, G.711 with PLC: 0, 25.1).
    """
    d = delay_ms + 2.0 * jitter_ms + 20.0
    # Id approximation (Cole & Rosenbluth 2001) of G.107's delay impairment for echo-free connections.
    idd = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = 100.0 * max(0.0, min(1.0, loss_ratio))
    ie_eff = ie + (95.0 - ie) * ppl / (ppl / burst_ratio + bpl)
    r = max(0.0, min(100.0, 93.2 - idd - ie_eff))
    return QualityEstimate(r_factor=round(r, 2), mos=round(r_to_mos(r), 2))
