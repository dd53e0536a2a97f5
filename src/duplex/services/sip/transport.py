"""The asyncio shell around the sans-IO SIP core: UDP, TCP and TLS sockets, one timer, nothing else.

Rules of this module (aioquic ``asyncio/protocol.py`` style):

1. It only moves bytes and time. Parsed messages go into `SipCore.receive`; what the core wants sent comes out
   of `SipCore.datagrams_to_send`; the core's single deadline (`get_timer`) is one ``loop.call_at`` timer.
2. Nothing raises out of a socket callback: malformed input is answered with 400 when a response can be
   built (RFC 3261 §18.3 asks for it) and otherwise dropped and counted.

RFC 3581 §4: "the server MUST insert a 'received' parameter containing the source IP address that the request
came from" when an rport is present, and "MUST set the value of the 'rport' parameter to the source port of the
request"; responses then go back to that source address (the core sends to the address it was given).

TLS (RFC 3261 §26.2.1, port 5061) is the TCP stream inside an ``ssl.SSLContext``: the same framing, the same
connection table, so responses and in-dialog requests to a peer go back over the TLS connection it opened
(§18.2.2: "the response MUST be sent using the existing connection"). `name_for` tells the engine which Via
transport (UDP, TCP, TLS) a peer is reached with. A failed handshake (a plain TCP client on the TLS port)
only closes that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

from duplex.services.sip.core_timer import CoreTimer
from duplex.sip.errors import RemoteProtocolError, SipError
from duplex.sip.events import Address
from duplex.sip.framing import StreamFramer
from duplex.sip.headers import Headers, Via
from duplex.sip.message import SipMessage, SipRequest, SipResponse, parse_head, parse_message, reason_phrase

__all__ = ["SipCore", "SipTransport", "SwitchTransport", "TransportStats", "add_received", "bad_request_for"]

log = logging.getLogger("duplex.services.sip.transport")


class SipCore(Protocol):
    """What the transport drives: a sans-IO SIP endpoint (the engine's transaction layer front)."""

    def receive(self, message: SipMessage, addr: Address, now: float) -> None: ...

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


@dataclass(slots=True)
class TransportStats:
    """Counters for /metrics and tests."""

    received: int = 0
    sent: int = 0
    malformed_answered: int = 0
    malformed_dropped: int = 0
    screened: int = 0  # datagrams the screen dropped before parsing
    rcvbuf: int = 0  # the UDP socket's receive buffer as the kernel set it
    send_errors: int = 0
    tcp_connections: int = 0
    tls_connections: int = 0
    by_transport: dict[str, int] = field(default_factory=dict)


class SwitchTransport(Protocol):
    """What a SIP switch sends through: `SipTransport` (sockets) or `memory.MemoryTransport` (no sockets)."""

    port: int
    tls_port: int
    stats: TransportStats

    @property
    def tls(self) -> ssl.SSLContext | None: ...
    async def start(self) -> int: ...
    async def stop(self) -> None: ...
    def flush(self) -> None: ...
    def send(self, data: bytes, addr: Address) -> None: ...
    def is_reliable(self, addr: Address) -> bool: ...
    def name_for(self, addr: Address) -> str: ...
    def use_stream(self, addr: Address, transport: str, server_name: str | None = None) -> None: ...


def add_received(request: SipRequest, addr: Address) -> None:
    """RFC 3581 §4 and RFC 3261 §18.2.1: stamp the top Via with received= and a filled-in rport."""
    top = request.headers.pop_first("Via")
    if top is None:
        return
    via = Via.parse(top)
    params: dict[str, str | None] = {}
    if via.host != addr[0] or "rport" in via.params:
        params["received"] = addr[0]
    if "rport" in via.params:
        params["rport"] = str(addr[1])
    request.headers.prepend("Via", str(via.with_params(**params)) if params else top)


def bad_request_for(data: bytes, error: SipError) -> SipResponse | None:
    """A response to a malformed request, or None when no response can be addressed (no Via, From, To,
    Call-ID, CSeq, or the message is a response)."""
    try:
        head = data.lstrip(b"\r\n").split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        start, fields = parse_head(head)
        if start[:4].upper() == "SIP/":
            return None
        src = Headers(fields)
        out = Headers(("Via", v) for v in src.raw("Via"))
        for name in ("From", "To", "Call-ID", "CSeq"):
            out.add(name, src.required(name))
        if not out.raw("Via"):
            return None
        if ";tag=" not in out.required("To").lower():
            out.set("To", out.required("To") + ";tag=bad" + str(abs(hash(data)) % 10**8))
        status = error.status_code if 400 <= error.status_code < 600 else 400
        reason = f"{reason_phrase(status)} ({error.reason[:80]})".replace("\r", " ").replace("\n", " ")
        return SipResponse(status, reason, out)
    except (SipError, ValueError):
        return None


def _grow_receive_buffer(sock: socket.socket | None, size: int) -> int:
    """Ask for a ``size`` receive buffer (SO_RCVBUFFORCE passes net.core.rmem_max when we may); the size set."""
    if sock is None or size <= 0:
        return 0
    # SO_RCVBUFFORCE (Linux, 33; Python does not name it) may exceed net.core.rmem_max with CAP_NET_ADMIN;
    # without it SO_RCVBUF is capped at rmem_max, which the deployment guide asks to raise
    force = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform == "linux" else None)
    for option in (force, socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
            break
        except OSError:
            continue
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.owner.on_datagram(data, (str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        self.owner.stats.send_errors += 1


class SipTransport:
    """UDP + TCP listeners on one port, TLS on another, outbound connections reused per address, one timer.

    Args:
        core: the sans-IO endpoint.
        host, port: where to listen (port 0 picks one free for both UDP and TCP).
        tls: the server context; None means no TLS listener.
        tls_port: where TLS listens (0 picks a free one); `tls_port` holds the bound port after `start`.
        tls_client: the context for outbound TLS connections (to `tls_targets`).
        rcvbuf: the UDP receive buffer to ask for (SO_RCVBUF): a burst must wait in the kernel, not be lost.
    """

    def __init__(self, core: SipCore, *, host: str = "0.0.0.0", port: int = 5060, tls: ssl.SSLContext | None = None,
                 tls_port: int = 5061, tls_client: ssl.SSLContext | None = None,
                 rcvbuf: int = 16 * 1024 * 1024) -> None:  # fmt: skip
        self.core = core
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_port = tls_port
        self.tls_client = tls_client
        self.stats = TransportStats()
        self.tcp_targets: set[Address] = set()  # addresses to reach over TCP (trunks with transport=tcp)
        self.tls_targets: set[Address] = set()  # addresses to reach over TLS (trunks with transport=tls)
        self.tls_names: dict[Address, str] = {}  # TLS target -> the host name its certificate must match
        self._tls_conns: set[Address] = set()  # open connections that run TLS
        self._tls_server: asyncio.Server | None = None
        self._udp: _Udp | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[Address, asyncio.StreamWriter] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer = CoreTimer(self._on_timer)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Optional cheap check of a raw datagram and its source IP before it is parsed (False: drop it).
        self.screen: Callable[[bytes, str, float], bool] | None = None
        # Optional (max message size, max header lines) for a connection from a source IP; None: the defaults.
        self.stream_limits: Callable[[str], tuple[int, int] | None] | None = None
        self.rcvbuf = rcvbuf

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> int:
        """Bind UDP and TCP on the same port; returns it."""
        for _ in range(20):
            udp, proto = await self.loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, self.port)
            )
            proto.transport = udp
            port = int(udp.get_extra_info("sockname")[1])
            try:
                self._server = await asyncio.start_server(self._on_tcp, self.host, port)
            except OSError:
                proto.transport.close()
                if self.port:
                    raise
                continue
            self._udp, self.port = proto, port
            self.stats.rcvbuf = _grow_receive_buffer(udp.get_extra_info("socket"), self.rcvbuf)
            await self._start_tls()
            return port
        raise OSError("no port free for both UDP and TCP")

    async def _start_tls(self) -> None:
        if self.tls is None:
            return
        self._tls_server = await asyncio.start_server(self._on_tls, self.host, self.tls_port, ssl=self.tls,
                                                      ssl_handshake_timeout=10)  # fmt: skip
        self.tls_port = int(self._tls_server.sockets[0].getsockname()[1])
        log.info("SIP over TLS listening on %s:%d", self.host, self.tls_port)

    async def stop(self) -> None:
        self._timer.cancel()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        for writer in list(self._conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for server in (self._server, self._tls_server):
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 1)

    # -- input -----------------------------------------------------------------------------------------
    def on_datagram(self, data: bytes, addr: Address) -> None:
        if len(data) <= 4 and data.strip(b"\r\n") == b"":
            return  # RFC 5626 keep-alive (CRLF or CRLFCRLF; no copy of large datagrams)
        if self.screen is not None and not self.screen(data, addr[0], self.now()):
            self.stats.screened += 1
            return
        try:
            message = parse_message(data)
        except RemoteProtocolError as exc:
            self._malformed(data, exc, addr)
            return
        self._deliver(message, addr, "udp")

    def _malformed(self, data: bytes, exc: SipError, addr: Address) -> None:
        response = bad_request_for(data, exc)
        if response is None:
            self.stats.malformed_dropped += 1
            log.debug("dropped malformed message from %s: %s", addr, exc)
            return
        self.stats.malformed_answered += 1
        self.send(bytes(response), addr)

    def _deliver(self, message: SipMessage, addr: Address, kind: str) -> None:
        self.stats.received += 1
        self.stats.by_transport[kind] = self.stats.by_transport.get(kind, 0) + 1
        try:
            if isinstance(message, SipRequest):
                add_received(message, addr)
            self.core.receive(message, addr, self.now())
        except Exception:  # never out of the loop: a core bug must not kill the socket
            log.exception("SIP core failed on a message from %s", addr)
        self.flush()

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        addr: Address = (str(peer[0]), int(peer[1]))
        await self._serve_connection(addr, reader, writer)

    async def _on_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        await self._serve_connection((str(peer[0]), int(peer[1])), reader, writer, kind="tls")

    async def _serve_connection(
        self, addr: Address, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: str = "tcp"
    ) -> None:
        self._conns[addr] = writer
        if kind == "tls":
            self._tls_conns.add(addr)
            self.stats.tls_connections += 1
        else:
            self.stats.tcp_connections += 1
        limits = self.stream_limits(addr[0]) if self.stream_limits is not None else None
        framer = (
            StreamFramer()
            if limits is None
            else StreamFramer(max_message_size=limits[0], max_headers=limits[1])
        )
        try:
            while data := await reader.read(65536):
                framer.receive_data(data)
                if not self._drain_framer(framer, addr, writer, kind):
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if self._conns.get(addr) is writer:
                del self._conns[addr]
                self._tls_conns.discard(addr)
            writer.close()

    def _drain_framer(
        self, framer: StreamFramer, addr: Address, writer: asyncio.StreamWriter, kind: str = "tcp"
    ) -> bool:
        last: RemoteProtocolError | None = None
        while True:
            try:
                message = framer.next_message()
            except RemoteProtocolError as exc:
                if exc is last:
                    return False  # framing errors are sticky: the stream is lost, close the connection
                last = exc
                self.stats.malformed_dropped += 1
                continue
            pong = framer.data_to_send()
            if pong:
                writer.write(pong)
            if message is None:
                return True
            self._deliver(message, addr, kind)

    # -- output ----------------------------------------------------------------------------------------
    def is_reliable(self, addr: Address) -> bool:
        """Whether messages to ``addr`` travel over a stream (an open TCP connection, or a TCP target):
        RFC 3261 §17 then needs no retransmissions and zero Timers D/I/J/K."""
        return addr in self._conns or addr in self.tcp_targets or addr in self.tls_targets

    def use_stream(self, addr: Address, transport: str, server_name: str | None = None) -> None:
        """Reach ``addr`` over ``transport`` (a trunk's "tcp" or "tls"; "udp" changes nothing) from now on.
        `server_name`: the host name a TLS peer's certificate must carry (default: the address)."""
        kind = transport.lower()
        if kind == "tcp":
            self.tcp_targets.add(addr)
        elif kind == "tls":
            self.tls_targets.add(addr)
            if server_name:
                self.tls_names[addr] = server_name

    def name_for(self, addr: Address) -> str:
        """The Via transport for messages to ``addr``: TLS, TCP or UDP (RFC 3261 §18.2.1)."""
        if addr in self._tls_conns or (addr not in self._conns and addr in self.tls_targets):
            return "TLS"
        return "TCP" if self.is_reliable(addr) else "UDP"

    def send(self, data: bytes, addr: Address) -> None:
        """Send on the TCP connection to ``addr`` if there is one (or one is wanted), else over UDP."""
        self.stats.sent += 1
        writer = self._conns.get(addr)
        if writer is not None and not writer.is_closing():
            writer.write(data)
            return
        if addr in self.tcp_targets or addr in self.tls_targets:
            self._connect_and_send(data, addr)
            return
        if self._udp is None or self._udp.transport is None:
            self.stats.send_errors += 1
            return
        try:
            self._udp.transport.sendto(data, addr)
        except OSError:
            self.stats.send_errors += 1

    def _connect_and_send(self, data: bytes, addr: Address) -> None:
        if addr in self._pending:
            self._pending[addr].append(data)
            return
        self._pending[addr] = [data]
        task = self.loop.create_task(self._connect(addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, addr: Address) -> None:
        tls = addr in self.tls_targets
        options: dict[str, object] = {}
        if tls:
            options = {"ssl": self.tls_client or ssl.create_default_context(),
                       "server_hostname": self.tls_names.get(addr, addr[0])}  # fmt: skip
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*addr, **options), 5)  # type: ignore[arg-type]
        except (OSError, TimeoutError) as exc:
            log.info("cannot connect to %s over %s: %s", addr, "TLS" if tls else "TCP", exc)
            self.stats.send_errors += len(self._pending.pop(addr, []))
            failed = getattr(self.core, "stream_failed", None)  # RFC 3261 §18.4: tell the transactions
            if failed is not None:
                failed(addr, self.now())
                self.flush()
            return
        for data in self._pending.pop(addr, []):
            writer.write(data)
        await self._serve_connection(addr, reader, writer, kind="tls" if tls else "tcp")

    def flush(self) -> None:
        """Send what the core has queued and re-arm the timer to its earliest deadline."""
        for data, addr in self.core.datagrams_to_send():
            self.send(data, addr)
        self._timer.arm(self.loop, self.core.get_timer())

    def _on_timer(self) -> None:
        try:
            self.core.handle_timer(self.now())
        except Exception:
            log.exception("SIP core timer failed")
        self.flush()
