"""JsSIP (the JavaScript SIP stack of browser agents) against Duplex over SIP WebSocket (RFC 7118): digest
REGISTER, requests from Duplex delivered over the registration's connection, the binding dropped when the
connection closes, and a server that survives malformed frames and messages.

The peer is JsSIP 3 running in Node with the `ws` package as its WebSocket (tests/interop/js, installed by
scripts/test-deps.sh)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from duplex.db.models import SipRegistration
from duplex.services.calls.call import Call
from duplex.services.calls.uac import originate
from duplex.sip.headers import Headers
from duplex.sip.message import SipRequest
from duplex.sip.uri import SipUri
from interop.conftest import RunningEngine, engine_running, make_settings
from interop.peers import SCENARIOS, free_even_port, free_port, read_sipp_stats, sipp_command

JS_DIR = Path(__file__).parent / "js"
pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


class JsSip:
    """A JsSIP user agent in a Node process; its stdout events are read as JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, ws_url: str, user: str, password: str, *, reject: int = 486,
                    ca_file: Path | None = None) -> JsSip:  # fmt: skip
        assert shutil.which("node") and (JS_DIR / "node_modules" / "jssip").is_dir(), (
            "run scripts/test-deps.sh"
        )
        config = {"ws": ws_url, "uri": f"sip:{user}@127.0.0.1", "password": password, "reject": reject}
        proc = await asyncio.create_subprocess_exec(
            "node", str(JS_DIR / "jssip_peer.js"), json.dumps(config), cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **({"NODE_EXTRA_CA_CERTS": str(ca_file)} if ca_file else {})},
        )  # fmt: skip
        return cls(proc)

    async def command(self, cmd: str, **args: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait(self, *names: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next event named one of ``names`` (earlier events of other names are kept in `events`)."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"JsSIP exited; events so far: {self.events}")
                event = json.loads(line)
                self.events.append(event)
                if event["event"] in names:
                    return event

    async def kill(self) -> None:
        """End the process at once: the kernel closes its TCP connection, no un-REGISTER is sent."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


@contextlib.asynccontextmanager
async def engine_with(tmp_path: Path, **updates: Any) -> AsyncIterator[RunningEngine]:
    """The interop engine with SIP over WebSocket on a free port (and ``updates`` to its settings)."""
    settings = make_settings(tmp_path, free_port()).model_copy(
        update={"sip_ws_enabled": True, "sip_ws_port": 0, **updates}
    )
    async with engine_running(settings) as running:
        yield running


@pytest.fixture
async def ws_running(tmp_path: Path) -> AsyncIterator[RunningEngine]:
    async with engine_with(tmp_path) as running:
        yield running


def sipp_expecting(tmp: Path, running: RunningEngine, status: int, *, ringing: bool = False) -> str:
    """Call extension 2001 with sipp (UDP) expecting the INVITE to fail with ``status`` (uac_refused.xml
    with another final response, and an optional 180); returns sipp's output when the call failed."""
    expected = f'<recv response="{status}"/>'
    if ringing:
        expected = '<recv response="180" optional="true"/>\n  ' + expected
    scenario = tmp / f"uac_{status}.xml"
    scenario.write_text(
        (SCENARIOS / "uac_refused.xml").read_text().replace('<recv response="403"/>', expected)
    )
    stat_file = tmp / f"sipp-{status}.csv"
    cmd = sipp_command(str(scenario), f"127.0.0.1:{running.port}", local_port=free_port(),
                       media_port=free_even_port(), service="2001", stat_file=stat_file)  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=30)
    ok = read_sipp_stats(stat_file).get("SuccessfulCall(C)") == "1"
    return "" if ok else proc.stdout + proc.stderr


def ws_url(running: RunningEngine) -> str:
    assert running.engine.ws is not None
    return f"{running.engine.ws.transport.lower()}://127.0.0.1:{running.engine.ws.port}"


@pytest.fixture
async def alice_js(ws_running: RunningEngine) -> AsyncIterator[JsSip]:
    """alice (extension 2001) registered from JsSIP over WebSocket."""
    phone = await JsSip.start(ws_url(ws_running), "alice", ws_running.sip_password("alice"))
    try:
        await phone.wait("connected")
        await phone.command("register")
        registered = await phone.wait("registered", "registrationFailed")
        assert registered["event"] == "registered", phone.events
        yield phone
    finally:
        await phone.kill()


async def test_jssip_registers_over_websocket_with_digest(ws_running: RunningEngine, alice_js: JsSip) -> None:
    engine = ws_running.engine
    [binding] = engine.registrations.lookup("alice", engine.now())
    assert binding.source.transport == "ws"
    assert engine.ws is not None and engine.ws.owns((binding.source.host, binding.source.port))
    assert ";transport=ws" in binding.contact and ".invalid" in binding.contact  # RFC 7118 §5.3 Contact
    assert binding.user_agent.startswith(
        "JsSIP 3."
    )  # its own User-Agent: MD5-only challenge (engine default)
    await engine.store.flush()
    with ws_running.sessions() as session:
        rows = list(session.scalars(select(SipRegistration)))
    assert [(r.aor, r.source.split(":")[0]) for r in rows] == [("alice", "ws")]
    assert len(ws_running.events("sip.registered")) == 1
    # the digest exchange happened: a 401 went out before the 200
    assert engine.ws.stats.received >= 2 and engine.ws.stats.malformed_dropped == 0


async def test_jssip_registers_and_takes_a_call_over_wss(tmp_path: Path) -> None:
    """WSS (sip_wss_certfile): JsSIP trusts the test's self-signed certificate through NODE_EXTRA_CA_CERTS."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    async with engine_with(tmp_path, sip_wss_certfile=str(cert), sip_wss_keyfile=str(key)) as running:
        url = ws_url(running)
        assert url.startswith("wss://")
        phone = await JsSip.start(url, "alice", running.sip_password("alice"), ca_file=cert)
        try:
            await phone.wait("connected")
            await phone.command("register")
            assert (await phone.wait("registered", "registrationFailed"))["event"] == "registered", (
                phone.events
            )
            [binding] = running.engine.registrations.lookup("alice", running.engine.now())
            assert binding.source.transport == "wss"
            failure = await asyncio.to_thread(sipp_expecting, tmp_path, running, 486, ringing=True)
            assert failure == ""
            incoming = await phone.wait("incoming")
            assert incoming["via"].startswith("SIP/2.0/WSS ")  # RFC 7118 §5.2
            assert incoming["contact"].endswith(f":{running.engine.ws.port};transport=wss>")  # type: ignore[union-attr]
        finally:
            await phone.kill()


async def test_jssip_with_a_wrong_password_is_refused(ws_running: RunningEngine) -> None:
    phone = await JsSip.start(ws_url(ws_running), "alice", "not-the-password")
    try:
        await phone.wait("connected")
        await phone.command("register")
        failed = await phone.wait("registered", "registrationFailed")
    finally:
        await phone.kill()
    assert failed == {"event": "registrationFailed", "cause": "Authentication Error", "status": 401}
    assert ws_running.engine.ws is not None
    assert ws_running.engine.ws.stats.received == 2  # it did answer the challenge (with wrong credentials)
    assert not ws_running.engine.registrations.lookup("alice", ws_running.engine.now())


async def test_message_from_duplex_reaches_jssip_over_its_connection(
    ws_running: RunningEngine, alice_js: JsSip
) -> None:
    engine = ws_running.engine
    [binding] = engine.registrations.lookup("alice", engine.now())
    flow = (binding.source.host, binding.source.port)
    headers = Headers([
        ("Via", engine.via(engine.txl.new_branch(), engine.transport_name(flow))),
        ("Max-Forwards", "70"), ("From", f"<sip:duplex@127.0.0.1>;tag={engine.txl.new_token(8)}"),
        ("To", "<sip:alice@127.0.0.1>"), ("Call-ID", engine.txl.new_token(16)), ("CSeq", "1 MESSAGE"),
        ("Content-Type", "text/plain"),
    ])  # fmt: skip
    message = SipRequest("MESSAGE", SipUri.parse(binding.contact), headers, b"hello over the flow")
    response = await asyncio.wait_for(engine.request(message, flow), 10)
    assert response is not None and response.status == 200
    received = await alice_js.wait("newMessage")
    assert received["body"] == "hello over the flow"
    assert headers.required("Via").startswith("SIP/2.0/WS ")


async def test_call_to_ws_agent_reaches_jssip_and_its_486_reaches_the_caller(
    ws_running: RunningEngine, alice_js: JsSip, tmp_path: Path
) -> None:
    """sipp (UDP) calls 2001; Duplex sends the INVITE over alice's WebSocket flow; JsSIP rings (180) then
    rejects with 486, which Duplex passes back to the caller."""
    failure = await asyncio.to_thread(sipp_expecting, tmp_path, ws_running, 486, ringing=True)
    assert failure == ""
    incoming = await alice_js.wait("incoming")
    assert incoming["ruri"].startswith("sip:") and ".invalid" in incoming["ruri"]  # its Contact, via the flow
    assert incoming["via"].startswith("SIP/2.0/WS ") and ";transport=ws>" in incoming["contact"]
    failed = await alice_js.wait("failed")
    assert failed["cause"] == "Rejected"
    await ws_running.engine.store.flush()
    ended = ws_running.events("call.ended")
    assert ended and ended[-1].data.get("sip_status", 486) == 486, [e.data for e in ended]


async def test_outbound_leg_to_ws_agent_sees_486(ws_running: RunningEngine, alice_js: JsSip) -> None:
    engine = ws_running.engine
    [binding] = engine.registrations.lookup("alice", engine.now())
    call = Call(engine, direction="outbound", from_number="duplex", to_number="2001")
    leg = await originate(
        call, binding.contact, contact=(binding.source.host, binding.source.port), kind="agent"
    )
    assert await asyncio.wait_for(leg.answered, 10) is False
    assert leg.sip_status == 486
    assert (await alice_js.wait("incoming"))["from"].startswith("sip:duplex@")


async def test_connection_close_removes_the_binding(
    ws_running: RunningEngine, alice_js: JsSip, tmp_path: Path
) -> None:
    engine = ws_running.engine
    assert engine.registrations.lookup("alice", engine.now())
    await alice_js.kill()
    for _ in range(50):
        if not engine.registrations.lookup("alice", engine.now()):
            break
        await asyncio.sleep(0.1)
    assert not engine.registrations.lookup("alice", engine.now())
    assert engine.ws is not None and not engine.ws.flows()
    await engine.store.flush()
    [gone] = ws_running.events("sip.unregistered")
    assert gone.data["reason"] == "flow_closed"
    with ws_running.sessions() as session:
        assert not list(session.scalars(select(SipRegistration)))
    # a call to alice now fails at once (480, not a 32 s INVITE timeout on a dead connection)
    failure = await asyncio.to_thread(sipp_expecting, tmp_path, ws_running, 480)
    assert failure == ""


async def test_closing_while_ringing_fails_the_call_at_once(
    ws_running: RunningEngine, tmp_path: Path
) -> None:
    """The agent's connection drops while its phone rings: the INVITE on that flow fails with a transport
    error (RFC 3261 §17.1.4) and the caller gets 408 within a second or so, not after Timer B / 30 s (the
    outbound leg reports a failed transaction as 408, `uac.failure_reason`: "timeout")."""
    phone = await JsSip.start(ws_url(ws_running), "alice", ws_running.sip_password("alice"), reject=0)
    try:
        await phone.wait("connected")
        await phone.command("register")
        assert (await phone.wait("registered", "registrationFailed"))["event"] == "registered", phone.events
        loop = asyncio.get_running_loop()
        caller = asyncio.ensure_future(
            asyncio.to_thread(sipp_expecting, tmp_path, ws_running, 408, ringing=True)
        )
        await phone.wait("incoming")
        await asyncio.sleep(0.3)  # its 180 is out
        killed_at = loop.time()
        await phone.kill()
        assert await asyncio.wait_for(caller, 20) == ""
        assert loop.time() - killed_at < 5.0
    finally:
        await phone.kill()
    await ws_running.engine.store.flush()
    legs = [e.data for e in ws_running.events("leg.ended")]
    assert any(d.get("reason") == "timeout" for d in legs), legs


async def test_malformed_frames_and_messages_do_not_take_the_server_down(ws_running: RunningEngine) -> None:
    engine = ws_running.engine
    assert engine.ws is not None
    url = ws_url(ws_running)
    # 1. a SIP request with a broken CSeq: answered 400 on the same connection
    async with connect(url, subprotocols=["sip"]) as ws:  # type: ignore[list-item]
        await ws.send(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKbad1\r\n"
            "From: <sip:a@x.invalid>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: bad1\r\nCSeq: one OPTIONS\r\n\r\n"
        )
        answer = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(answer, str) and answer.startswith("SIP/2.0 400 ")
        # 2. bytes that are not SIP at all: dropped, the connection stays usable
        await ws.send(b"\x00\xff garbage \r\n\r\n")
        await ws.send(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKok1\r\nMax-Forwards: 70\r\n"
            "From: <sip:a@x.invalid>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: ok1\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        answer = await asyncio.wait_for(ws.recv(), 5)
        assert (
            isinstance(answer, str) and answer.startswith("SIP/2.0 200 ") and "received=127.0.0.1" in answer
        )
    assert engine.ws.stats.malformed_answered == 1 and engine.ws.stats.malformed_dropped == 1
    # 3. a handshake without the "sip" subprotocol is refused (RFC 7118 §4.1)
    with pytest.raises(Exception, match="400"):
        async with connect(url):
            pass
    # 4. a broken WebSocket frame (unmasked client frame, RFC 6455 §5.1) and a raw non-HTTP connection
    reply = await asyncio.to_thread(_send_broken_frame, engine.ws.port)
    assert reply[:4] == b"\x88" + bytes([len(reply) - 2]) + b"\x03\xea"  # Close 1002 (protocol error)
    reply = await asyncio.to_thread(_send_raw, engine.ws.port, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert reply == b""  # not HTTP: the connection is dropped without an answer
    # the server still registers a real JsSIP client
    phone = await JsSip.start(url, "alice", ws_running.sip_password("alice"))
    try:
        await phone.wait("connected")
        await phone.command("register")
        assert (await phone.wait("registered", "registrationFailed"))["event"] == "registered", phone.events
    finally:
        await phone.kill()


def _handshake(sock: socket.socket, port: int) -> None:
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: sip\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


def _send_broken_frame(port: int) -> bytes:
    """What the server answers to a text frame without the mask bit a client must set."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        _handshake(sock, port)
        sock.sendall(b"\x81\x05hello")
        return _read_all(sock)


def _send_raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return _read_all(sock)
