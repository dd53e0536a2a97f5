"""Fixed-delay jitter buffer: reordering, duplicates, late packets, loss concealment, wrap."""

from __future__ import annotations

from duplex.media.jitterbuffer import JitterBuffer
from duplex.media.rtp import RtpPacket


def pkt(i: int, base_ts: int = 1000, base_seq: int = 0) -> RtpPacket:
    return RtpPacket(payload_type=0, sequence_number=(base_seq + i) & 0xFFFF,
                     timestamp=(base_ts + 160 * i) & 0xFFFFFFFF, ssrc=7, payload=bytes([i % 256]) * 160)  # fmt: skip


def drain(jb: JitterBuffer, until: float) -> list[int | None]:
    """Pop every 20 ms tick up to ``until``; return the first payload byte (None = silence)."""
    out: list[int | None] = []
    t = 0.0
    while t <= until + 1e-9:
        for f in jb.pop_all(t):
            out.append(None if f.payload is None else f.payload[0])
        t += 0.02
    return out


def test_nothing_before_the_playout_delay() -> None:
    jb = JitterBuffer(delay=0.06)
    jb.put(pkt(0), 0.0)
    assert jb.pop(0.059) is None
    frame = jb.pop(0.06)
    assert frame is not None and frame.payload == pkt(0).payload and not frame.concealed


def test_reordered_packets_come_out_in_timestamp_order() -> None:
    jb = JitterBuffer(delay=0.06)
    arrivals = [(0, 0.0), (2, 0.035), (1, 0.04), (4, 0.08), (3, 0.085), (5, 0.1)]
    for i, t in arrivals:
        assert jb.put(pkt(i), t)
    assert drain(jb, 0.16) == [0, 1, 2, 3, 4, 5]


def test_duplicates_are_dropped_and_counted() -> None:
    jb = JitterBuffer()
    assert jb.put(pkt(0), 0.0)
    assert jb.put(pkt(1), 0.02)
    assert not jb.put(pkt(1), 0.021)
    assert jb.duplicates == 1


def test_late_packet_is_dropped_after_its_slot_played() -> None:
    jb = JitterBuffer(delay=0.04)
    jb.put(pkt(0), 0.0)
    jb.put(pkt(2), 0.04)
    assert drain(jb, 0.06) == [0, 0]  # slot 1 missing at 0.06: concealed by repeating frame 0
    assert not jb.put(pkt(1), 0.07)
    assert jb.late == 1 and jb.concealed == 1


def test_concealment_repeats_then_goes_silent() -> None:
    jb = JitterBuffer(delay=0.02, max_repeats=2)
    jb.put(pkt(0), 0.0)
    jb.put(pkt(5), 0.1)
    assert drain(jb, 0.12) == [0, 0, 0, None, None, 5]


def test_timestamp_and_sequence_wraparound() -> None:
    jb = JitterBuffer(delay=0.04)
    base_ts = 0xFFFFFFFF - 160 * 2 + 1  # frames 2.. wrap past 2**32
    for i, t in [(0, 0.0), (1, 0.02), (3, 0.05), (2, 0.055), (4, 0.08)]:
        jb.put(pkt(i, base_ts=base_ts, base_seq=0xFFFE), t)
    assert drain(jb, 0.12) == [0, 1, 2, 3, 4]


def test_sender_restart_resyncs() -> None:
    jb = JitterBuffer(delay=0.02)
    jb.put(pkt(0), 0.0)
    assert drain(jb, 0.02) == [0]
    restarted = pkt(0, base_ts=999_999)  # far away timestamp: new clock
    assert jb.put(restarted, 0.5)
    frame = jb.pop(0.52)
    assert frame is not None and frame.timestamp == 999_999


def test_playout_stops_after_sustained_silence_and_resyncs_on_the_next_packet() -> None:
    jb = JitterBuffer(delay=0.04, max_silent=5)
    jb.put(pkt(0), 0.0)
    frames = drain(jb, 1.0)
    # the packet, then 5 concealed frames, then the clock stops: no timer costs while nothing arrives
    assert len(frames) == 6 and frames[0] is not None
    assert jb.get_timer() is None
    jb.put(pkt(100), 2.0)  # the sender is back (any timestamp): a fresh timeline from this packet
    assert jb.get_timer() == 2.04
    assert drain(jb, 2.05)[0] is not None
