"""`WsTransport` (RFC 7118) with a recording core and the `websockets` client: framing (one SIP message per
WebSocket message, text or binary), Via received=, routing of the core's output to flows, closed flows, the
"sip" subprotocol, oversized messages, WSS; and the registrar's flow removal."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.typing import Subprotocol

from duplex.services.sip.websocket import WsTransport, server_ssl_context
from duplex.sip.events import Address
from duplex.sip.message import SipMessage, SipRequest
from duplex.telephony.registrar import (
    ChangeKind,
    ContactSpec,
    RegisterRequest,
    Registrar,
    Source,
)

SIP = [Subprotocol("sip")]
OPTIONS = (
    "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKhjhs8ass877\r\n"
    "Max-Forwards: 70\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\n\r\n"
)


@dataclass
class RecordingCore:
    received: list[tuple[SipMessage, Address]] = field(default_factory=list)
    closed: list[tuple[Address, str]] = field(default_factory=list)
    kicks: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def receive(self, message: SipMessage, addr: Address, now: float) -> None:
        self.received.append((message, addr))
        self.arrived.set()

    def kick(self) -> None:
        self.kicks += 1

    def flow_closed(self, addr: Address, transport: str, now: float) -> None:
        self.closed.append((addr, transport))
        self.arrived.set()

    async def wait(self, predicate: object) -> None:
        async with asyncio.timeout(5):
            while not predicate():  # type: ignore[operator]
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def core() -> RecordingCore:
    return RecordingCore()


@pytest.fixture
async def server(core: RecordingCore) -> AsyncIterator[WsTransport]:
    transport = WsTransport(core, host="127.0.0.1", port=0, max_size=4096)
    await transport.start()
    try:
        yield transport
    finally:
        await transport.stop()


def local(ws: ClientConnection) -> Address:
    sockname = ws.local_address
    return (str(sockname[0]), int(sockname[1]))


async def test_a_text_message_is_one_request_with_received_added(
    server: WsTransport, core: RecordingCore
) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        assert ws.subprotocol == "sip"
        await ws.send(OPTIONS)
        await core.wait(lambda: core.received)
        [(message, addr)] = core.received
        assert addr == local(ws) and server.owns(addr) and server.flows() == [addr]
        assert isinstance(message, SipRequest) and message.method == "OPTIONS"
        # RFC 7118 §5.3 / RFC 3261 §18.2.1: the .invalid sent-by differs from the source: received= added
        assert message.headers.required("Via").endswith(";received=127.0.0.1")
        assert server.stats.received == 1 and core.kicks == 1


async def test_a_binary_message_with_content_length_is_accepted(
    server: WsTransport, core: RecordingCore
) -> None:
    message = OPTIONS.replace("\r\n\r\n", "\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        await ws.send(message.encode())
        await core.wait(lambda: core.received)
    assert core.received[0][0].body == b"hello"


async def test_take_sends_flow_messages_and_returns_the_rest(
    server: WsTransport, core: RecordingCore
) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        await ws.send(OPTIONS)
        await core.wait(lambda: core.received)
        flow = local(ws)
        other: Address = ("127.0.0.1", 5999)
        rest = server.take([(b"SIP/2.0 200 OK\r\n\r\n", flow), (b"udp", other), (b"\xff\xfe", flow)])
        assert rest == [(b"udp", other)]
        assert await asyncio.wait_for(ws.recv(), 5) == "SIP/2.0 200 OK\r\n\r\n"  # UTF-8: a text frame
        assert await asyncio.wait_for(ws.recv(), 5) == b"\xff\xfe"  # not UTF-8: a binary frame
        assert server.stats.sent == 2


async def test_a_closed_flow_is_reported_and_its_messages_dropped(
    server: WsTransport, core: RecordingCore
) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        await ws.send(OPTIONS)
        await core.wait(lambda: core.received)
        flow = local(ws)
    await core.wait(lambda: core.closed)
    assert core.closed == [(flow, "WS")]
    assert not server.owns(flow) and server.stats.open == 0 and server.stats.by_close_code == {1000: 1}
    # a late response for the gone flow is neither sent over it nor handed back for UDP
    assert server.take([(b"SIP/2.0 200 OK\r\n\r\n", flow)]) == []
    assert server.stats.dropped_closed == 1


async def test_keepalive_and_malformed_messages(server: WsTransport, core: RecordingCore) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        await ws.send("\r\n\r\n")  # ignored
        await ws.send("SIP/2.0 200 OK\r\nbroken header line\r\n\r\n")  # no response possible: dropped
        await ws.send(OPTIONS.replace("CSeq: 63104 OPTIONS", "CSeq: x OPTIONS"))  # answered 400
        answer = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(answer, str) and answer.startswith("SIP/2.0 400 Bad Request")
    assert "Call-ID: a84b4c76e66710" in answer
    assert core.received == []
    assert (server.stats.malformed_dropped, server.stats.malformed_answered) == (1, 1)


async def test_a_handshake_without_the_sip_subprotocol_is_refused(server: WsTransport) -> None:
    with pytest.raises(InvalidStatus, match="HTTP 400"):
        async with connect(f"ws://127.0.0.1:{server.port}"):
            pass
    with pytest.raises(InvalidStatus, match="HTTP 400"):
        async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=[Subprotocol("chat")]):
            pass
    assert server.stats.connections == 0


async def test_an_oversized_message_closes_only_that_connection(
    server: WsTransport, core: RecordingCore
) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        await ws.send(OPTIONS.replace("\r\n\r\n", "\r\nX-Pad: " + "a" * 5000 + "\r\n\r\n"))
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1009  # message too big
    await core.wait(lambda: core.closed)
    async with connect(f"ws://127.0.0.1:{server.port}", subprotocols=SIP) as ws:
        await ws.send(OPTIONS)
        await core.wait(lambda: core.received)


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_wss(core: RecordingCore, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    transport = WsTransport(
        core, host="127.0.0.1", port=0, ssl_context=server_ssl_context(str(cert), str(key))
    )
    await transport.start()
    client = ssl.create_default_context(cafile=str(cert))
    try:
        async with connect(f"wss://127.0.0.1:{transport.port}", subprotocols=SIP, ssl=client) as ws:
            await ws.send(OPTIONS.replace("SIP/2.0/WS ", "SIP/2.0/WSS "))
            await core.wait(lambda: core.received)
            assert transport.transport == "WSS"
        await core.wait(lambda: core.closed)
        assert core.closed[0][1] == "WSS"
    finally:
        await transport.stop()


# -- registrar: bindings that live as long as their connection ----------------------------------------------


def _register(registrar: Registrar, contact: str, source: Source, call_id: str) -> None:
    result = registrar.register(
        RegisterRequest(aor="alice", call_id=call_id, cseq=1, source=source,
                        contacts=(ContactSpec(uri=contact),)), now=0.0)  # fmt: skip
    assert result.ok


def test_remove_flow_removes_only_the_bindings_of_that_connection() -> None:
    registrar = Registrar()
    ws1 = Source(transport="ws", host="127.0.0.1", port=40001)
    ws2 = Source(transport="ws", host="127.0.0.1", port=40002)
    udp = Source(transport="udp", host="127.0.0.1", port=40001)
    _register(registrar, "sip:a@x1.invalid;transport=ws", ws1, "c1")
    _register(registrar, "sip:b@x2.invalid;transport=ws", ws2, "c2")
    _register(registrar, "sip:alice@127.0.0.1:40001", udp, "c3")
    registrar.pop_changes()
    assert registrar.remove_flow(ws1) == 1
    assert sorted(b.contact for b in registrar.lookup("alice", 1.0)) == [
        "sip:alice@127.0.0.1:40001",
        "sip:b@x2.invalid;transport=ws",
    ]
    [change] = registrar.pop_changes()
    assert (change.kind, change.reason, change.binding.source) == (ChangeKind.REMOVED, "flow_closed", ws1)
    assert registrar.remove_flow(ws1) == 0 and registrar.pop_changes() == []


def test_restore_drops_websocket_bindings() -> None:
    old = Registrar()
    ws = Source(transport="wss", host="127.0.0.1", port=40001)
    tcp = Source(transport="tcp", host="127.0.0.1", port=40002)
    _register(old, "sip:a@x.invalid;transport=ws", ws, "c1")
    _register(old, "sip:alice@127.0.0.1:40002;transport=tcp", tcp, "c2")
    restarted = Registrar()
    restarted.restore(list(old.bindings()), now=1.0)
    assert [b.source for b in restarted.lookup("alice", 1.0)] == [tcp]
    [change] = restarted.pop_changes()
    assert (change.kind, change.reason, change.binding.source) == (ChangeKind.REMOVED, "flow_closed", ws)
