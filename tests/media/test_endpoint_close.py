"""Closing a leg whose far end gave an address we cannot send to (IPv6 on our IPv4 socket, garbage) still closes
its sockets and releases its port. Run under uvloop, the server's loop, whose sendto raises for such addresses."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from duplex.services.media.local_backend import LocalMediaBackend


@pytest.mark.parametrize("address", ["::1", "not-an-address", "999.1.2.3"])
def test_close_releases_sockets_when_the_rtcp_bye_cannot_be_sent(address: str) -> None:
    async def scenario() -> tuple[bool, int]:
        backend = LocalMediaBackend("127.0.0.1", (42000, 42100))
        endpoint = await backend.open_session()
        endpoint.set_remote((address, 4000))
        await endpoint.close()
        return endpoint._rtp is None and endpoint._rtcp is None, len(backend.sessions)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        closed, open_sessions = runner.run(scenario())
    assert closed and open_sessions == 0
