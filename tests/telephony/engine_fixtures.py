"""A switch with a seeded SQLite database, over sockets (`engine_env`, `UdpClient`) or in memory (`memory_env`,
`MemoryClient`), and raw SIP request text."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from duplex.services.sip.memory import MemoryPeer
from duplex.sip.message import SipResponse, parse_message
from switch_env import RunningSwitch, make_settings, switch_running

EngineEnv = RunningSwitch


@pytest.fixture
def engine_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def engine_env(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[EngineEnv]:
    """A switch on a free UDP/TCP port (`switch_env.switch_running`)."""
    async with running_engine(tmp_path, engine_options) as env:
        yield env


@contextlib.asynccontextmanager
async def running_engine(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[EngineEnv]:
    """The switch of `engine_env` on the running loop (for tests that choose their own loop)."""
    async with switch_running(make_settings(tmp_path), **engine_options) as env:
        yield env


@pytest.fixture
async def memory_env(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[EngineEnv]:
    """The same switch with no SIP socket: its transport is a `MemoryNetwork`; `MemoryClient` plays the phone."""
    async with switch_running(make_settings(tmp_path), memory=True, **engine_options) as env:
        yield env


class SipTextClient:
    """What the phone-side test clients share: the next (final) response to what they sent."""

    async def recv(self, timeout: float = 2.0) -> bytes:
        raise NotImplementedError

    async def response(self, *, skip_provisional: bool = True, timeout: float = 2.0) -> SipResponse:
        while True:
            message = parse_message(await self.recv(timeout))
            assert isinstance(message, SipResponse)
            if not (skip_provisional and message.status < 200):
                return message


class MemoryClient(SipTextClient):
    """`UdpClient`'s interface on the switch's `MemoryNetwork`."""

    def __init__(self, env: EngineEnv) -> None:
        assert env.network is not None, "memory_env runs the switch in memory"
        self.peer = MemoryPeer(env.network)
        self.port = self.peer.port
        self.server = ("127.0.0.1", env.port)

    def send(self, text: str) -> None:
        self.peer.send(text.replace("\n", "\r\n").encode(), self.server)

    async def recv(self, timeout: float = 2.0) -> bytes:
        return await self.peer.recv(timeout)

    def close(self) -> None:
        self.peer.close()


class UdpClient(SipTextClient):
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
