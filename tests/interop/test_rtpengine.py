"""Media through a real rtpengine (Debian's rtpengine-daemon, userspace only: ``--table=-1``).

The daemon runs per test on a free ng port and a port range of its own below the kernel's ephemeral range
(sipp and the engine's ``free_port`` picks live in 32768-60999, Duplex's local RTP in 61000-65000).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from duplex.config import Settings
from duplex.db.models import CallLeg
from duplex.media.codecs import get_codec
from duplex.media.monitoring import MonitorMode
from duplex.media.offer_answer import NegotiatedMedia
from duplex.media.rtpengine_ng import NgCommandError, NgRetryPolicy
from duplex.media.wav import read_wav
from duplex.services.calls.monitor import CallMonitoring, MonitorRefused
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_backend import RtpengineBackend, RtpengineSession, RtpengineUnsupported
from duplex.services.media.rtpengine_client import RtpengineClient
from duplex.services.node import media_backend
from interop.conftest import RunningEngine, registered_phone
from interop.peers import free_even_port, free_port, rtp_capture, rtp_packets_to, run_sipp, sipp_background
from interop.rtpengine_daemon import Rtpengine

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


@pytest.fixture
async def backend(rtpengine: Rtpengine) -> AsyncIterator[RtpengineBackend]:
    be = RtpengineBackend(rtpengine.ng)
    try:
        yield be
    finally:
        await be.close()


def _phone() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def _negotiated(phone: socket.socket) -> NegotiatedMedia:
    return NegotiatedMedia(remote_address="127.0.0.1", remote_port=phone.getsockname()[1], codec="PCMU",
                           payload_type=0, telephone_event_pt=101, direction="sendrecv")  # fmt: skip


def _rtp(seq: int, ssrc: int, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, seq * 160, ssrc) + b"\xff" * 160


async def _exchange(a: socket.socket, a_to: tuple[str, int], b: socket.socket, b_to: tuple[str, int],
                    first: int = 0, count: int = 20,
                    ssrcs: tuple[int, ...] = ()) -> tuple[list[tuple[bytes, Any]], list[tuple[bytes, Any]]]:  # fmt: skip
    """Each phone sends packets ``first``.. ``first + count - 1`` to its rtpengine port; returns what each
    received."""
    for seq in range(first, first + count):
        a.sendto(_rtp(seq, 0xA), a_to)
        b.sendto(_rtp(seq, 0xB), b_to)
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.2)
    return _drain(a, ssrcs), _drain(b, ssrcs)


def _drain(s: socket.socket, ssrcs: tuple[int, ...] = ()) -> list[tuple[bytes, Any]]:
    """What the phone received; with `ssrcs`, only those streams: a stray packet of another test (they run in
    parallel) still streaming to a port this phone took over is not part of an exchange between two phones."""
    out = []
    while True:
        try:
            data, addr = s.recvfrom(2048)
        except BlockingIOError:
            return out
        if not ssrcs or int.from_bytes(data[8:12], "big") in ssrcs:
            out.append((data, addr))


async def test_ping_and_unknown_call_errors(rtpengine: Rtpengine) -> None:
    client = RtpengineClient(rtpengine.ng)
    try:
        assert await client.ping()
        with pytest.raises(NgCommandError) as exc:
            await client.query("no-such-call")
        assert exc.value.command == "query" and "call" in exc.value.reason.lower()
    finally:
        await client.close()


async def test_bridged_sessions_relay_rtp_inside_rtpengine(
    backend: RtpengineBackend, rtpengine: Rtpengine
) -> None:
    a, b = await backend.open_session(), await backend.open_session()
    assert rtpengine.port_min <= a.local_address[1] <= rtpengine.port_max
    phone_a, phone_b = _phone(), _phone()
    try:
        a.apply(_negotiated(phone_a))
        b.apply(_negotiated(phone_b))
        await asyncio.gather(a.settled(), b.settled())
        got_a, got_b = await _exchange(phone_a, a.local_address, phone_b, b.local_address, ssrcs=(0xA, 0xB))
        assert (got_a, got_b) == ([], [])  # not bridged: rtpengine drops the media
        a.bridge(b)
        await a.settled()  # the ng commands have been answered: rtpengine relays from now on
        got_a, got_b = await _exchange(
            phone_a, a.local_address, phone_b, b.local_address, first=20, ssrcs=(0xA, 0xB)
        )
        # every packet crossed, unchanged, from the port advertised to the receiving phone (symmetric RTP)
        assert [d for d, _ in got_b] == [_rtp(seq, 0xA) for seq in range(20, 40)]
        assert [d for d, _ in got_a] == [_rtp(seq, 0xB) for seq in range(20, 40)]
        assert {addr for _, addr in got_a} == {a.local_address}
        assert {addr for _, addr in got_b} == {b.local_address}
        stats = await a.refresh_stats()
        assert (stats.packets_received, stats.packets_sent) == (40, 20)  # 20 before the bridge too
        a.bridge(None)
        await a.settled()
        got_a, got_b = await _exchange(phone_a, a.local_address, phone_b, b.local_address, first=40)
        assert (got_a, got_b) == ([], [])
        assert a.errors == [] and b.errors == []
        await a.close()
        with pytest.raises(NgCommandError):
            await backend.client.query(a.call_id)  # deleted
        assert a.stats().packets_received == 60
    finally:
        phone_a.close()
        phone_b.close()


async def test_bridging_to_a_third_leg_moves_the_relay(backend: RtpengineBackend) -> None:
    """Like an attended transfer: A talks to B, then to C; B is left unbridged (its media dropped)."""
    a, b, c = await backend.open_session(), await backend.open_session(), await backend.open_session()
    phones = _phone(), _phone(), _phone()
    try:
        for session, phone in zip((a, b, c), phones, strict=True):
            session.apply(_negotiated(phone))
        a.bridge(b)
        c.bridge(a)  # a leaves b first
        await asyncio.gather(a.settled(), b.settled(), c.settled())
        assert (a.peer, b.peer, c.peer) == (c, None, a)
        got_a, got_c = await _exchange(phones[0], a.local_address, phones[2], c.local_address, first=300)
        assert [d for d, _ in got_c] == [_rtp(seq, 0xA) for seq in range(300, 320)]
        assert [d for d, _ in got_a] == [_rtp(seq, 0xB) for seq in range(300, 320)]  # phone C sends as 0xB
        assert _drain(phones[1]) == []
        assert a.errors == b.errors == c.errors == []
    finally:
        for phone in phones:
            phone.close()


async def test_send_dtmf_reaches_the_phone_as_rfc4733(rtpengine: Rtpengine) -> None:
    backend = RtpengineBackend(rtpengine.ng, inject_dtmf=True)
    a, b = await backend.open_session(), await backend.open_session()
    phone_a, phone_b = _phone(), _phone()
    try:
        a.apply(_negotiated(phone_a))
        b.apply(_negotiated(phone_b))
        a.bridge(b)
        await a.settled()
        await _exchange(phone_a, a.local_address, phone_b, b.local_address, count=5)
        a.send_dtmf("5")  # rtpengine's play DTMF needs media flowing to fit the events into
        for seq in range(5, 30):
            phone_b.sendto(_rtp(seq, 0xB), b.local_address)
            await asyncio.sleep(0.02)
        await a.settled()
        await asyncio.sleep(0.2)
        assert a.errors == []
        events = [d for d, _ in _drain(phone_a) if d[1] & 0x7F == 101]
        assert events and events[0][12] == 5  # RFC 4733 §2.3: the event code of digit 5
        assert not [d for d, _ in _drain(phone_b) if d[1] & 0x7F == 101]  # to the leg's own phone only
    finally:
        phone_a.close()
        phone_b.close()
        await backend.close()


async def test_python_audio_operations_raise_a_clear_error(backend: RtpengineBackend) -> None:
    a = await backend.open_session()
    with pytest.raises(RtpengineUnsupported, match="play_tts is not available .* in-process fallback"):
        await a.play_tts("hello")
    with pytest.raises(RtpengineUnsupported, match="collect_dtmf"):
        await a.collect_dtmf(1, 0.1)
    with pytest.raises(RtpengineUnsupported, match="record"):
        a.record("/tmp/never.wav")
    with pytest.raises(RtpengineUnsupported, match="echo"):
        a.echo()
    with pytest.raises(RtpengineUnsupported, match="send_dtmf is not available"):
        a.send_dtmf("1")
    local = await RtpEndpoint.open()
    try:
        with pytest.raises(RtpengineUnsupported, match="bridge to an in-process leg is not available"):
            a.bridge(local)  # through a Python endpoint, which needs the fallback
        assert isinstance(a, RtpengineSession) and a.local_peer is None
    finally:
        await local.close()


async def test_ivr_audio_falls_back_to_a_python_endpoint_behind_rtpengine(rtpengine: Rtpengine) -> None:
    backend = RtpengineBackend(rtpengine.ng, fallback=LocalMediaBackend("127.0.0.1"))
    a, b = await backend.open_session(), await backend.open_session()
    phone_a, phone_b = _phone(), _phone()
    try:
        a.apply(_negotiated(phone_a))
        b.apply(_negotiated(phone_b))
        tone = (np.sin(np.arange(1600) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16)
        await a.play([tone[i : i + 160] for i in range(0, 1600, 160)])
        assert a.audio is not None and a.errors == []
        await asyncio.sleep(0.1)
        played = [(d, addr) for d, addr in _drain(phone_a) if d[1] & 0x7F == 0]
        assert len(played) >= 10 and {addr for _, addr in played} == {a.local_address}  # via rtpengine
        assert sum(d[12:] != b"\xff" * 160 for d, _ in played) >= 10  # the tone's 10 frames (and silence)
        # RFC 4733 events for digit 7 from the phone reach the Python endpoint through rtpengine
        collect = asyncio.ensure_future(a.collect_dtmf(1, 3.0))
        for i, end in enumerate((False, False, True, True, True)):
            payload = struct.pack("!BBH", 7, (0x80 if end else 0) | 10, 160 * (i + 1))
            phone_a.sendto(struct.pack("!BBHII", 0x80, 101, 100 + i, 16000, 0xA) + payload, a.local_address)
            await asyncio.sleep(0.02)
        assert await collect == "7"
        # bridging hands the inside to the other leg: the Python endpoint goes, RTP is relayed again
        a.bridge(b)
        await a.settled()
        assert a.audio is None
        _drain(phone_a)
        got_a, got_b = await _exchange(phone_a, a.local_address, phone_b, b.local_address, first=200)
        assert [d for d, _ in got_b] == [_rtp(seq, 0xA) for seq in range(200, 220)]
        assert [d for d, _ in got_a] == [_rtp(seq, 0xB) for seq in range(200, 220)]
        with pytest.raises(RtpengineUnsupported, match="play_tts on a bridged leg"):
            await a.play_tts("hello")
        assert a.errors == [] and b.errors == []
    finally:
        phone_a.close()
        phone_b.close()
        await backend.close()


# -- a bridged call through Duplex: agent (sipp) -> Duplex -> trunk (sipp -rtp_echo) ---------------------


@pytest.fixture
def engine_options(rtpengine: Rtpengine) -> dict[str, Any]:
    settings = Settings(media_backend="rtpengine", media_rtpengine_ng=f"{rtpengine.ng[0]}:{rtpengine.ng[1]}",
                        public_ip="127.0.0.1")  # fmt: skip
    backend = media_backend(settings)
    assert isinstance(backend, RtpengineBackend)
    return {"trunk": {"allowed_ips": []}, "media": backend, "digest_algorithms": ("MD5", "SHA-256")}


def _source_ports(pcap: Path, port: int) -> set[int]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"udp.dstport=={port}", "-T", "fields",
                          "-e", "udp.srcport"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {int(p) for p in out.split()}


async def test_bridged_call_media_flows_through_rtpengine(
    running: RunningEngine, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    backend = running.engine.media
    assert isinstance(backend, RtpengineBackend)
    opened: list[RtpengineSession] = []
    open_session = backend.open_session

    async def recording_open() -> RtpengineSession:
        session = await open_session()
        opened.append(session)
        return session

    backend.open_session = recording_open  # type: ignore[method-assign]
    carrier_port, carrier_media, caller_media = free_port(), free_even_port(), free_even_port()
    running.set_trunk(port=carrier_port)
    await running.engine.refresh_directory(force=True)
    with sipp_background(tmp_path, "uas_answer.xml", local_port=carrier_port, media_port=carrier_media,
                         calls=1, extra=["-rtp_echo"]):  # fmt: skip
        with rtp_capture(tmp_path, caller_media) as pcap:
            result = await asyncio.to_thread(
                run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
                media_port=caller_media, service="+442071234567", duration_ms=4000, timeout=30,
                extra=["-au", "alice", "-ap", running.sip_password("alice")],
            )  # fmt: skip
    assert result.successful == 1, result.output
    stats = rtp_packets_to(pcap, caller_media)
    print(f"trunk echo RTP at the caller via rtpengine: {stats}")
    assert stats.packets >= 130, stats  # the pcap sends ~134 in 4 s, echoed by the carrier
    assert stats.lost == 0
    # The echo reached the caller from the rtpengine port in Duplex's SDP answer, not from a Duplex socket.
    caller_leg, trunk_leg = opened
    assert _source_ports(pcap, caller_media) == {caller_leg.local_address[1]}
    assert rtpengine.port_min <= caller_leg.local_address[1] <= rtpengine.port_max
    for _ in range(50):  # the legs' close() (final query, delete) runs in the engine's tasks
        if caller_leg.last_query and trunk_leg.last_query:
            break
        await asyncio.sleep(0.1)
    caller, trunk = caller_leg.stats(), trunk_leg.stats()
    print(f"rtpengine counters: caller leg {caller}, trunk leg {trunk}")
    assert caller.packets_received >= 130 and caller.packets_sent >= 130
    assert trunk.packets_sent >= 130 and trunk.packets_received >= 130
    assert caller_leg.errors == [] and trunk_leg.errors == []
    # call.quality of an rtpengine leg follows its close() (the final query): wait for both events
    quality: dict[Any, Any] = {}
    for _ in range(50):
        await running.engine.store.flush()
        quality = {e.leg_id: e.data for e in running.events("call.quality")}
        if len(quality) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(running.events("call.bridged")) == 1
    assert len(quality) == 2, quality
    with running.sessions() as session:
        rows = {r.id: r for r in session.scalars(select(CallLeg))}
    for leg_id, data in quality.items():
        print(f"call.quality of an rtpengine leg: {data}")
        assert data["packets_received"] >= 80 and data["packets_sent"] >= 80, data  # >= 3 s of 4 at 33 pps
        assert data["mos"] is not None and data["mos"] >= 4.0, data
        assert rows[str(leg_id)].mos == data["mos"]


def _first_payloads(pcap: Path, port: int, count: int) -> list[np.ndarray[Any, np.dtype[np.int16]]]:
    """The first ``count`` RTP payloads arriving at ``port``, decoded (PCMU or PCMA)."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={port},rtp", "-Y", f"udp.dstport=={port}",
                          "-T", "fields", "-e", "rtp.p_type", "-e", "rtp.payload"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    frames = []
    for line in out.splitlines():
        pt, _, payload = line.partition("\t")
        if pt in ("0", "8") and payload:
            frames.append(
                get_codec("PCMU" if pt == "0" else "PCMA").decode(bytes.fromhex(payload.replace(":", "")))
            )
    return frames[:count]


async def test_a_call_whose_second_leg_missed_rtpengine_bridges_in_python(
    running: RunningEngine, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    """rtpengine stops answering between the caller's leg and the trunk leg: the trunk leg's media is in
    process, and the bridge goes through the caller leg's Python endpoint (no TypeError into the engine)."""
    backend = running.engine.media
    assert isinstance(backend, RtpengineBackend)
    opened: list[object] = []
    open_session = backend.open_session
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))

    async def second_leg_misses_rtpengine() -> RtpengineSession | RtpEndpoint:
        if not opened:
            session = await open_session()
        else:
            real, backend.client = (
                backend.client,
                RtpengineClient(silent.getsockname(), policy=NgRetryPolicy(interval=0.05, retries=1)),
            )
            try:
                session = await open_session()
            finally:
                await backend.client.close()
                backend.client = real
        opened.append(session)
        return session

    backend.open_session = second_leg_misses_rtpengine  # type: ignore[method-assign]
    carrier_port, carrier_media, caller_media = free_port(), free_even_port(), free_even_port()
    running.set_trunk(port=carrier_port)
    await running.engine.refresh_directory(force=True)
    try:
        with sipp_background(tmp_path, "uas_answer.xml", local_port=carrier_port, media_port=carrier_media,
                             calls=1, extra=["-rtp_echo"]):  # fmt: skip
            with rtp_capture(tmp_path, caller_media) as pcap:
                result = await asyncio.to_thread(
                    run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{running.port}",
                    local_port=free_port(), media_port=caller_media, service="+442071234567",
                    duration_ms=4000, timeout=30, extra=["-au", "alice", "-ap", running.sip_password("alice")],
                )  # fmt: skip
    finally:
        silent.close()
    assert result.successful == 1, result.output
    caller_leg, trunk_leg = opened
    assert isinstance(caller_leg, RtpengineSession) and isinstance(trunk_leg, RtpEndpoint)
    stats = rtp_packets_to(pcap, caller_media)
    print(f"trunk echo RTP at the caller via rtpengine and Python: {stats}")
    assert stats.packets >= 120, stats  # the pcap sends ~134 in 4 s, echoed by the carrier
    assert _source_ports(pcap, caller_media) == {caller_leg.local_address[1]}
    assert caller_leg.errors == []
    await running.engine.store.flush()
    assert len(running.events("call.bridged")) == 1


async def test_echo_1001_through_rtpengine_and_a_python_endpoint(
    running: RunningEngine, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=media, service="1001", duration_ms=8000, timeout=30,
        )  # fmt: skip
    assert result.successful == 1, result.output
    stats = rtp_packets_to(pcap, media)
    print(f"echo RTP at sipp via rtpengine: {stats}")
    # the 200 ms beep first (ten frames, the first 20 ms may miss the endpoint attach)
    first = _first_payloads(pcap, media, 10)
    loud = [float(np.sqrt(np.mean(f.astype(np.float64) ** 2))) > 1000.0 for f in first]
    assert len(first) == 10 and sum(loud) >= 8, loud
    # sipp sends 236 packets; the echo is sent back once the beep is over, continuously at 50 pps, all
    # through rtpengine's port
    assert stats.packets >= 230, stats
    assert stats.lost == 0, stats
    (port,) = _source_ports(pcap, media)
    assert rtpengine.port_min <= port <= rtpengine.port_max


async def test_voicemail_1002_records_through_rtpengine(
    running: RunningEngine, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_voicemail.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="1002", duration_ms=7000, timeout=40,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await asyncio.sleep(0.3)
    await running.engine.store.flush()
    saved = running.events("recording.saved")
    assert len(saved) == 1
    pcm = read_wav(running.settings.data_dir / "recordings" / f"{saved[0].call_id}.wav").astype(np.float64)
    assert len(pcm) > 8000  # more than a second of the caller after the greeting
    assert float(np.sqrt(np.mean(pcm**2))) > 100.0


async def test_rfc4733_dtmf_on_an_rtpengine_ivr_leg_is_emitted(
    running: RunningEngine, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_dtmf.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="1001", duration_ms=2000, timeout=20,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await running.engine.store.flush()
    digits = [(e.data["digit"], e.data["source"]) for e in running.events("dtmf.received")]
    assert digits == [("1", "rfc4733")]


async def test_an_rtpengine_leg_bridges_to_an_in_process_leg(rtpengine: Rtpengine) -> None:
    """rtpengine stopped answering between two legs: the second leg is in process, and bridging them (from
    either side) relays through the rtpengine leg's Python endpoint."""
    backend = RtpengineBackend(rtpengine.ng, fallback=LocalMediaBackend("127.0.0.1"))
    assert backend.fallback is not None
    a = await backend.open_session()
    b = await backend.fallback.open_session()
    assert isinstance(a, RtpengineSession)
    phone_a, phone_b = _phone(), _phone()
    try:
        a.apply(_negotiated(phone_a))
        b.apply(_negotiated(phone_b))
        b.bridge(a)  # as Leg.bridge does when the in-process leg is the first
        await a.settled()
        assert a.audio is not None and a.local_peer is b and a.errors == []
        _drain(phone_a)
        _drain(phone_b)
        got_a, got_b = await _exchange(phone_a, a.local_address, phone_b, b.local_address, count=30)
        from_a = [d for d, _ in got_b if d[1] & 0x7F == 0 and d[12:] == b"\xff" * 160]
        from_b = [d for d, _ in got_a if d[1] & 0x7F == 0 and d[12:] == b"\xff" * 160]
        assert len(from_a) >= 25 and len(from_b) >= 25, (len(from_a), len(from_b))
        assert {addr for _, addr in got_a} == {a.local_address}  # phone A still hears rtpengine's port
        a.bridge(None)
        assert a.local_peer is None
        assert a.errors == []
    finally:
        phone_a.close()
        phone_b.close()
        await backend.close()


async def test_a_leg_held_back_until_its_answer_relays_one_way_only(backend: RtpengineBackend) -> None:
    """Early media through rtpengine: the callee's leg sends nothing to the callee before its answer
    (`set_sending(False)`, ng ``block media``), while the callee's early media reaches the caller; after the
    answer (`set_sending(True)`) both ways flow."""
    caller, callee = await backend.open_session(), await backend.open_session()
    phone_caller, phone_callee = _phone(), _phone()
    try:
        caller.apply(_negotiated(phone_caller))
        callee.apply(_negotiated(phone_callee))
        callee.set_sending(False)  # the outbound leg before its 2xx
        caller.bridge(callee)
        await asyncio.gather(caller.settled(), callee.settled())
        got_caller, got_callee = await _exchange(
            phone_caller, caller.local_address, phone_callee, callee.local_address
        )
        assert got_callee == []  # the caller's audio does not reach the callee before the answer
        assert [d for d, _ in got_caller] == [_rtp(seq, 0xB) for seq in range(20)]  # early media does
        callee.set_sending(True)
        await callee.settled()
        got_caller, got_callee = await _exchange(
            phone_caller, caller.local_address, phone_callee, callee.local_address, first=20
        )
        assert [d for d, _ in got_callee] == [_rtp(seq, 0xA) for seq in range(20, 40)]
        assert [d for d, _ in got_caller] == [_rtp(seq, 0xB) for seq in range(20, 40)]
        assert caller.errors == [] and callee.errors == []
    finally:
        phone_caller.close()
        phone_callee.close()


async def test_monitoring_a_call_whose_media_is_in_rtpengine_is_refused(
    running: RunningEngine, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    """Listen/whisper/barge mix the legs' audio in this process; legs in rtpengine are refused with 409."""
    alice = await registered_phone(running, tmp_path)
    dave = await registered_phone(running, tmp_path, user="dave")
    try:
        dave.command("dial", f"sip:2001@127.0.0.1:{running.port}")
        await asyncio.to_thread(dave.wait_event, "CALL_ESTABLISHED", 15)
        call = next(iter(running.engine.calls.values()))
        assert all(isinstance(leg.media, RtpengineSession) for leg in call.legs)
        with pytest.raises(MonitorRefused, match="rtpengine") as refused:
            await CallMonitoring(running.engine).start(call.id, sip_username="carol", user_id=1,
                                                       mode=MonitorMode.LISTEN)  # fmt: skip
        assert refused.value.status == 409
        assert not call.ended.is_set() and len(call.legs) == 2  # nothing was rung, the call goes on
    finally:
        await asyncio.to_thread(dave.stop)
        await asyncio.to_thread(alice.stop)
