"""A running Duplex SIP engine on free ports with a seeded temporary SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from duplex.config import Settings
from duplex.db.models import Trunk
from duplex.sip.timers import TimerConfig
from interop.peers import (
    Baresip,
    SippResult,
    free_even_port,
    free_port,
    make_tone_wav,
    run_sipp,
    sipp_background,
)
from interop.rtpengine_daemon import Rtpengine, rtpengine_running
from switch_env import RunningSwitch, switch_running
from switch_env import make_settings as make_test_settings

RunningEngine = RunningSwitch


def make_settings(tmp_path: Path, port: int) -> Settings:
    return make_test_settings(tmp_path, port, secret_key="interop-secret")


@pytest.fixture
def engine_options() -> dict[str, Any]:
    """Override (e.g. with ``pytest.mark.parametrize("engine_options", [...])``) to pass Switch options;
    the key ``trunk`` updates the demo trunk row first."""
    return {}


def engine_running(
    settings: Settings, **options: Any
) -> contextlib.AbstractAsyncContextManager[RunningSwitch]:
    """A migrated, demo-seeded switch on ``settings`` (`switch_env.switch_running`) with a short T1."""
    options.setdefault("timers", TimerConfig(t1=0.5))
    return switch_running(settings, **options)


@pytest.fixture
def rtpengine(tmp_path: Path) -> Iterator[Rtpengine]:
    """An rtpengine daemon of the test's own (`rtpengine_daemon`)."""
    with rtpengine_running(tmp_path) as daemon:
        yield daemon


@pytest.fixture
async def running(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[RunningEngine]:
    async with engine_running(make_settings(tmp_path, free_port()), **engine_options) as running:
        yield running


async def registered_phone(
    running: RunningEngine, tmp_path: Path, answermode: str = "auto", user: str = "alice"
) -> Baresip:
    """A baresip phone for `user`, started and registered with the engine (digest auth)."""
    tone = make_tone_wav(tmp_path / f"tone-{user}.wav", seconds=20, freq=440)
    phone = Baresip(tmp_path, user=user, password=running.sip_password(user),
                    registrar=f"127.0.0.1:{running.port}", tone_wav=tone, answermode=answermode)  # fmt: skip
    await asyncio.to_thread(phone.start)
    # baresip registers at start-up, possibly before ctrl_tcp is connected (REGISTER_OK would be missed),
    # so wait for the binding in the engine's registrar instead.
    for _ in range(100):
        if running.engine.registrations.lookup(user, running.engine.now()):
            return phone
        await asyncio.sleep(0.1)
    log = phone.log()[-1500:]
    await asyncio.to_thread(phone.stop)
    raise AssertionError(f"baresip did not register: {log}")


@pytest.fixture
async def alice(running: RunningEngine, tmp_path: Path) -> AsyncIterator[Baresip]:
    """alice's phone (extension 2001), registered and auto-answering."""
    phone = await registered_phone(running, tmp_path)
    try:
        yield phone
    finally:
        await asyncio.to_thread(phone.stop)


async def agent_calls_out_with_failover(
    running: RunningEngine, tmp_path: Path, *, media_port: int, duration_ms: int
) -> SippResult:
    """alice (sipp, digest auth) calls +442071234567: the demo trunk's carrier answers 503, a backup trunk's
    carrier answers and echoes the audio."""
    broken_port, good_port = free_port(), free_port()
    running.set_trunk(port=broken_port, failover_order=0, allowed_ips=[])
    with running.sessions() as session, session.begin():
        session.add(Trunk(name="backup-carrier", host="127.0.0.1", port=good_port, caller_id="+40215550199",
                          allowed_ips=[], failover_order=1))  # fmt: skip
    await running.engine.refresh_directory(force=True)
    with (
        sipp_background(tmp_path, "uas_503.xml", local_port=broken_port, calls=1),
        sipp_background(
            tmp_path,
            "uas_answer.xml",
            local_port=good_port,
            media_port=free_even_port(),
            calls=1,
            extra=["-rtp_echo"],
        ),  # fmt: skip
    ):
        return await asyncio.to_thread(
            run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=media_port, service="+442071234567", duration_ms=duration_ms, timeout=30,
            extra=["-au", "alice", "-ap", running.sip_password("alice")],
        )  # fmt: skip
