"""The asyncio shell for SIP over WebSocket (RFC 7118): a ``websockets`` listener feeding the sans-IO core.

Rules of this module (like `duplex.services.sip.transport`):

1. It only moves bytes. Each WebSocket message is parsed into one SIP message and handed to the core's
   ``receive``; the core's output for an address that is a WebSocket connection (a *flow*) is taken out of
   the core's datagram list by `WsTransport.take` and written to that connection.
2. Nothing raises out of a connection handler: a malformed SIP message is answered with 400 when possible
   and otherwise dropped and counted; a malformed WebSocket frame makes ``websockets`` close that one
   connection (1002/1007/1009) and nothing else.

RFC 7118 §5: "Each SIP message MUST be carried within a single WebSocket message, and a WebSocket message
MUST NOT contain more than one SIP message", so no Content-Length framing is needed (a present one is
honoured, as for UDP). §4.1: the handshake must negotiate the "sip" subprotocol; ``websockets`` fails a
handshake that does not offer it with 400.

RFC 7118 §5.3 ("Via" host ``<random>.invalid``): a client cannot be reached at its Via or Contact address,
so responses and requests go back over the connection the request came on. Flows are keyed by the peer's
transport address, the same `Address` the UDP/TCP transport uses, so the core and the registrar's
`Binding.source` need no new kind of address.

Why a standalone listener and not a route on the HTTP server: SIP traffic then never waits behind uvicorn's
HTTP worker, middleware or request handling, the engine can run without the web app, and the port (5066 by
convention for SIP over WebSocket) can be exposed or firewalled apart from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidState
from websockets.typing import Subprotocol

from duplex.services.sip.transport import add_received, bad_request_for
from duplex.sip.errors import RemoteProtocolError
from duplex.sip.events import Address
from duplex.sip.message import MAX_DATAGRAM_SIZE, SipMessage, SipRequest, parse_message

__all__ = ["FlowCore", "WsStats", "WsTransport", "server_ssl_context"]

log = logging.getLogger("duplex.services.sip.websocket")

SUBPROTOCOL = Subprotocol("sip")
_RECENTLY_CLOSED = 1024  # closed flows remembered, so late messages for them are dropped, not sent over UDP


class FlowCore(Protocol):
    """What the WebSocket transport drives (the engine)."""

    def receive(self, message: SipMessage, addr: Address, now: float) -> None: ...

    def kick(self) -> None: ...

    def flow_closed(self, addr: Address, transport: str, now: float) -> None: ...


@dataclass(slots=True)
class WsStats:
    """Counters for /metrics and tests."""

    connections: int = 0
    open: int = 0
    received: int = 0
    sent: int = 0
    malformed_answered: int = 0
    malformed_dropped: int = 0
    dropped_closed: int = 0
    by_close_code: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Flow:
    connection: ServerConnection
    outbox: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)


def server_ssl_context(certfile: str, keyfile: str = "") -> ssl.SSLContext:
    """A TLS server context for WSS from a PEM certificate chain and key (the key may be in ``certfile``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile or None)
    return context


class WsTransport:
    """A SIP WebSocket server (RFC 7118 §3: the "SIP WebSocket Server").

    Args:
        core: the sans-IO endpoint (messages in through ``receive``; ``kick`` sends what it queued).
        host, port: where to listen (port 0 picks a free one).
        ssl_context: serve WSS (Via transport ``WSS``) instead of WS.
        max_size: the largest WebSocket message accepted (a larger one closes the connection with 1009).
    """

    def __init__(self, core: FlowCore, *, host: str = "0.0.0.0", port: int = 5066,
                 ssl_context: ssl.SSLContext | None = None, max_size: int = MAX_DATAGRAM_SIZE) -> None:  # fmt: skip
        self.core = core
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.max_size = max_size
        self.transport = "WSS" if ssl_context is not None else "WS"
        self.stats = WsStats()
        self._flows: dict[Address, _Flow] = {}
        self._closed: OrderedDict[Address, None] = OrderedDict()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> int:
        """Listen; returns the port."""
        self._server = await serve(
            self._serve, self.host, self.port, subprotocols=[SUBPROTOCOL], ssl=self.ssl_context,
            max_size=self.max_size, compression=None, ping_interval=20, ping_timeout=20,
        )  # fmt: skip
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
        for task in list(self._tasks):
            task.cancel()

    # -- queries ---------------------------------------------------------------------------------------
    def owns(self, addr: Address) -> bool:
        """Whether ``addr`` is an open WebSocket flow."""
        return addr in self._flows

    def flows(self) -> list[Address]:
        return list(self._flows)

    # -- output ----------------------------------------------------------------------------------------
    def take(self, datagrams: list[tuple[bytes, Address]]) -> list[tuple[bytes, Address]]:
        """Send the messages addressed to WebSocket flows over their connections and return the others.

        Messages for a flow that has closed are dropped (counted): the peer cannot be reached any other way
        (RFC 7118 §5.3), and sending them over UDP to its old TCP port would reach nobody or someone else."""
        if not self._flows and not self._closed:
            return datagrams
        rest: list[tuple[bytes, Address]] = []
        for data, addr in datagrams:
            if not self.send(data, addr) and addr not in self._closed:
                rest.append((data, addr))
        return rest

    def send(self, data: bytes, addr: Address) -> bool:
        """Queue ``data`` on the flow to ``addr``; False when ``addr`` is not a WebSocket flow."""
        flow = self._flows.get(addr)
        if flow is None:
            if addr in self._closed:
                self.stats.dropped_closed += 1
            return False
        flow.outbox.put_nowait(data)
        return True

    async def _sender(self, flow: _Flow) -> None:
        # one writer per connection keeps messages in the order the core queued them
        while True:
            data = await flow.outbox.get()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:  # RFC 7118 §4.2: binary frames for what is not valid UTF-8
                text = None
            try:
                await flow.connection.send(data if text is None else text)
            except (ConnectionClosed, InvalidState):  # closed, or closing (a server stopping, a TLS close)
                return  # the receive loop sees the close and forgets the flow
            self.stats.sent += 1

    # -- input -----------------------------------------------------------------------------------------
    async def _serve(self, connection: ServerConnection) -> None:
        peer = connection.remote_address
        addr: Address = (str(peer[0]), int(peer[1]))
        flow = _Flow(connection)
        self._flows[addr] = flow
        self._closed.pop(addr, None)
        self.stats.connections += 1
        self.stats.open += 1
        sender = asyncio.get_running_loop().create_task(self._sender(flow))
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        try:
            async for message in connection:
                self.on_message(message.encode("utf-8") if isinstance(message, str) else message, addr)
        except (ConnectionClosed, InvalidState):
            pass  # a protocol error or an abrupt close; websockets already closed the connection
        finally:
            sender.cancel()
            self._forget(addr, connection)

    def _forget(self, addr: Address, connection: ServerConnection) -> None:
        if self._flows.get(addr) is None or self._flows[addr].connection is not connection:
            return
        del self._flows[addr]
        self._closed[addr] = None
        while len(self._closed) > _RECENTLY_CLOSED:
            self._closed.popitem(last=False)
        self.stats.open -= 1
        code = connection.close_code if connection.close_code is not None else 1006
        self.stats.by_close_code[code] = self.stats.by_close_code.get(code, 0) + 1
        try:
            self.core.flow_closed(addr, self.transport, asyncio.get_running_loop().time())
        except Exception:
            log.exception("SIP core failed on the close of %s", addr)
        self.core.kick()

    def on_message(self, data: bytes, addr: Address) -> None:
        """One WebSocket message from ``addr``: exactly one SIP message (RFC 7118 §5)."""
        if data.strip(b"\r\n") == b"":
            return  # a keep-alive some clients send; no SIP message
        try:
            message = parse_message(data, max_size=self.max_size)
        except RemoteProtocolError as exc:
            response = bad_request_for(data, exc)
            if response is None:
                self.stats.malformed_dropped += 1
                log.debug("dropped malformed WebSocket message from %s: %s", addr, exc)
            else:
                self.stats.malformed_answered += 1
                self.send(bytes(response), addr)
            return
        self.stats.received += 1
        try:
            if isinstance(message, SipRequest):
                add_received(message, addr)  # the Via host is <random>.invalid (RFC 7118 §5.3)
            self.core.receive(message, addr, asyncio.get_running_loop().time())
        except Exception:  # never out of the handler: a core bug must not close the connection
            log.exception("SIP core failed on a message from %s", addr)
        self.core.kick()
