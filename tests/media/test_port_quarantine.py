"""A closed leg's RTP port is not reused at once: its far end may still be sending, and a new call bound to
that port would relay the stray packets into the wrong conversation."""

from __future__ import annotations

import asyncio
import socket

from duplex.services.media.local_backend import LocalMediaBackend


def _free_range(pairs: int) -> tuple[int, int]:
    """An even port range of ``pairs`` RTP/RTCP pairs that is free right now (best effort)."""
    for base in range(41000, 60000, 2 * pairs + 10):
        socks = []
        try:
            for port in range(base, base + 2 * pairs):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base, base + 2 * pairs - 1
    raise RuntimeError("no free port range")


async def test_a_released_port_waits_while_another_pair_is_free() -> None:
    backend = LocalMediaBackend(port_range=_free_range(3), quarantine=60.0)
    try:
        for _ in range(8):  # without the quarantine, the just-closed pair is chosen half of the time
            kept = await backend.open_session()
            closed = await backend.open_session()
            closed_port = closed.local_address[1]
            await closed.close()
            fresh = await backend.open_session()
            assert fresh.local_address[1] not in (closed_port, kept.local_address[1])
            await kept.close()
            await fresh.close()
    finally:
        await backend.close()


async def test_a_released_port_is_reused_when_nothing_else_is_free() -> None:
    backend = LocalMediaBackend(port_range=_free_range(1), quarantine=60.0)
    try:
        first = await backend.open_session()
        port = first.local_address[1]
        await first.close()
        await asyncio.sleep(0.01)  # asyncio closes a transport's socket on a later loop iteration
        again = await backend.open_session()
        assert again.local_address[1] == port
        await again.close()
    finally:
        await backend.close()


async def test_the_quarantine_expires() -> None:
    backend = LocalMediaBackend(port_range=_free_range(2), quarantine=0.0)
    try:
        ports: set[int] = set()
        for _ in range(12):
            ep = await backend.open_session()
            port = ep.local_address[1]
            ports.add(port)
            await ep.close()
            await asyncio.sleep(0.01)
        # expired entries are dropped at the next open: only the last close is remembered
        assert list(backend._released) == [port]
    finally:
        await backend.close()
