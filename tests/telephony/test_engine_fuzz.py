"""Hostile input as a permanent test: a seeded SIP mutation fuzzer (`duplex.sip.mutation`) against a running
engine over UDP and TCP. Afterwards nothing logged an error or a traceback, the engine still answers OPTIONS,
no server transaction, call or media session is left, and memory stayed bounded. ``bench/fuzz.py`` runs the
same mutations for a million messages."""

from __future__ import annotations

import asyncio
import logging
import random
import resource
import socket

import pytest
from engine_fixtures import EngineEnv, UdpClient, engine_env, engine_options, options_answered_within

from duplex.sip.mutation import SipMutator
from duplex.sip.timers import TimerConfig

__all__ = ["engine_env", "engine_options"]

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.parametrize(
        "engine_options", [{"timers": TimerConfig(t1=0.05)}]
    ),  # calls left unACKed end fast
]

UDP_MESSAGES = 1500
TCP_MESSAGES = 300


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


async def _fuzz_udp(env: EngineEnv, seed: int, host: str, count: int) -> None:
    client = UdpClient(env.port)
    if host != "127.0.0.1":
        client.sock.close()
        client.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # from another loopback address
        client.sock.bind((host, 0))
        client.sock.setblocking(False)
        client.port = client.sock.getsockname()[1]
    mutator = SipMutator(
        random.Random(seed), target_host="127.0.0.1", target_port=env.port, source_port=client.port
    )
    for i, (_, data) in enumerate(mutator.messages(count)):
        try:
            client.sock.sendto(data, client.server)
        except OSError:
            pass  # too large for a datagram: the kernel refused it, as it would for a real sender
        if i % 25 == 24:
            await asyncio.sleep(0.005)  # the engine runs on this loop: let it read
    client.close()


async def _fuzz_tcp(env: EngineEnv, seed: int, count: int) -> None:
    mutator = SipMutator(random.Random(seed), target_host="127.0.0.1", target_port=env.port, transport="TCP")
    messages = list(mutator.messages(count))
    for start in range(0, count, 20):
        reader, writer = await asyncio.open_connection("127.0.0.1", env.port)
        try:
            for _, data in messages[start : start + 20]:
                writer.write(data)
                await writer.drain()
            await asyncio.sleep(0.05)
        except ConnectionError:
            pass  # the engine closes a stream whose framing broke
        finally:
            writer.close()


async def _drained(env: EngineEnv, seconds: float) -> bool:
    engine = env.engine
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if not engine.txl.transactions and not engine.calls and not engine.media.sessions:  # type: ignore[attr-defined]
            return True
        await asyncio.sleep(0.2)
    return False


async def test_mutated_sip_over_udp_and_tcp_leaves_the_engine_healthy(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="duplex")
    rss_before = _rss_mb()
    await _fuzz_udp(engine_env, 1, "127.0.0.1", UDP_MESSAGES)  # trusted: every message is parsed
    await _fuzz_udp(engine_env, 2, "127.0.0.2", UDP_MESSAGES // 3)  # untrusted: screened first
    await _fuzz_tcp(engine_env, 3, TCP_MESSAGES)
    # the engine may still be working through what the fuzzers queued: alive means it answers within 10 s
    assert await options_answered_within(engine_env.port, 10.0, branch="z9hG4bKalive1") is not None
    drained = await _drained(engine_env, 30.0)
    engine = engine_env.engine
    assert drained, (len(engine.txl.transactions), len(engine.calls))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [(r.name, r.getMessage()) for r in errors[:5]]
    stats = engine.transport.stats
    assert stats.received > UDP_MESSAGES // 3  # most of it was parsed and dispatched, not lost
    assert _rss_mb() - rss_before < 80, "memory grew under fuzzing"
    assert await options_answered_within(engine_env.port, 2.0, branch="z9hG4bKalive2") is not None
