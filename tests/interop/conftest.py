"""A running Duplex SIP engine on free ports with a seeded temporary SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.db.models import Event, Trunk
from duplex.demo import seed
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection
from duplex.sip.timers import TimerConfig
from duplex.telephony.engine import Engine
from duplex.telephony.store import TelephonyStore
from interop.peers import (
    Baresip,
    SippResult,
    free_even_port,
    free_port,
    make_tone_wav,
    run_sipp,
    sipp_background,
)


@dataclass
class RunningEngine:
    engine: Engine
    settings: Settings
    port: int
    creds: dict[str, Any]
    sessions: Any

    def sip_password(self, user: str) -> str:
        return str(self.creds["passwords"][f"sip:{user}"])

    def events(self, type_: str) -> list[Event]:
        with self.sessions() as session:
            return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))

    def set_trunk(self, **values: Any) -> None:
        with self.sessions() as session, session.begin():
            session.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(**values))


def make_settings(tmp_path: Path, port: int) -> Settings:
    data = tmp_path / "data"
    return Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'duplex.db'}", sip_host="127.0.0.1",
                    sip_port=port, public_ip="127.0.0.1", secret_key="interop-secret", rtp_port_min=61000,
                    rtp_port_max=65000)  # fmt: skip
    # RTP above the kernel's ephemeral range (32768-60999), so free_port() picks for sipp/baresip never
    # collide with ports the engine binds for media.


@pytest.fixture
def engine_options() -> dict[str, Any]:
    """Override (e.g. with ``pytest.mark.parametrize("engine_options", [...])``) to pass Engine options;
    the key ``trunk`` updates the demo trunk row first."""
    return {}


@contextlib.asynccontextmanager
async def engine_running(settings: Settings, **options: Any) -> AsyncIterator[RunningEngine]:
    """A migrated, demo-seeded engine on ``settings``, started, and stopped after the block; the option
    ``trunk`` updates the demo trunk row first, the others go to `Engine`."""
    upgrade(settings.effective_database_url)
    creds = json.loads(seed(settings).read_text())
    db = make_engine(settings.effective_database_url)
    sessions = make_session_factory(db)
    trunk = options.pop("trunk", None)
    if trunk is not None:
        with sessions() as session, session.begin():
            session.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(**trunk))
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="interop", projectors=[LiveProjection()]))
    engine = Engine(settings, store, timers=TimerConfig(t1=0.5), **options)
    port = await engine.start()
    try:
        yield RunningEngine(engine, settings, port, creds, sessions)
    finally:
        await engine.stop()
        store.close()
        db.dispose()
    assert store.errors == 0, "the engine emitted events that could not be recorded (see the log)"


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
