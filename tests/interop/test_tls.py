"""SIP over TLS (RFC 3261 §26, port 5061 style listener) against real peers: baresip registers over TLS and
calls the echo test 1001 (responses and in-dialog requests stay on its TLS connection), OPTIONS over TLS, and
a plain-TCP client on the TLS port does not take the listener down. The certificate is the self-signed one
Duplex makes in its data directory when none is configured."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from duplex.db.models import Call, Trunk
from duplex.services.sip.tls import client_context, ensure_self_signed
from duplex.sip import SipResponse, parse_message
from interop.conftest import RunningEngine, engine_running, make_settings
from interop.peers import Baresip, free_even_port, free_port, make_tone_wav, run_sipp, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


@asynccontextmanager
async def _engine_with_tls(tmp_path: Path) -> AsyncIterator[RunningEngine]:
    """A running engine with TLS on a free port and the self-signed certificate in its data directory."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = make_settings(tmp_path, free_port()).model_copy(
        update={"sip_tls_enabled": True, "sip_tls_port": 0}
    )
    async with engine_running(settings) as running:
        yield running


@pytest.fixture
async def tls_engine(tmp_path: Path) -> AsyncIterator[RunningEngine]:
    async with _engine_with_tls(tmp_path) as running:
        yield running


def _options(tag: str, scheme: str = "sip") -> bytes:
    return (
        f"OPTIONS {scheme}:1001@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{tag};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@127.0.0.1>;tag={tag}\r\n"
        f"To: <{scheme}:1001@127.0.0.1>\r\n"
        f"Call-ID: {tag}@127.0.0.1\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def _tls_options(port: int, cafile: Path, tag: str, scheme: str = "sip") -> SipResponse:
    context = ssl.create_default_context(cafile=str(cafile))  # verifies the self-signed cert and its SAN
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    try:
        writer.write(_options(tag, scheme))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        response = parse_message(head)
        assert isinstance(response, SipResponse)
        return response
    finally:
        writer.close()
        await writer.wait_closed()


async def test_options_over_tls_survive_a_plain_tcp_client_on_the_tls_port(tls_engine: RunningEngine) -> None:
    engine = tls_engine.engine
    port = engine.transport.tls_port
    assert engine.status["tls"] == port and port not in (0, tls_engine.port)
    cert = tls_engine.settings.data_dir / "tls" / "sip-tls.crt"
    response = await _tls_options(port, cert, "first", "sips")  # RFC 3261 §19.1: sips: URIs mean TLS
    assert response.status == 200 and response.vias[0].transport == "TLS"
    assert response.vias[0].params["received"] == "127.0.0.1"
    # a plain TCP client speaks SIP to the TLS port: the handshake fails and only that connection closes
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_options("plain"))
    received = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 5):
        received += chunk
    assert b"SIP/2.0" not in received  # no SIP answer in clear text, at most a TLS alert
    writer.close()
    # a client that connects and says nothing does not block the listener either
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    response = await _tls_options(port, cert, "after")
    assert response.status == 200 and response.call_id == "after@127.0.0.1"
    idle.close()
    assert engine.transport.stats.tls_connections == 2  # the failed handshake never became a connection


async def test_baresip_registers_and_calls_echo_over_tls(tls_engine: RunningEngine, tmp_path: Path) -> None:
    engine = tls_engine.engine
    registrar = f"127.0.0.1:{engine.transport.tls_port};transport=tls"
    phone = Baresip(tmp_path, user="alice", password=tls_engine.sip_password("alice"), registrar=registrar,
                    tone_wav=make_tone_wav(tmp_path / "tone.wav", seconds=20, freq=440))  # fmt: skip
    await asyncio.to_thread(phone.start)
    try:
        for _ in range(100):
            if engine.registrations.lookup("alice", engine.now()):
                break
            await asyncio.sleep(0.1)
        (binding,) = engine.registrations.lookup("alice", engine.now())
        assert binding.source.transport == "tls"
        phone.command("dial", f"sip:1001@127.0.0.1:{engine.transport.tls_port};transport=tls")
        await asyncio.to_thread(phone.wait_event, "CALL_ESTABLISHED", 10)
        await asyncio.sleep(1.0)
        phone.command("hangup")
        await asyncio.to_thread(phone.wait_event, "CALL_CLOSED", 10)
    finally:
        await asyncio.to_thread(phone.stop)
    await engine.store.flush()
    ended = [e.data for e in tls_engine.events("call.ended")]
    assert len(ended) == 1
    stats = engine.transport.stats
    assert stats.by_transport.get("tls", 0) >= 4  # REGISTER x2, INVITE, ACK, BYE all came over TLS
    assert stats.by_transport.get("udp", 0) == 0 and stats.by_transport.get("tcp", 0) == 0


async def test_agent_call_goes_out_to_a_tls_trunk_named_localhost(
    tls_engine: RunningEngine, tmp_path: Path
) -> None:
    """alice (sipp over UDP) calls an external number; the trunk is baresip with its own self-signed certificate,
    reached as ``localhost`` with transport=tls and verified against that certificate."""
    engine = tls_engine.engine
    cert, key = ensure_self_signed(tmp_path / "carrier-tls", "localhost")
    pem = tmp_path / "carrier.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    carrier = Baresip(tmp_path, user="carrier", password="unused", registrar="127.0.0.1",
                      tone_wav=make_tone_wav(tmp_path / "carrier.wav", seconds=20, freq=660))  # fmt: skip
    with (carrier.dir / "config").open("a") as config:
        config.write(f"sip_certificate {pem}\n")  # baresip listens for TLS on its SIP port + 1
    (carrier.dir / "accounts").write_text(
        "<sip:+442071234567@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMA\n"
    )
    engine.transport.tls_client = client_context(cafile=cert)  # trust exactly the carrier's certificate
    tls_engine.set_trunk(host="localhost", port=carrier.sip_port + 1, transport="tls", allowed_ips=[])
    await engine.refresh_directory(force=True)
    await asyncio.to_thread(carrier.start)
    try:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{tls_engine.port}", local_port=free_port(),
            media_port=free_even_port(), service="+442071234567", duration_ms=1500, timeout=30,
            extra=["-au", "alice", "-ap", tls_engine.sip_password("alice")],
        )  # fmt: skip
        assert result.successful == 1, result.output + carrier.log()[-2000:]
    finally:
        await asyncio.to_thread(carrier.stop)
    assert "Call established" in carrier.log() or "CALL_ESTABLISHED" in carrier.log(), carrier.log()[-2000:]
    stats = engine.transport.stats
    assert stats.tls_connections == 1 and stats.by_transport.get("tls", 0) >= 2  # 100/200 (and BYE's 200)
    await engine.store.flush()
    answered = tls_engine.events("call.answered")
    assert len(answered) == 1


async def test_untrusted_tls_trunk_fails_over_at_once(tls_engine: RunningEngine, tmp_path: Path) -> None:
    """The carrier's self-signed certificate is not trusted (system CAs): the handshake fails, the INVITE's
    transaction gets a transport error at once (RFC 3261 §18.4) and the call goes to the backup trunk."""
    engine = tls_engine.engine
    cert, key = ensure_self_signed(tmp_path / "carrier-tls", "localhost")
    pem = tmp_path / "carrier.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    carrier = Baresip(tmp_path, user="carrier", password="unused", registrar="127.0.0.1",
                      tone_wav=make_tone_wav(tmp_path / "carrier.wav", seconds=5, freq=660))  # fmt: skip
    with (carrier.dir / "config").open("a") as config:
        config.write(f"sip_certificate {pem}\n")
    (carrier.dir / "accounts").write_text("<sip:+442071234567@127.0.0.1>;regint=0;answermode=auto\n")
    good_port = free_port()
    tls_engine.set_trunk(host="localhost", port=carrier.sip_port + 1, transport="tls", allowed_ips=[])
    with tls_engine.sessions() as session, session.begin():
        session.add(
            Trunk(name="backup-carrier", host="127.0.0.1", port=good_port, allowed_ips=[], failover_order=1)
        )
    await engine.refresh_directory(force=True)
    await asyncio.to_thread(carrier.start)
    try:
        with sipp_background(tmp_path, "uas_answer.xml", local_port=good_port, media_port=free_even_port(),
                             calls=1, extra=["-rtp_echo"]):  # fmt: skip
            started = asyncio.get_running_loop().time()
            result = await asyncio.to_thread(
                run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{tls_engine.port}", local_port=free_port(),
                media_port=free_even_port(), service="+442071234567", duration_ms=500, timeout=30,
                extra=["-au", "alice", "-ap", tls_engine.sip_password("alice")],
            )  # fmt: skip
            elapsed = asyncio.get_running_loop().time() - started
    finally:
        await asyncio.to_thread(carrier.stop)
    assert result.successful == 1, result.output
    assert elapsed < 10  # Timer B (64*T1 = 32 s here) would be far slower
    assert engine.transport.stats.tls_connections == 0  # the handshake never completed
    await engine.store.flush()
    legs = [e.data for e in tls_engine.events("leg.ended")]
    assert any(d["sip_status"] is None for d in legs)  # the TLS trunk's attempt, failed without an answer
    with tls_engine.sessions() as session:
        call = session.scalars(select(Call).where(Call.direction == "internal")).one()
        backup = session.scalars(select(Trunk).where(Trunk.name == "backup-carrier")).one()
        assert call.trunk_id == backup.id


async def test_trunk_registers_over_tls_with_another_duplex(
    tls_engine: RunningEngine, tmp_path: Path
) -> None:
    """Our trunk (transport=tls, host localhost) registers as agent alice at a second Duplex acting as the
    carrier's registrar: digest over TLS, Contact with ;transport=tls and our TLS port, unregistered on stop."""
    engine = tls_engine.engine
    async with _engine_with_tls(tmp_path / "carrier") as carrier:
        cert = carrier.settings.data_dir / "tls" / "sip-tls.crt"
        engine.transport.tls_client = client_context(cafile=cert)  # SAN: localhost, 127.0.0.1
        tls_engine.set_trunk(host="localhost", port=carrier.engine.transport.tls_port, transport="tls",
                             register=True, username="alice", password=carrier.sip_password("alice"),
                             from_domain="carrier.test")  # fmt: skip
        await engine.trunk_service.reload()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while engine.status["trunks"].get("demo-carrier") != "registered":
            assert loop.time() < deadline, engine.status["trunks"]
            await asyncio.sleep(0.05)
        (binding,) = carrier.engine.registrations.lookup("alice", carrier.engine.now())
        assert binding.source.transport == "tls"
        assert binding.contact == f"sip:alice@127.0.0.1:{engine.transport.tls_port};transport=tls"
        assert carrier.engine.transport.stats.by_transport == {"tls": 2}  # challenged REGISTER, then 200
        await engine.trunk_service.stop()
        assert carrier.engine.registrations.lookup("alice", carrier.engine.now()) == []  # Expires: 0 over TLS
        assert carrier.engine.transport.stats.by_transport["tls"] >= 3
        assert engine.transport.stats.tls_connections == 1  # every REGISTER on the one connection
