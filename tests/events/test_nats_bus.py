"""NatsBus against the real nats-server on 127.0.0.1:4222: two nodes see each other's events once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator

import nats
import pytest

from duplex.events.nats_bus import NatsBus
from duplex.events.types import EventEnvelope

pytestmark = pytest.mark.nats

NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
async def names() -> AsyncIterator[tuple[str, str]]:
    """A stream name and subject prefix unique to this test; the stream is deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"DUPLEX_TEST_{tag}", f"duplextest.{tag}.events"
    yield stream, prefix
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def env(node: str, seq: int, type: str = "call.created", **kw: object) -> EventEnvelope:
    return EventEnvelope(id=seq, node_id=node, seq=seq, type=type, ts_ms=1_700_000_000_000 + seq, **kw)  # type: ignore[arg-type]


async def drain(queue: asyncio.Queue[EventEnvelope], n: int, timeout: float = 5.0) -> list[EventEnvelope]:
    return [await asyncio.wait_for(queue.get(), timeout) for _ in range(n)]


async def test_two_nodes_see_each_others_events_once(names: tuple[str, str]) -> None:
    stream, prefix = names
    a = NatsBus(NATS_URL, node_id="a", stream=stream, subject_prefix=prefix)
    b = NatsBus(NATS_URL, node_id="b", stream=stream, subject_prefix=prefix)
    await a.start()
    await b.start()
    try:
        qa, qb = a.subscribe(), b.subscribe()
        sent_a = [env("a", i, call_id=f"c{i}", data={"n": i}) for i in range(1, 4)]
        sent_b = [env("b", i, type="agent.state_changed", agent_id=7) for i in range(1, 3)]
        for e in sent_a:
            a.publish_nowait(e)
        for e in sent_b:
            b.publish_nowait(e)
        got_a = await drain(qa, 5)
        got_b = await drain(qb, 5)
        # Local events first (in order), remote ones in their order; nothing twice.
        assert [e for e in got_a if e.node_id == "a"] == sent_a
        assert [e for e in got_a if e.node_id == "b"] == sent_b
        assert [e for e in got_b if e.node_id == "a"] == sent_a
        assert [e for e in got_b if e.node_id == "b"] == sent_b
        await asyncio.sleep(0.3)
        assert qa.empty() and qb.empty()
    finally:
        await a.close()
        await b.close()


async def test_stream_holds_each_event_once_with_msg_id(names: tuple[str, str]) -> None:
    stream, prefix = names
    a = NatsBus(NATS_URL, node_id="a", stream=stream, subject_prefix=prefix)
    await a.start()
    e = env("a", 1, call_id="c1")
    a.publish_nowait(e)
    a.publish_nowait(e)  # a retried publication: deduplicated by Nats-Msg-Id
    await a.close()
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        assert info.state.messages == 1
        msg = await js.get_last_msg(stream, f"{prefix}.call.created")
        assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == "a:1"
        assert msg.subject == f"{prefix}.call.created"
    finally:
        await nc.close()


async def test_publish_from_other_threads_and_before_start(names: tuple[str, str]) -> None:
    stream, prefix = names
    a = NatsBus(NATS_URL, node_id="a", stream=stream, subject_prefix=prefix)
    b = NatsBus(NATS_URL, node_id="b", stream=stream, subject_prefix=prefix)
    await b.start()
    qb = b.subscribe()
    a.publish_nowait(env("a", 1))  # before start: buffered, sent once connected
    await a.start()
    try:
        threads = [threading.Thread(target=a.publish_nowait, args=(env("a", i),)) for i in range(2, 12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = await drain(qb, 11)
        assert sorted(e.seq for e in got) == list(range(1, 12))
    finally:
        await a.close()
        await b.close()


async def test_close_sends_what_is_queued(names: tuple[str, str]) -> None:
    stream, prefix = names
    a = NatsBus(NATS_URL, node_id="a", stream=stream, subject_prefix=prefix)
    await a.start()
    for i in range(1, 51):
        a.publish_nowait(env("a", i))
    await a.close()
    assert a.published == 50
    nc = await nats.connect(NATS_URL)
    try:
        assert (await nc.jetstream().stream_info(stream)).state.messages == 50
    finally:
        await nc.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start_server(port: int, store: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        "nats-server",
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-sd",
        store,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            await w.wait_closed()
            return proc
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("nats-server did not start")


@pytest.mark.slow
async def test_events_published_while_the_server_is_down_arrive_after_reconnect(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    url = f"nats://127.0.0.1:{port}"
    server = await _start_server(port, str(tmp_path / "js"))
    a = NatsBus(url, node_id="a")
    b = NatsBus(url, node_id="b")
    await a.start()
    await b.start()
    qb = b.subscribe()
    try:
        a.publish_nowait(env("a", 1))
        assert (await drain(qb, 1))[0].seq == 1
        server.terminate()
        await server.wait()
        a.publish_nowait(env("a", 2))  # queued in a's outbox while the server is away
        await asyncio.sleep(0.5)
        server = await _start_server(port, str(tmp_path / "js"))
        got = await drain(qb, 1, timeout=30)
        assert got[0].seq == 2 and got[0].node_id == "a"
    finally:
        await a.close()
        await b.close()
        server.terminate()
        await server.wait()
