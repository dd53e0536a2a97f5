"""Sans-IO RtpStream: two streams wired in memory, time moved by hand."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from duplex.media.codecs import PCMA, PCMU
from duplex.media.dtmf import generate_dtmf
from duplex.media.events import AudioFrame, DtmfReceived, RtcpReceived, SsrcChanged
from duplex.media.rtcp import RtcpReceiverReport, RtcpSdes, RtcpSenderReport, parse_compound
from duplex.media.rtp import RtpPacket
from duplex.media.stream import RtpStream
from duplex.media.tones import tone


def pair(**kw: object) -> tuple[RtpStream, RtpStream]:
    a = RtpStream(codec=PCMU, rng=random.Random(1), cname="a", **kw)  # type: ignore[arg-type]
    b = RtpStream(codec=PCMU, rng=random.Random(2), cname="b", **kw)  # type: ignore[arg-type]
    return a, b


def frames_of(events: Sequence[object]) -> list[AudioFrame]:
    return [e for e in events if isinstance(e, AudioFrame)]


def test_packetisation_sequence_timestamp_marker() -> None:
    a, _ = pair()
    f = np.zeros(160, dtype=np.int16)
    p = [RtpPacket.parse(a.send_frame(f, 0.02 * i)) for i in range(3)]
    later = RtpPacket.parse(a.send_frame(f, 1.0))  # resumed after a pause
    assert [x.marker for x in p] == [True, False, False] and later.marker
    assert [(x.sequence_number - p[0].sequence_number) & 0xFFFF for x in p + [later]] == [0, 1, 2, 3]
    assert (p[2].timestamp - p[1].timestamp) & 0xFFFFFFFF == 160
    assert (later.timestamp - p[2].timestamp) & 0xFFFFFFFF == round((1.0 - 0.04) / 0.02) * 160
    assert p[0].payload == b"\xff" * 160 and p[0].payload_type == 0


def test_audio_through_jitter_buffer_with_loss() -> None:
    a, b = pair()
    sent = tone((1000.0,), 1000)
    out: list[AudioFrame] = []
    for i in range(50):
        now = 0.02 * i
        data = a.send_frame(sent[160 * i : 160 * (i + 1)], now)
        if i not in (10, 11):  # two packets lost
            out += frames_of(b.receive_datagram(data, now + 0.001))
        out += frames_of(b.handle_timer(now + 0.001))
    out += frames_of(b.handle_timer(1.2))
    assert len(out) >= 50
    assert sum(f.concealed for f in out[:50]) == 2
    decoded = np.concatenate([f.pcm for f in out[:50] if not f.concealed])
    assert len(decoded) == 48 * 160
    stats = b.stats()
    assert stats.packets_received == 48 and stats.packets_lost == 2 and stats.concealed >= 2


def test_immediate_decode_without_jitter_buffer() -> None:
    a, b = pair(jitter_delay=None)
    events = b.receive_datagram(a.send_frame(np.full(160, 1000, dtype=np.int16), 0.0), 0.0)
    assert isinstance(events[0], SsrcChanged)
    (frame,) = frames_of(events)
    assert abs(int(frame.pcm[0]) - 1000) < 40 and frame.payload_type == 0


def test_rfc4733_dtmf_replaces_audio_and_is_received_once() -> None:
    a, b = pair(jitter_delay=None)
    a.send_dtmf("4#", duration_ms=60)
    digits = []
    for i in range(30):
        data = a.send_frame(np.zeros(160, dtype=np.int16), 0.02 * i)
        if data:
            digits += [e.digit for e in b.receive_datagram(data, 0.02 * i) if isinstance(e, DtmfReceived)]
    assert digits == ["4", "#"]
    assert not a.dtmf_pending


def test_inband_dtmf_when_telephone_event_not_negotiated() -> None:
    a, b = pair(jitter_delay=None, telephone_event_pt=None)
    pcm = np.concatenate([generate_dtmf("7", 80), np.zeros(800, dtype=np.int16), generate_dtmf("8", 80),
                          np.zeros(800, dtype=np.int16)])  # fmt: skip
    digits = []
    for i in range(len(pcm) // 160):
        data = a.send_frame(pcm[160 * i : 160 * (i + 1)], 0.02 * i)
        digits += [e for e in b.receive_datagram(data, 0.02 * i) if isinstance(e, DtmfReceived)]
    assert [(d.digit, d.source) for d in digits] == [("7", "inband"), ("8", "inband")]


def test_inband_detection_follows_the_negotiated_telephone_event() -> None:
    """A stream opens before the SDP is known (telephone-event 101 assumed): an answer without telephone-event
    turns the in-band detector on, a later one with it turns it off again."""
    a, b = pair(jitter_delay=None, telephone_event_pt=None)
    listener = RtpStream(codec=PCMU, rng=random.Random(3), jitter_delay=None)
    assert listener.inband is None
    listener.configure(codec=PCMU, telephone_event_pt=None)
    assert listener.inband is not None
    pcm = np.concatenate([generate_dtmf("2", 100), np.zeros(800, dtype=np.int16)])
    digits = []
    for i in range(len(pcm) // 160):
        data = a.send_frame(pcm[160 * i : 160 * (i + 1)], 0.02 * i)
        digits += [e.digit for e in listener.receive_datagram(data, 0.02 * i) if isinstance(e, DtmfReceived)]
    assert digits == ["2"]
    listener.configure(codec=PCMU, telephone_event_pt=101)
    assert listener.inband is None
    forced = RtpStream(codec=PCMU, rng=random.Random(4), inband_dtmf=False)
    forced.configure(codec=PCMU, telephone_event_pt=None)
    assert forced.inband is None and b.inband is not None  # an explicit choice stays


def test_malformed_datagrams_are_counted_not_raised() -> None:
    _, b = pair()
    for junk in (b"", b"\x00" * 5, b"\x40" * 20, bytes([0x80, 200, 0, 9]) + b"x"):
        assert b.receive_datagram(junk, 0.0) == []
    assert b.stats().malformed == 4


def test_rtcp_sr_rr_exchange_and_rtt() -> None:
    a, b = pair()
    for i in range(100):
        now = 0.02 * i
        b.receive_datagram(a.send_frame(np.zeros(160, dtype=np.int16), now), now + 0.01)
        a.receive_datagram(b.send_frame(np.zeros(160, dtype=np.int16), now), now + 0.01)
    sr = a.build_rtcp(2.0)
    packets = parse_compound(sr)
    assert isinstance(packets[0], RtcpSenderReport) and isinstance(packets[1], RtcpSdes)
    assert packets[0].packet_count == 100 and packets[0].reports[0].ssrc == b.ssrc
    assert packets[1].get_cname(a.ssrc) == "a"
    events = b.receive_datagram(sr, 2.01)
    assert isinstance(events[0], RtcpReceived)
    reply = b.build_rtcp(2.11)  # 100 ms after receiving the SR
    assert a.receive_datagram(reply, 2.12)
    assert a.rtt is not None and abs(a.rtt - 0.02) < 0.002  # 10 ms each way, DLSR subtracted
    rr_only = parse_compound(a.build_rtcp(2.2))[0]  # nothing sent since the last report -> RR
    assert isinstance(rr_only, RtcpReceiverReport)


def test_rtcp_timer_is_randomised_around_5_seconds() -> None:
    a, b = pair()
    b.receive_datagram(a.send_frame(np.zeros(160, dtype=np.int16), 0.0), 0.0)
    intervals = []
    now = 0.0
    for _ in range(20):
        while True:
            t = b.get_timer()
            assert t is not None
            now = t
            b.handle_timer(now)
            out = b.rtcp_to_send()
            if out:
                intervals.append(now)
                break
    gaps = np.diff(intervals)
    assert all(2.5 - 0.03 <= g <= 7.5 + 0.03 for g in gaps) and np.std(gaps) > 0.3


def test_codec_switch_by_payload_type() -> None:
    a, b = pair(jitter_delay=None)
    a.configure(codec=PCMA, telephone_event_pt=101)
    (frame,) = frames_of(b.receive_datagram(a.send_frame(np.full(160, 500, dtype=np.int16), 0.0), 0.0))
    assert frame.payload_type == 8 and abs(int(frame.pcm[0]) - 500) < 20
