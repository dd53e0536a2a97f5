"""What a source on a trunk's allow-list may reach (the toll-fraud matrix of `telephony.security`), on the demo
seed as `make run` starts it: the demo trunk allows 127.0.0.1, so a local sipp is a carrier. A carrier may
deliver a call to an agent's extension (bridged to the registered baresip phone), never relay it back out to
an external number (403, nothing reaches the trunk)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from interop.conftest import RunningEngine
from interop.peers import Baresip, free_even_port, free_port, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_demo_trunk_source_reaches_an_agent_extension(
    running: RunningEngine, alice: Baresip, tmp_path: Path
) -> None:
    directory = await running.engine.refresh_directory(force=True)
    demo = next(t for t in directory.trunks if t.name == "demo-carrier")
    assert "127.0.0.1" in demo.allowed_ips  # the seed as `make run` uses it: sipp on 127.0.0.1 is a carrier
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="2001", duration_ms=2000, timeout=30,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await asyncio.to_thread(alice.wait_event, "CALL_CLOSED", 10)
    await running.engine.store.flush()
    created = running.events("call.created")
    assert len(created) == 1 and created[0].data["trunk_id"] == demo.id  # a carrier call ...
    assert len(running.events("call.bridged")) == 1  # ... bridged to alice's phone


async def test_demo_trunk_source_may_not_call_out(running: RunningEngine, tmp_path: Path) -> None:
    carrier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    carrier.bind(("127.0.0.1", 0))
    carrier.setblocking(False)
    running.set_trunk(port=carrier.getsockname()[1])  # the allow-list keeps 127.0.0.1
    await running.engine.refresh_directory(force=True)
    try:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_refused.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=free_even_port(), service="+442071234567", timeout=20,
        )  # fmt: skip
        assert result.successful == 1, result.output  # the scenario expects 403
        await asyncio.sleep(0.5)
        with pytest.raises(BlockingIOError):
            carrier.recv(65535)  # no INVITE relayed to the trunk
    finally:
        carrier.close()
    await running.engine.store.flush()
    assert not running.events("call.created")
