"""A caller that stops sending RTP without hanging up (a dead phone, a lost network) is hung up after the
RTP timeout, with a BYE it can see and a CDR reason; a leg that keeps sending is left alone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_a_caller_that_goes_silent_gets_a_bye_after_the_rtp_timeout(
    running: RunningEngine, tmp_path: Path
) -> None:
    running.engine.rtp_watchdog.timeout = 2.0
    started = time.monotonic()
    # sipp's pcap is 7 s of audio; then the caller sends nothing and waits for Duplex's BYE
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_wait_bye.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="1001", timeout=30,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.successful == 1, result.output
    assert 7 + 2 <= elapsed < 7 + 2 + 8, elapsed  # after the audio, the timeout, and at most one check later
    await running.engine.store.flush()
    (ended,) = running.events("call.ended")
    assert ended.data["reason"] == "rtp_timeout" and ended.data["hangup_by"] == "duplex"
