"""The dispatcher against a real HTTP receiver: signatures, retries with backoff, the delivery log,
max_attempts, type filters, and deliveries that survive a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Webhook, WebhookDelivery
from duplex.events.bus import InProcessBus
from duplex.events.record import EventRecord
from duplex.events.types import AgentStateChanged, CallCreated, CallEnded, QueueEntered
from duplex.webhooks import WebhookDispatcher, signature, verify_signature

BASE = 0.05
CREATED = CallCreated(
    direction="inbound", from_="+40700", to="1000", tracking_source=None, phone_number_id=None
)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def add_webhook(sessions: sessionmaker[Session], url: str, secret: str, **kw: object) -> int:
    with sessions() as s, s.begin():
        hook = Webhook(url=url, secret=secret, **kw)
        s.add(hook)
        s.flush()
        return hook.id


def deliveries(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def dispatcher(sessions: sessionmaker[Session], bus: InProcessBus | None, **kw: object) -> WebhookDispatcher:
    opts: dict[str, object] = {
        "base_delay": BASE,
        "scan_interval": 0.3,
        "lease_seconds": 5,
        "rng": random.Random(7),
    }
    opts.update(kw)
    return WebhookDispatcher(sessions, bus, **opts)  # type: ignore[arg-type]


async def test_failing_receiver_gets_retries_until_delivered(sessions, receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.fail_first = 3
    bus = InProcessBus()
    record = EventRecord(sessions, node_id="n1", bus=bus, projectors=())
    hook_id = add_webhook(sessions, receiver.url, receiver.secret)
    d = dispatcher(sessions, bus)
    await d.start()
    try:
        ended = CallEnded(
            reason="caller_hangup", answered=True, hangup_by="remote", leg_kind="caller", sip_status=None
        )
        ev = record.emit(ended, call_id="c1", queue_id=None)
        await until(lambda: deliveries(sessions) and deliveries(sessions)[0].state == "delivered")
    finally:
        await d.close()
    [row] = deliveries(sessions)
    assert (row.webhook_id, row.event_id, row.attempts, row.last_status) == (hook_id, ev.id, 4, 200)
    assert row.last_error == "" and row.delivered_at is not None and row.next_attempt_at is None
    assert len(receiver.requests) == 4
    assert all(r.signature_ok for r in receiver.requests)
    assert {r.headers["x-duplex-delivery"] for r in receiver.requests} == {str(row.id)}
    assert {r.headers["x-duplex-event"] for r in receiver.requests} == {"call.ended"}
    assert receiver.requests[-1].json == ev.to_dict()
    # a typed payload goes out as the JSON the engine's dict form always sent
    assert receiver.requests[-1].json["data"] == {
        "reason": "caller_hangup", "hangup_by": "remote", "leg_kind": "caller", "sip_status": None, "answered": True
    }  # fmt: skip
    # Exponential backoff: the gap before retry k is at least base * 2**(k-1) * 0.5.
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    for k, gap in enumerate(gaps, start=1):
        assert gap >= BASE * 2 ** (k - 1) * 0.5 * 0.9, gaps


async def test_wrong_secret_fails_verification_and_ends_failed(sessions, receiver) -> None:  # type: ignore[no-untyped-def]
    bus = InProcessBus()
    record = EventRecord(sessions, node_id="n1", bus=bus, projectors=())
    add_webhook(sessions, receiver.url, "not-the-receivers-secret-42", max_attempts=3)
    d = dispatcher(sessions, bus)
    await d.start()
    try:
        record.emit(
            "agent.state_changed",
            agent_id=None,
            data={"from": "offline", "to": "available", "reason": None, "by_user_id": None},
        )
        await until(lambda: deliveries(sessions) and deliveries(sessions)[0].state == "failed")
    finally:
        await d.close()
    [row] = deliveries(sessions)
    assert (row.attempts, row.last_status, row.delivered_at, row.next_attempt_at) == (3, 401, None, None)
    assert row.last_error.startswith("HTTP 401")
    assert len(receiver.requests) == 3 and not any(r.signature_ok for r in receiver.requests)


async def test_unreachable_receiver_logs_the_error(sessions) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = InProcessBus()
    record = EventRecord(sessions, node_id="n1", bus=bus, projectors=())
    add_webhook(sessions, f"http://127.0.0.1:{port}/x", "s" * 20, max_attempts=2)
    d = dispatcher(sessions, bus)
    await d.start()
    try:
        record.emit(CREATED, call_id="c1")
        await until(lambda: deliveries(sessions) and deliveries(sessions)[0].state == "failed")
    finally:
        await d.close()
    [row] = deliveries(sessions)
    assert row.attempts == 2 and row.last_status is None and "ConnectError" in row.last_error


async def test_only_matching_types_after_creation_are_delivered(sessions, receiver) -> None:  # type: ignore[no-untyped-def]
    bus = InProcessBus()
    record = EventRecord(sessions, node_id="n1", bus=bus, projectors=())
    record.emit(CREATED, call_id="before-the-webhook")
    await asyncio.sleep(0.01)
    add_webhook(sessions, receiver.url, receiver.secret, event_types=["call.*", "queue.left"])
    d = dispatcher(sessions, bus)
    await d.start()
    try:
        wanted = [
            record.emit(CREATED, call_id="c1"),
            record.emit("queue.left", call_id="c1", data={"reason": "answered"}),
        ]
        record.emit(QueueEntered(), call_id="c1")
        record.emit(AgentStateChanged(from_="offline", to="available", reason=None, by_user_id=None))
        wanted.append(
            record.emit(
                CallEnded(reason="done", answered=True, hangup_by=None, leg_kind=None, sip_status=None),
                call_id="c1",
            )
        )
        await until(lambda: len([r for r in deliveries(sessions) if r.state == "delivered"]) == 3)
        await asyncio.sleep(0.4)  # a scan has run too: still nothing else
    finally:
        await d.close()
    assert sorted(r.event_id for r in deliveries(sessions)) == [e.id for e in wanted]
    assert sorted(r.json["id"] for r in receiver.requests) == [e.id for e in wanted]


async def test_restart_picks_up_pending_and_missed_deliveries(sessions, receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.fail_first, receiver.fail_status = 10**6, 503
    bus = InProcessBus()
    record = EventRecord(sessions, node_id="n1", bus=bus, projectors=())
    add_webhook(sessions, receiver.url, receiver.secret)
    first = dispatcher(sessions, bus, base_delay=0.3)
    await first.start()
    e1 = record.emit(CREATED, call_id="c1")
    await until(lambda: deliveries(sessions) and deliveries(sessions)[0].attempts >= 1)
    await first.close()
    # Committed while no dispatcher runs (and never seen on any bus): only the scan can find it.
    e2 = EventRecord(sessions, node_id="n2", projectors=()).emit(CREATED, call_id="c2")
    assert [r.event_id for r in deliveries(sessions)] == [e1.id]
    receiver.fail_first = 0
    second = dispatcher(sessions, InProcessBus())
    await second.start()
    try:
        await until(
            lambda: (
                len(deliveries(sessions)) == 2 and all(r.state == "delivered" for r in deliveries(sessions))
            )
        )
    finally:
        await second.close()
    rows = {r.event_id: r for r in deliveries(sessions)}
    assert rows[e1.id].attempts >= 2 and rows[e2.id].attempts == 1
    assert {r.json["id"] for r in receiver.requests if r.signature_ok} >= {e1.id, e2.id}


async def test_fan_out_and_scan_never_duplicate(sessions, receiver) -> None:  # type: ignore[no-untyped-def]
    record = EventRecord(sessions, node_id="n1", projectors=())
    add_webhook(sessions, receiver.url, receiver.secret)
    events = [record.emit(CREATED, call_id=f"c{i}") for i in range(5)]
    d = dispatcher(sessions, None)
    assert d.fan_out(events[:2]) == 2
    assert d.fan_out(events[:2]) == 0
    assert d.scan() == 3
    assert d.scan() == 0
    assert sorted(r.event_id for r in deliveries(sessions)) == [e.id for e in events]


def test_backoff_is_exponential_capped_and_jittered(sessions) -> None:  # type: ignore[no-untyped-def]
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    top = WebhookDispatcher(sessions, rng=Fixed(1.0), base_delay=2, max_delay=60)
    assert [top.backoff(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    low = WebhookDispatcher(sessions, rng=Fixed(0.0), base_delay=2, max_delay=60)
    assert [low.backoff(n) for n in range(1, 4)] == [1, 2, 4]
    seeded = [WebhookDispatcher(sessions, rng=random.Random(3), base_delay=2).backoff(3) for _ in range(2)]
    assert seeded[0] == seeded[1] and 4 <= seeded[0] <= 8


def test_signature_helper_matches_the_recipe() -> None:
    body = b'{"id":1}'
    sig = signature("k" * 20, "1700000000", body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify_signature("k" * 20, "1700000000", body, sig, now=1700000100)
    assert not verify_signature("k" * 20, "1700000000", body + b" ", sig, now=1700000100)
    assert not verify_signature("x" * 20, "1700000000", body, sig, now=1700000100)
    assert not verify_signature("k" * 20, "1700000000", body, sig, now=1700000000 + 301)
    assert not verify_signature("k" * 20, "soon", body, sig, now=1700000000)


def test_clock_is_injected(sessions, receiver) -> None:  # type: ignore[no-untyped-def]
    fixed = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    record = EventRecord(sessions, node_id="n1", projectors=())
    add_webhook(sessions, receiver.url, receiver.secret)
    ev = record.emit(CREATED, call_id="c1")
    d = dispatcher(sessions, None, clock=lambda: fixed)
    d.fan_out([ev])
    [row] = deliveries(sessions)
    assert row.created_at.replace(tzinfo=dt.UTC) == fixed


async def test_close_returns_even_if_a_cancel_is_swallowed(sessions) -> None:  # type: ignore[no-untyped-def]
    """Python 3.11's asyncio.wait_for may swallow a cancellation; close() must still stop the task."""
    d = dispatcher(sessions, InProcessBus())
    swallowed = []
    waiting = asyncio.Event()

    async def wait_swallowing_one_cancel(seconds: float) -> None:
        waiting.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            if not swallowed:
                swallowed.append(True)
                return  # as wait_for does when the inner wait completes at the same moment
            raise

    d._wait_for_events = wait_swallowing_one_cancel  # type: ignore[method-assign]
    await d.start()
    await asyncio.wait_for(
        waiting.wait(), timeout=10
    )  # cancel it in the wait, not in its first database poll
    await asyncio.wait_for(d.close(), timeout=10)
    assert swallowed == [True]
