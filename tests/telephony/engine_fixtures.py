"""An in-process engine on a free port with a seeded SQLite database, and a raw UDP/TCP SIP client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.db.models import Event
from duplex.demo import seed
from duplex.events.record import EventRecord
from duplex.sip.message import SipResponse, parse_message
from duplex.telephony.engine import Engine
from duplex.telephony.store import TelephonyStore


@dataclass
class EngineEnv:
    engine: Engine
    port: int
    creds: dict[str, Any]
    sessions: Any

    def events(self, type_: str) -> list[Event]:
        with self.sessions() as session:
            return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


@pytest.fixture
def engine_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def engine_env(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[EngineEnv]:
    async with running_engine(tmp_path, engine_options) as env:
        yield env


@contextlib.asynccontextmanager
async def running_engine(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[EngineEnv]:
    """The engine of `engine_env` on the running loop (for tests that choose their own loop)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'duplex.db'}",
                        sip_host="127.0.0.1", sip_port=0, public_ip="127.0.0.1", secret_key="engine-test",
                        rtp_port_min=61000, rtp_port_max=65000)  # fmt: skip
    upgrade(settings.effective_database_url)
    creds = json.loads(seed(settings).read_text())
    db = make_engine(settings.effective_database_url)
    sessions = make_session_factory(db)
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="t"))
    engine = Engine(settings, store, **engine_options)
    port = await engine.start()
    try:
        yield EngineEnv(engine, port, creds, sessions)
    finally:
        await engine.stop()
        store.close()
        db.dispose()


class UdpClient:
    """A plain UDP socket speaking SIP text to the engine."""

    def __init__(self, server_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.server = ("127.0.0.1", server_port)

    def send(self, text: str) -> None:
        self.sock.sendto(text.replace("\n", "\r\n").encode(), self.server)

    async def recv(self, timeout: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 65535), timeout)

    async def response(self, *, skip_provisional: bool = True, timeout: float = 2.0) -> SipResponse:
        while True:
            message = parse_message(await self.recv(timeout))
            assert isinstance(message, SipResponse)
            if not (skip_provisional and message.status < 200):
                return message

    def close(self) -> None:
        self.sock.close()


def request(method: str, uri: str, port: int, *, call_id: str = "c1", cseq: int = 1, branch: str = "z9hG4bKa1",
            extra: str = "", body: str = "", to_tag: str = "") -> str:  # fmt: skip
    to = f"<{uri}>" + (f";tag={to_tag}" if to_tag else "")
    head = (f"{method} {uri} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\n"
            f"From: <sip:alice@127.0.0.1>;tag=f1\nTo: {to}\nCall-ID: {call_id}\nCSeq: {cseq} {method}\n"
            f"Max-Forwards: 70\nContact: <sip:alice@127.0.0.1:{port}>\n{extra}")  # fmt: skip
    body = body.replace("\n", "\r\n")
    return f"{head}Content-Length: {len(body.encode())}\n\n" + body.replace("\r\n", "\n")


async def options_answered_within(port: int, seconds: float, *, branch: str) -> float | None:
    """An OPTIONS transaction from 127.0.0.1 as a UAC runs it (RFC 3261 §17.1.2.2: retransmitted after T1 =
    0.5 s, then doubling up to T2 = 4 s): seconds until its 200, or None if none came within ``seconds``."""
    client = UdpClient(port)
    loop = asyncio.get_running_loop()
    start = loop.time()
    interval, resend_at = 0.5, start
    try:
        while (left := start + seconds - loop.time()) > 0:
            if loop.time() >= resend_at:
                client.send(
                    request("OPTIONS", f"sip:127.0.0.1:{port}", client.port, call_id=branch, branch=branch)
                )
                resend_at, interval = resend_at + interval, min(interval * 2, 4.0)
            try:
                data = await client.recv(min(left, max(0.01, resend_at - loop.time())))
            except TimeoutError:
                continue
            if branch.encode() in data and data.startswith(b"SIP/2.0 200"):
                return loop.time() - start
    finally:
        client.close()
    return None
