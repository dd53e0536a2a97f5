"""Call quality of one leg, for the ``call.quality`` event a leg emits when its media ends.

Two directions are measured. What Duplex received comes from its own receiver statistics (RFC 3550 A.3
loss, A.8 interarrival jitter: ``MediaSession.stats()``). What the far end received from Duplex comes from
the last RTCP reception report block it sent about Duplex's SSRC (RFC 3550 §6.4.1), kept by
``FarEndReports``. Round-trip time is the LSR/DLSR computation of the RTP stream. Each direction gets an
ITU-T G.107 E-model MOS (``duplex.media.stats.estimate_quality``); the CDR's ``mos`` is the worse one.

Sans-IO: plain values in, plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from duplex.media.rtcp import RtcpPacket, RtcpReceiverReport, RtcpSenderReport
from duplex.media.stats import estimate_quality
from duplex.media.stream import StreamStats

__all__ = ["FarEndReport", "FarEndReports", "LegQuality", "measure"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FarEndReport:
    """What the far end last reported about the stream Duplex sends (one RFC 3550 §6.4.1 report block)."""

    fraction_lost: float  # "fraction lost" since its previous report, 0..1
    packets_lost: int  # "cumulative number of packets lost" (negative with duplicates)
    loss_ratio: float  # packets_lost / packets Duplex had sent when the report arrived, 0..1
    jitter_ms: float  # "interarrival jitter", converted from timestamp units
    reports: int  # how many report blocks about Duplex's stream arrived during the leg


class FarEndReports:
    """Keeps the latest reception report block the far end sent about ``ssrc`` (Duplex's stream)."""

    def __init__(self) -> None:
        self.latest: FarEndReport | None = None
        self.count = 0

    def receive(
        self, packets: Iterable[RtcpPacket], *, ssrc: int, packets_sent: int, clock_rate: int
    ) -> None:
        """Take the report blocks about ``ssrc`` from one compound RTCP packet.

        Args:
            packets: the parsed compound packet (``RtcpReceived.packets``).
            ssrc: Duplex's SSRC on this leg; blocks about other sources are ignored.
            packets_sent: RTP packets Duplex had sent on the leg when the packet arrived (the base of the
                far end's cumulative loss).
            clock_rate: the RTP clock of the stream, to turn jitter into milliseconds.
        """
        for packet in packets:
            if not isinstance(packet, RtcpSenderReport | RtcpReceiverReport):
                continue
            for block in packet.reports:
                if block.ssrc != ssrc:
                    continue
                self.count += 1
                lost = block.packets_lost
                self.latest = FarEndReport(
                    fraction_lost=round(block.fraction_lost / 256, 4),
                    packets_lost=lost,
                    loss_ratio=round(min(1.0, max(0, lost) / packets_sent), 4) if packets_sent else 0.0,
                    jitter_ms=round(1000.0 * block.jitter / clock_rate, 2),
                    reports=self.count,
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class LegQuality:
    """The payload of ``call.quality`` (see ``event_data``)."""

    codec: str | None
    packets_expected: int
    packets_received: int
    packets_lost: int
    loss_ratio: float
    jitter_ms: float
    late: int
    packets_sent: int
    rtt_ms: float | None
    mos_received: float | None
    far_end: FarEndReport | None
    mos_sent: float | None

    @property
    def mos(self) -> float | None:
        """The worse of the two directions (None when neither could be measured)."""
        known = [m for m in (self.mos_received, self.mos_sent) if m is not None]
        return min(known) if known else None

    def event_data(self) -> dict[str, Any]:
        """The ``call.quality`` data: ``packets_lost``, ``jitter_ms`` (what Duplex received) and ``mos``
        (worse direction) are the CDR columns; ``remote_*`` is what the far end reported (None without RTCP)."""
        far = self.far_end
        return {
            "codec": self.codec,
            "packets_expected": self.packets_expected,
            "packets_received": self.packets_received,
            "packets_lost": self.packets_lost,
            "loss_ratio": self.loss_ratio,
            "jitter_ms": self.jitter_ms,
            "late": self.late,
            "packets_sent": self.packets_sent,
            "remote_reports": far.reports if far else 0,
            "remote_fraction_lost": far.fraction_lost if far else None,
            "remote_packets_lost": far.packets_lost if far else None,
            "remote_loss_ratio": far.loss_ratio if far else None,
            "remote_jitter_ms": far.jitter_ms if far else None,
            "rtt_ms": self.rtt_ms,
            "mos_received": self.mos_received,
            "mos_sent": self.mos_sent,
            "mos": self.mos,
        }


def measure(stats: StreamStats, *, codec: str | None, far_end: FarEndReport | None) -> LegQuality:
    """Quality of one leg from its stream statistics and the far end's last report.

    The received direction's MOS counts packets the jitter buffer discarded as late as lost (the E-model
    wants the loss the listener hears); with nothing received it is None (no audio to rate). One-way delay
    is half the round-trip time when RTCP gave one, else 0.
    """
    delay = stats.rtt_ms / 2 if stats.rtt_ms is not None else 0.0
    mos_received = None
    if stats.packets_expected > 0:
        lost = max(0, stats.packets_lost) + stats.late
        heard = estimate_quality(loss_ratio=min(1.0, lost / stats.packets_expected),
                                 jitter_ms=stats.jitter_ms, delay_ms=delay)  # fmt: skip
        mos_received = heard.mos
    mos_sent = None
    if far_end is not None:
        mos_sent = estimate_quality(
            loss_ratio=far_end.loss_ratio, jitter_ms=far_end.jitter_ms, delay_ms=delay
        ).mos
    return LegQuality(
        codec=codec, packets_expected=stats.packets_expected, packets_received=stats.packets_received,
        packets_lost=stats.packets_lost, loss_ratio=round(stats.loss_ratio, 4), jitter_ms=round(stats.jitter_ms, 2),
        late=stats.late, packets_sent=stats.packets_sent,
        rtt_ms=None if stats.rtt_ms is None else round(stats.rtt_ms, 2),
        mos_received=mos_received, far_end=far_end, mos_sent=mos_sent,
    )  # fmt: skip
