"""In-band DTMF on the contact-center path: a sipp caller that offers no telephone-event (PCMA only) plays the
tones of "2" inside its audio (an RTP stream generated here, no RFC 4733 packet), and Duplex's Goertzel
detector hears the key: the menu routes the call to the support queue."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from duplex.db.models import IvrFlow, IvrFlowVersion, Queue
from duplex.media.codecs.g711 import alaw_encode
from duplex.media.dtmf import generate_dtmf
from duplex.media.rtp import RtpPacket
from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "menu"},
    "menu": {"type": "menu", "prompt": {"say": "For sales, press 1. For support, press 2."},
             "options": {"1": "sales", "2": "support"}, "timeout_seconds": 8, "max_retries": 0,
             "on_invalid": "bye", "on_timeout": "bye"},
    "sales": {"type": "queue", "queue": "sales", "on_timeout": "bye", "on_overflow": "bye"},
    "support": {"type": "queue", "queue": "support-l1", "on_timeout": "bye", "on_overflow": "bye"},
    "bye": {"type": "hangup", "reason": "done"},
}}  # fmt: skip


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_rtp_pcap(path: Path, payloads: list[bytes], *, payload_type: int = 8) -> None:
    """A classic pcap (Ethernet, IPv4, UDP) of one RTP packet per 20 ms: what sipp's play_pcap_audio sends."""
    loopback = socket.inet_aton("127.0.0.1")
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, payload in enumerate(payloads):
        rtp = bytes(RtpPacket(payload_type=payload_type, sequence_number=i, timestamp=i * 160, ssrc=0x5EED,
                              payload=payload, marker=i == 0))  # fmt: skip
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, loopback, loopback)
        header = header[:10] + struct.pack("!H", _ip_checksum(header)) + header[12:]
        frame = bytes(12) + b"\x08\x00" + header + udp
        micros = i * 20_000
        records.append(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)))
        records.append(frame)
    path.write_bytes(b"".join(records))


def inband_digit_payloads(digit: str, *, tone_ms: int = 120, silence_ms: int = 300) -> list[bytes]:
    """PCMA frames: silence, the digit's two tones, silence."""
    silence = np.zeros(8 * silence_ms, dtype=np.int16)
    pcm = np.concatenate([silence, generate_dtmf(digit, tone_ms), silence])
    pcm = np.pad(pcm, (0, -len(pcm) % 160))
    return [alaw_encode(pcm[i : i + 160]) for i in range(0, len(pcm), 160)]


async def test_inband_dtmf_picks_the_menu_option_and_reaches_the_support_queue(
    running: RunningEngine, tmp_path: Path
) -> None:
    center = running.center
    assert center is not None
    with running.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        version = max(v.version for v in flow.versions) + 1
        session.add(IvrFlowVersion(flow_id=flow.id, version=version, definition=FLOW))
        flow.published_version = version
        # nobody is staffed: the call waits 3 s in support, times out, and the flow hangs up
        session.execute(update(Queue).values(max_wait_seconds=3, escalate_after_seconds=None))
        support = session.scalars(select(Queue.id).where(Queue.name == "support-l1")).one()
    await center.reload()
    write_rtp_pcap(tmp_path / "inband_dtmf_2.pcap", inband_digit_payloads("2"))
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_menu_inband_2.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="1000", timeout=60,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await running.engine.store.flush()
    dtmf = [(e.data["digit"], e.data["source"]) for e in running.events("dtmf.received")]
    assert dtmf == [("2", "inband")]
    entered = running.events("queue.entered")
    assert [e.queue_id for e in entered] == [support]
    assert [e.data["reason"] for e in running.events("queue.left")] == ["timeout"]
    nodes = [e.data["node"] for e in running.events("ivr.node_entered")]
    assert nodes == ["answer", "menu", "support", "bye"]


def test_the_generated_stream_holds_the_digit_and_no_telephone_event(tmp_path: Path) -> None:
    """The stream itself: PCMA only, and the detector finds exactly one "2" in it."""
    from duplex.media.codecs.g711 import alaw_decode
    from duplex.media.dtmf import InbandDtmfDetector

    payloads = inband_digit_payloads("2")
    path = tmp_path / "x.pcap"
    write_rtp_pcap(path, payloads)
    data = path.read_bytes()
    assert data[:4] == struct.pack("<I", 0xA1B2C3D4) and len(payloads) == 36  # 300 + 120 + 300 ms
    detector = InbandDtmfDetector()
    digits = [d for p in payloads for d in detector.feed(alaw_decode(p))]
    assert digits == ["2"]
    record = 16 + 14 + 20 + 8 + 12 + 160  # pcap record header, Ethernet, IPv4, UDP, RTP header, 20 ms PCMA
    starts = [24 + i * record + 16 + 14 + 20 + 8 for i in range(len(payloads))]
    packets = [RtpPacket.parse(data[start : start + 172]) for start in starts]
    assert {p.payload_type for p in packets} == {8} and [p.sequence_number for p in packets[:3]] == [0, 1, 2]
