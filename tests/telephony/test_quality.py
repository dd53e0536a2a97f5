"""Call quality of a leg (duplex.telephony.quality): sans-IO RtpStreams wired in memory with a known loss
and arrival pattern, RTCP between them for what the far end reports and the round-trip time."""

from __future__ import annotations

import random

import numpy as np
import pytest

from duplex.media.codecs import PCMA
from duplex.media.rtcp import RtcpReceiverReport, RtcpReportBlock, parse_compound, serialize_compound
from duplex.media.stream import RtpStream
from duplex.telephony.quality import FarEndReports, measure

SILENCE = np.zeros(160, dtype=np.int16)


def streams() -> tuple[RtpStream, RtpStream]:
    """Duplex's stream ``a`` and the far end ``b`` (no jitter buffer: nothing is discarded as late)."""
    a = RtpStream(codec=PCMA, rng=random.Random(7), cname="duplex", jitter_delay=None)
    b = RtpStream(codec=PCMA, rng=random.Random(8), cname="far", jitter_delay=None)
    return a, b


def send(src: RtpStream, dst: RtpStream, count: int, *, drop_every: int = 0, wobble: float = 0.0) -> int:
    """``count`` 20 ms packets from ``src`` to ``dst``; every ``drop_every``-th is lost, and every other
    delivered packet arrives ``wobble`` seconds late. Returns how many were dropped."""
    dropped = delivered = 0
    for i in range(count):
        data = src.send_frame(SILENCE, 0.02 * i)
        if drop_every and i % drop_every == drop_every - 1:
            dropped += 1
            continue
        dst.receive_datagram(data, 0.02 * i + 0.001 + wobble * (delivered % 2), decode=False)
        delivered += 1
    return dropped


def test_clean_stream_measures_no_loss_no_jitter_and_a_g711_mos() -> None:
    a, b = streams()
    send(b, a, 300)
    q = measure(a.stats(), codec="PCMA", far_end=None)
    assert (q.packets_expected, q.packets_received, q.packets_lost, q.loss_ratio) == (300, 300, 0, 0.0)
    assert q.jitter_ms == 0.0
    assert q.mos_received == pytest.approx(4.40, abs=0.02)  # G.711, no loss, 20 ms: R = 92.7
    assert q.mos_sent is None and q.far_end is None and q.mos == q.mos_received and q.rtt_ms is None


def test_every_tenth_packet_lost_and_alternating_delay_give_known_loss_and_jitter() -> None:
    a, b = streams()
    dropped = send(b, a, 501, drop_every=10, wobble=0.004)
    assert dropped == 50
    q = measure(a.stats(), codec="PCMA", far_end=None)
    assert (q.packets_expected, q.packets_received, q.packets_lost) == (501, 451, 50)
    assert q.loss_ratio == pytest.approx(50 / 501, abs=1e-4)
    # every transit difference is 4 ms: the RFC 3550 A.8 estimate J += (|D| - J) / 16 converges to 4 ms
    # (3.875 with the integer arithmetic of A.8: 31 timestamp units)
    assert q.jitter_ms == pytest.approx(4.0, abs=0.15)
    assert q.mos_received is not None and 3.2 < q.mos_received < 3.6  # E-model, 10 % random loss
    data = q.event_data()
    assert (data["packets_lost"], data["jitter_ms"], data["mos"]) == (50, q.jitter_ms, q.mos_received)
    assert data["codec"] == "PCMA" and data["remote_reports"] == 0 and data["remote_loss_ratio"] is None


@pytest.mark.parametrize(("drop_every", "low", "high"), [(0, 4.38, 4.42), (20, 3.7, 4.1), (10, 3.2, 3.6)])
def test_mos_falls_with_loss(drop_every: int, low: float, high: float) -> None:
    a, b = streams()
    send(b, a, 1000, drop_every=drop_every)
    q = measure(a.stats(), codec="PCMA", far_end=None)
    assert q.mos is not None and low < q.mos < high, q


def test_far_end_reports_and_round_trip_time() -> None:
    a, b = streams()
    dropped = send(a, b, 401, drop_every=20)  # Duplex -> far end loses 5 % (the last packet arrives)
    send(b, a, 400)  # far end -> Duplex is clean
    assert dropped == 20
    # RFC 3550 §6.4.1: our SR at t=8.0; the far end receives it 50 ms later and reports 100 ms after that;
    # its RR reaches us at 8.2: RTT = 0.2 - DLSR 0.1 = 100 ms.
    b.receive_datagram(a.build_rtcp(8.0), 8.05)
    rr = b.build_rtcp(8.15)
    reports = FarEndReports()
    reports.receive(parse_compound(rr), ssrc=a.ssrc, packets_sent=a.packets_sent, clock_rate=8000)
    a.receive_datagram(rr, 8.2)
    far = reports.latest
    assert far is not None and far.reports == 1
    assert far.packets_lost == 20 and far.loss_ratio == pytest.approx(20 / 401, abs=1e-4)
    assert far.fraction_lost == pytest.approx(12 / 256, abs=1e-4)  # 8-bit fixed point: (20 << 8) // 401
    assert far.jitter_ms < 0.2
    q = measure(a.stats(), codec="PCMA", far_end=far)
    assert q.rtt_ms == pytest.approx(100.0, abs=0.1)
    assert q.packets_lost == 0 and q.mos_received is not None and q.mos_sent is not None
    assert q.mos_sent < q.mos_received and q.mos == q.mos_sent  # the worse direction goes to the CDR
    assert 3.7 < q.mos_sent < 4.1
    data = q.event_data()
    assert (data["remote_packets_lost"], data["remote_loss_ratio"], data["rtt_ms"]) == (
        20,
        far.loss_ratio,
        q.rtt_ms,
    )


def test_report_blocks_about_other_sources_are_ignored() -> None:
    reports = FarEndReports()
    other = RtcpReportBlock(ssrc=1234, fraction_lost=128, packets_lost=99, jitter=800)
    mine = RtcpReportBlock(ssrc=42, fraction_lost=0, packets_lost=-2, jitter=80)  # duplicates: negative loss
    reports.receive(parse_compound(serialize_compound([RtcpReceiverReport(ssrc=7, reports=(other,))])),
                    ssrc=42, packets_sent=100, clock_rate=8000)  # fmt: skip
    assert reports.latest is None
    reports.receive(
        [RtcpReceiverReport(ssrc=7, reports=(other, mine))], ssrc=42, packets_sent=100, clock_rate=8000
    )
    assert reports.latest is not None
    assert (reports.latest.packets_lost, reports.latest.loss_ratio, reports.latest.jitter_ms) == (
        -2,
        0.0,
        10.0,
    )
    assert reports.count == 1


def test_nothing_received_gives_no_received_mos() -> None:
    a, b = streams()
    send(a, b, 50)  # Duplex only sent
    q = measure(a.stats(), codec="PCMA", far_end=None)
    assert q.packets_expected == 0 and q.mos_received is None and q.mos is None and q.packets_sent == 50
