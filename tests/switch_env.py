"""One way to run a switch for tests: migrated and demo-seeded SQLite, started, stopped after the block.

Over sockets on a free port (the interop tier, and tests that need real UDP/TCP), or with ``memory=True`` over
a `MemoryNetwork` (no SIP socket; `MemoryClient` plays the phone).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.db.models import Event, Trunk
from duplex.demo import seed
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection
from duplex.services.calls.switch import Switch
from duplex.services.node import build_switch
from duplex.services.sip.memory import MemoryNetwork, MemoryTransport
from duplex.stores.call_store import TelephonyStore


@dataclass
class RunningSwitch:
    engine: Switch
    settings: Settings
    port: int
    creds: dict[str, Any]
    sessions: Any
    network: MemoryNetwork | None = None  # set when the switch runs in memory

    def sip_password(self, user: str) -> str:
        return str(self.creds["passwords"][f"sip:{user}"])

    def events(self, type_: str) -> list[Event]:
        with self.sessions() as session:
            return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))

    def set_trunk(self, **values: Any) -> None:
        with self.sessions() as session, session.begin():
            session.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(**values))


def make_settings(tmp_path: Path, port: int = 0, **overrides: Any) -> Settings:
    # RTP above the kernel's ephemeral range (32768-60999), so free ports picked for sipp/baresip never
    # collide with ports the switch binds for media.
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data", "database_url": f"sqlite:///{tmp_path / 'duplex.db'}",
        "sip_host": "127.0.0.1", "sip_port": port, "public_ip": "127.0.0.1", "secret_key": "test-secret",
        "rtp_port_min": 61000, "rtp_port_max": 65000,
    }  # fmt: skip
    return Settings(**(values | overrides))


@contextlib.asynccontextmanager
async def switch_running(
    settings: Settings, *, memory: bool = False, **options: Any
) -> AsyncIterator[RunningSwitch]:
    """The option ``trunk`` updates the demo trunk row first; the others go to `Switch`."""
    upgrade(settings.effective_database_url)
    creds = json.loads(seed(settings).read_text())
    db = make_engine(settings.effective_database_url)
    sessions = make_session_factory(db)
    trunk = options.pop("trunk", None)
    if trunk is not None:
        with sessions() as session, session.begin():
            session.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(**trunk))
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="test", projectors=[LiveProjection()]))
    network = MemoryNetwork() if memory else None
    if network is not None:
        options["transport"] = lambda core: MemoryTransport(core, network)
    engine = build_switch(settings, store, **options)
    port = await engine.start()
    try:
        yield RunningSwitch(engine, settings, port, creds, sessions, network)
    finally:
        await engine.stop()
        store.close()
        db.dispose()
    assert store.errors == 0, "the switch emitted events that could not be recorded (see the log)"
