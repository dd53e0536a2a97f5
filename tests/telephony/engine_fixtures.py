"""A switch with a seeded SQLite database, over sockets (`engine_env`, `UdpClient`) or in memory (`memory_env`,
`MemoryClient`), and raw SIP request text."""

from __future__ import annotations

import asyncio
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
    async with switch_running(make_settings(tmp_path), **engine_options) as env:
        yield env


@pytest.fixture
async def memory_env(tmp_path: Path, engine_options: dict[str, Any]) -> AsyncIterator[EngineEnv]:
    """The same switch with no SIP socket: its transport is a `MemoryNetwork`; `MemoryClient` plays the phone."""
    async with switch_running(make_settings(tmp_path), memory=True, **engine_options) as env:
        yield env


class MemoryClient:
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

    async def response(self, *, skip_provisional: bool = True, timeout: float = 2.0) -> SipResponse:
        while True:
            message = parse_message(await self.recv(timeout))
            assert isinstance(message, SipResponse)
            if not (skip_provisional and message.status < 200):
                return message

    def close(self) -> None:
        self.peer.close()


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
