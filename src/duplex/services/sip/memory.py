"""SIP without sockets: a `MemoryNetwork` carries messages between a switch's `MemoryTransport` and
`MemoryPeer`s in the same process, so call flows run in memory (tests, the simulator).

The transport behaves like `transport.SipTransport` towards its core (bytes are parsed and framed the same
way, timers come from the core's ``get_timer()``), but "sending" hands the bytes to whatever is attached at
the destination address, in a later event-loop step as a socket would. Nothing is attached at an address:
the bytes are counted as lost, like UDP to a closed port. Addresses that are marked reliable (``stream=True``
peers) behave like TCP: no retransmissions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from duplex.services.sip.core_timer import CoreTimer
from duplex.services.sip.transport import SipCore, TransportStats
from duplex.sip.errors import SipError
from duplex.sip.events import Address
from duplex.sip.message import SipMessage, parse_message

__all__ = ["MemoryNetwork", "MemoryPeer", "MemoryTransport"]

log = logging.getLogger("duplex.services.sip.memory")

Receiver = Callable[[bytes, Address], None]


class MemoryNetwork:
    """Addresses on 127.0.0.1 with ports handed out in order; each one delivers to one receiver."""

    def __init__(self, host: str = "127.0.0.1", first_port: int = 40000) -> None:
        self.host = host
        self._next_port = first_port
        self._receivers: dict[Address, Receiver] = {}
        self.streams: set[Address] = set()  # addresses reached as over TCP (no retransmissions)
        self.lost = 0

    def attach(self, receiver: Receiver, *, stream: bool = False) -> Address:
        addr = (self.host, self._next_port)
        self._next_port += 1
        self._receivers[addr] = receiver
        if stream:
            self.streams.add(addr)
        return addr

    def detach(self, addr: Address) -> None:
        self._receivers.pop(addr, None)
        self.streams.discard(addr)

    def deliver(self, data: bytes, source: Address, destination: Address) -> None:
        """Hand ``data`` to the receiver at ``destination`` in a later loop step (or count it as lost)."""
        receiver = self._receivers.get(destination)
        if receiver is None:
            self.lost += 1
            return
        asyncio.get_running_loop().call_soon(receiver, data, source)


class MemoryTransport:
    """What a `Switch` sends and receives through, on a `MemoryNetwork` instead of sockets."""

    tls = None  # no TLS listener in memory

    def __init__(self, core: SipCore, network: MemoryNetwork) -> None:
        self.core = core
        self.network = network
        self.port = 0
        self.tls_port = 0
        self.address: Address | None = None
        self.stats = TransportStats()
        self._timer = CoreTimer(self._on_timer)

    async def start(self) -> int:
        self.address = self.network.attach(self._on_bytes)
        self.port = self.tls_port = self.address[1]
        return self.port

    async def stop(self) -> None:
        if self.address is not None:
            self.network.detach(self.address)
        self._timer.cancel()

    def _on_bytes(self, data: bytes, source: Address) -> None:
        self.stats.received += 1
        try:
            message: SipMessage = parse_message(data)
        except SipError as exc:
            self.stats.malformed_dropped += 1
            log.debug("malformed message from %s dropped: %s", source, exc)
            return
        self.core.receive(message, source, asyncio.get_running_loop().time())
        self.flush()

    def is_reliable(self, addr: Address) -> bool:
        return addr in self.network.streams

    def use_stream(self, addr: Address, transport: str, server_name: str | None = None) -> None:
        if transport.lower() in ("tcp", "tls"):
            self.network.streams.add(addr)

    def name_for(self, addr: Address) -> str:
        return "TCP" if self.is_reliable(addr) else "UDP"

    def send(self, data: bytes, addr: Address) -> None:
        self.stats.sent += 1
        assert self.address is not None, "send before start"
        self.network.deliver(data, self.address, addr)

    def flush(self) -> None:
        """Send what the core queued and re-arm the timer to its earliest deadline."""
        for data, addr in self.core.datagrams_to_send():
            self.send(data, addr)
        self._timer.arm(asyncio.get_running_loop(), self.core.get_timer())

    def _on_timer(self) -> None:
        self.core.handle_timer(asyncio.get_running_loop().time())
        self.flush()


class MemoryPeer:
    """A SIP endpoint on the network that sends raw message text and waits for what comes back."""

    def __init__(self, network: MemoryNetwork, *, stream: bool = False) -> None:
        self.network = network
        self.address = network.attach(self._on_bytes, stream=stream)
        self.port = self.address[1]
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()

    def _on_bytes(self, data: bytes, source: Address) -> None:
        self._inbox.put_nowait(data)

    def send(self, data: bytes, destination: Address) -> None:
        self.network.deliver(data, self.address, destination)

    async def recv(self, timeout: float = 2.0) -> bytes:
        return await asyncio.wait_for(self._inbox.get(), timeout)

    def close(self) -> None:
        self.network.detach(self.address)
