"""The relay fast path (bridge/echo with the same codec): RFC 3550 header rewriting, sans-IO and on sockets."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import numpy as np

from duplex.media.codecs import PCMU
from duplex.media.events import DtmfReceived, MediaEvent, SsrcChanged
from duplex.media.rtp import RtpPacket
from duplex.media.stream import RtpStream
from duplex.media.tones import tone
from duplex.services.media.endpoint import RtpEndpoint

SRC = 0x11223344


def pkt(seq: int, ts: int, *, ssrc: int = SRC, pt: int = 0, payload: bytes = b"\xff" * 160) -> bytes:
    return bytes(RtpPacket(payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=ssrc, payload=payload))


def pair() -> tuple[RtpStream, RtpStream]:
    return (
        RtpStream(codec=PCMU, rng=random.Random(1), jitter_delay=0.06),
        RtpStream(codec=PCMU, rng=random.Random(2), jitter_delay=0.06),
    )


def relay(a: RtpStream, b: RtpStream, data: bytes, now: float) -> tuple[RtpPacket | None, list[MediaEvent]]:
    out = a.relay(data, now, b)
    events: list[MediaEvent] = []
    if out is None:
        events = a.receive_datagram(data, now, decode=False)
        out = a.forward(data, now, b)
    return (RtpPacket.parse(out) if out is not None else None), events


def test_relay_rewrites_ssrc_and_continues_our_sequence_and_timestamps() -> None:
    a, b = pair()
    own = RtpPacket.parse(b.send_frame(np.zeros(160, dtype=np.int16), 0.0))
    first, events = relay(a, b, pkt(1000, 50_000), 0.02)
    assert [type(e) for e in events] == [SsrcChanged]  # the first packet of a source takes the full path
    assert first is not None and first.ssrc == b.ssrc == own.ssrc
    assert first.sequence_number == (own.sequence_number + 1) & 0xFFFF
    assert first.timestamp == (own.timestamp + 160) & 0xFFFFFFFF
    assert first.marker  # a new source starts a talkspurt
    second, events = relay(a, b, pkt(1001, 50_160), 0.04)
    assert events == [] and second is not None and not second.marker
    assert second.sequence_number == (first.sequence_number + 1) & 0xFFFF
    assert second.timestamp == (first.timestamp + 160) & 0xFFFFFFFF
    gap, _ = relay(a, b, pkt(1004, 50_640), 0.10)  # two packets lost upstream: the gap passes through
    assert gap is not None and gap.sequence_number == (first.sequence_number + 4) & 0xFFFF
    assert gap.payload == b"\xff" * 160
    assert a.receiver.received == 3 and a.receiver.lost == 2
    assert b.packets_sent == 4 and a.jitter is not None and a.jitter.buffered == 0  # nothing buffered


def test_own_audio_after_relaying_continues_the_relayed_numbering() -> None:
    a, b = pair()
    last, _ = relay(a, b, pkt(7, 999), 0.0)
    assert last is not None
    own = RtpPacket.parse(b.send_frame(np.zeros(160, dtype=np.int16), 0.02))
    assert own.sequence_number == (last.sequence_number + 1) & 0xFFFF
    assert own.timestamp == (last.timestamp + 160) & 0xFFFFFFFF
    again, _ = relay(a, b, pkt(8, 1159), 0.04)  # back to relaying: re-synchronised, marker set
    assert again is not None and again.marker and again.sequence_number == (own.sequence_number + 1) & 0xFFFF


def test_new_source_and_payload_type_mapping() -> None:
    a, b = pair()
    b.payload_type = 96  # the far leg negotiated another number for the same codec
    relay(a, b, pkt(1, 10), 0.0)
    other, events = relay(a, b, pkt(500, 123_456, ssrc=0xABCDEF), 0.02)
    assert any(isinstance(e, SsrcChanged) for e in events)
    assert other is not None and other.marker and other.payload_type == 96 and other.ssrc == b.ssrc


def test_telephone_events_are_reported_not_relayed() -> None:
    a, b = pair()
    relay(a, b, pkt(1, 0), 0.0)
    event = bytes([5, 0x80 | 10, 3, 32])  # digit 5, end bit, volume 10, duration 800
    out, events = relay(a, b, pkt(2, 160, pt=101, payload=event), 0.02)
    assert out is None and [e.digit for e in events if isinstance(e, DtmfReceived)] == ["5"]


def test_malformed_and_rtcp_are_not_relayed() -> None:
    a, b = pair()
    assert relay(a, b, b"\x80\x00", 0.0)[0] is None
    assert a.malformed == 1 and b.packets_sent == 0


async def test_same_codec_bridge_relays_without_pacing() -> None:
    caller, agent = await RtpEndpoint.open(), await RtpEndpoint.open()
    leg1, leg2 = await RtpEndpoint.open(), await RtpEndpoint.open()
    try:
        caller.set_remote(leg1.local_address)
        leg1.set_remote(caller.local_address)
        agent.set_remote(leg2.local_address)
        leg2.set_remote(agent.local_address)
        leg1.bridge(leg2)
        assert leg1._relay is leg2 and leg2._relay is leg1
        await caller.play_pcm(tone((700.0,), 400, amplitude=8000))
        caller.send_enabled = False  # the caller stops sending after its tone
        await asyncio.sleep(0.2)
        relayed = leg2.stream.packets_sent
        assert relayed == leg1.stream.receiver.received  # packet for packet: no concealment or silence added
        assert 20 <= relayed <= 25
        from_agent = leg1.stream.packets_sent
        await asyncio.sleep(0.3)
        assert leg2.stream.packets_sent == relayed  # nothing comes in, so the bridge sends nothing
        assert leg1.stream.packets_sent - from_agent >= 10  # the agent's silence is relayed to the caller
        leg1.bridge(None)
        assert leg1._relay is None and leg2._relay is None
    finally:
        for ep in (caller, agent, leg1, leg2):
            await ep.close()


async def test_recording_turns_the_fast_path_off(tmp_path: Path) -> None:
    leg1, leg2 = await RtpEndpoint.open(), await RtpEndpoint.open()
    try:
        leg1.bridge(leg2)
        assert leg1._relay is leg2
        leg1.record(tmp_path / "rec.wav")
        assert leg1._relay is None and leg2._relay is leg1
        leg1.stop_recording()
        assert leg1._relay is leg2
    finally:
        await leg1.close()
        await leg2.close()


def test_endpoints_under_uvloop_raise_nothing() -> None:
    """`duplex serve` runs on uvloop, whose handles differ from asyncio's (no TimerHandle.when())."""
    import uvloop

    errors: list[dict[str, object]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        await test_same_codec_bridge_relays_without_pacing()
        a, b = await RtpEndpoint.open(), await RtpEndpoint.open()
        try:
            a.set_remote(b.local_address)
            b.set_remote(a.local_address)
            b.echo()
            await a.play_pcm(tone((1000.0,), 200, amplitude=8000))
            await asyncio.sleep(0.2)
            assert b.stream.packets_sent >= 10
        finally:
            await a.close()
            await b.close()

    uvloop.run(main())
    assert errors == []
