"""RTP/RTCP port pairs for in-process media: an even RTP port and the next odd one for RTCP (no rtcp-mux),
taken from a configured range, walked once from a random start."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Container, Iterable, Iterator

__all__ = ["bind_port_pair"]

Addr = tuple[str, int]
Sink = Callable[[bytes, Addr], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.sink(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable while the peer is not up yet
        pass


def _candidates(
    port_range: tuple[int, int] | None, rng: random.Random, avoid: Container[int]
) -> Iterable[int]:
    if port_range is None:
        return [0] * 20  # the OS picks
    # every even port of the range once, from a random start (shuffling the whole range for each call cost
    # ~15% of a core at 40 calls/s); ports in ``avoid`` last
    lo, hi = port_range
    ports = range(lo + lo % 2, hi, 2)
    start = rng.randrange(len(ports)) if ports else 0

    def walk() -> Iterator[int]:
        return itertools.chain(ports[start:], ports[:start])

    return itertools.chain((p for p in walk() if p not in avoid), (p for p in walk() if p in avoid))


async def bind_port_pair(
    host: str,
    port_range: tuple[int, int] | None,
    on_rtp: Sink,
    on_rtcp: Sink,
    *,
    rng: random.Random,
    avoid: Container[int] = (),
) -> tuple[asyncio.DatagramTransport, asyncio.DatagramTransport]:
    """Bind a free even/odd pair from ``port_range`` (inclusive) or from the OS when None; ports in ``avoid``
    are taken only when no other pair is free.

    Raises:
        OSError: no pair is free.
    """
    loop = asyncio.get_running_loop()
    for port in _candidates(port_range, rng, avoid):
        try:
            rtp, _ = await loop.create_datagram_endpoint(lambda: _Udp(on_rtp), local_addr=(host, port))
        except OSError:
            continue
        actual = rtp.get_extra_info("sockname")[1]
        try:
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(on_rtcp), local_addr=(host, actual + 1)
            )
        except OSError:
            rtp.close()
            continue
        return rtp, rtcp
    raise OSError(f"no free RTP port pair in {port_range}")
