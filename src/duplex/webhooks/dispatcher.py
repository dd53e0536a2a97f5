"""The webhook dispatcher: every committed event reaches every matching webhook, despite failures and
restarts.

- Fan-out: for each event that matches an enabled webhook's `event_types` (empty = all, "call.*" = a
  prefix) and happened after the webhook was created, one `WebhookDelivery` row is created (unique per
  webhook and event, so two nodes or a bus echo and a scan never create it twice). Live events come from
  the bus; a periodic scan of the event table creates the rows the bus missed (a crash between commit and
  publication, a restart, a full queue).
- Delivery: due pending rows are claimed with a conditional UPDATE (a lease), POSTed with a signature
  (`signing.py`) and updated after each attempt: `attempts`, `last_status`, `last_error`,
  `next_attempt_at`, and `delivered_at` + state "delivered" on a 2xx. Anything else is retried with
  exponential backoff and jitter (`base_delay * 2**(attempt-1)`, capped at `max_delay`, times a random
  factor in [0.5, 1]); after the webhook's `max_attempts` the row becomes "failed".
- A claimed delivery whose node died is retried when its lease runs out, so at-least-once holds;
  receivers deduplicate by X-Duplex-Delivery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from duplex import __version__
from duplex.backoff import backoff_delay
from duplex.db.base import utcnow
from duplex.db.models import Event, Webhook, WebhookDelivery
from duplex.events.bus import EventBus
from duplex.events.filters import EventFilter
from duplex.events.record import envelope_of
from duplex.events.types import EventEnvelope, type_matches_any
from duplex.services.aio import cancel_and_wait
from duplex.webhooks.signing import signature

log = logging.getLogger(__name__)
T = TypeVar("T")

SCAN_MARGIN = 1000  # ids below a webhook's newest delivery still checked (commits may land out of id order)
SCAN_PAGE = 500


def as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def to_ms(value: dt.datetime) -> int:
    return int(as_utc(value).timestamp() * 1000)


def event_body(envelope: EventEnvelope) -> bytes:
    return json.dumps(envelope.to_dict(), separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class AttemptResult:
    ok: bool
    status: int | None
    error: str


async def post_signed(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    body: bytes,
    event_type: str,
    delivery: str,
    now: dt.datetime,
) -> AttemptResult:
    """One signed POST; never raises for network or HTTP errors."""
    timestamp = str(int(as_utc(now).timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Duplex-Webhooks/{__version__}",
        "X-Duplex-Event": event_type,
        "X-Duplex-Delivery": delivery,
        "X-Duplex-Timestamp": timestamp,
        "X-Duplex-Signature": signature(secret, timestamp, body),
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return AttemptResult(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return AttemptResult(True, response.status_code, "")
    return AttemptResult(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")


class WebhookDispatcher:
    """Runs as one asyncio task (`start`/`close`); database work happens in worker threads.

    Args:
        sessions: the session factory.
        bus: live events; optional (the scan alone also delivers everything, only later).
        clock: now, as an aware UTC datetime (tests inject one).
        rng: the jitter source (tests inject a seeded one).
        base_delay / max_delay: backoff in seconds.
        scan_interval: seconds between scans of the event table for missing deliveries.
        lease_seconds: how long a claimed attempt blocks other dispatchers.
        timeout: HTTP timeout per attempt, seconds.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: EventBus | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
        base_delay: float = 10.0,
        max_delay: float = 3600.0,
        scan_interval: float = 30.0,
        lease_seconds: float = 120.0,
        timeout: float = 10.0,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.scan_interval = scan_interval
        self.lease_seconds = lease_seconds
        self.timeout = timeout
        self.concurrency = concurrency
        self.transport = transport
        self._task: asyncio.Task[None] | None = None
        self._db_lock = threading.Lock()  # held by database work in a worker thread; close() waits for it
        self._queue: asyncio.Queue[EventEnvelope] | None = None
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.bus is not None:
            self._queue = self.bus.subscribe()
        self._task = asyncio.create_task(self.run(), name="webhook-dispatcher")

    async def close(self) -> None:
        if self._task is not None:
            self._stopping = True
            await cancel_and_wait(self._task)
            self._task = None
            self._stopping = False
            # A cancelled to_thread() keeps running in its thread: let it finish before the engine goes.
            if await asyncio.to_thread(self._db_lock.acquire, True, 10.0):
                self._db_lock.release()
        if self.bus is not None and self._queue is not None:
            self.bus.unsubscribe(self._queue)
            self._queue = None

    async def run(self) -> None:
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0))
        async with httpx.AsyncClient(timeout=timeout, transport=self.transport) as client:
            last_scan = -float("inf")
            loop = asyncio.get_running_loop()
            while not self._stopping:
                try:
                    if loop.time() - last_scan >= self.scan_interval:
                        await self._db(self.scan)
                        last_scan = loop.time()
                    await self.deliver_due(client)
                    wait = await self._db(self._seconds_until_due)
                    wait = min(wait, max(0.0, self.scan_interval - (loop.time() - last_scan)))
                    await self._wait_for_events(wait)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook dispatcher: cycle failed; retrying")
                    await asyncio.sleep(min(self.scan_interval, 5.0))

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._db_lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    async def _wait_for_events(self, seconds: float) -> None:
        if self._queue is None:
            await asyncio.sleep(seconds)
            return
        try:
            first = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return
        batch = [first]
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        await self._db(self.fan_out, batch)

    # -- fan-out ------------------------------------------------------------------------------------

    def fan_out(self, envelopes: Sequence[EventEnvelope]) -> int:
        """Create the delivery rows for these (committed) events; returns how many were new."""
        now = self.clock()
        with self.sessions() as session, session.begin():
            hooks = list(session.scalars(select(Webhook).where(Webhook.enabled.is_(True))))
            pairs = [
                (hook.id, env.id)
                for env in envelopes
                for hook in hooks
                if type_matches_any(env.type, list(hook.event_types)) and env.ts_ms >= to_ms(hook.created_at)
            ]
            return self._insert(session, pairs, now)

    def scan(self) -> int:
        """Create delivery rows for matching events that have none yet (missed by the bus)."""
        created = 0
        now = self.clock()
        with self.sessions() as session, session.begin():
            hooks = list(session.scalars(select(Webhook).where(Webhook.enabled.is_(True))))
            for hook in hooks:
                created += self._scan_hook(session, hook, now)
        return created

    def _scan_hook(self, session: Session, hook: Webhook, now: dt.datetime) -> int:
        newest = session.scalar(
            select(func.max(WebhookDelivery.event_id)).where(WebhookDelivery.webhook_id == hook.id)
        )
        cursor = max(0, (newest or 0) - SCAN_MARGIN)
        flt = EventFilter(types=tuple(hook.event_types))
        has_delivery = exists().where(
            and_(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.event_id == Event.id)
        )
        created = 0
        while True:
            ids = list(
                session.scalars(
                    select(Event.id)
                    .where(
                        Event.id > cursor, Event.ts_ms >= to_ms(hook.created_at), flt.where(), ~has_delivery
                    )
                    .order_by(Event.id)
                    .limit(SCAN_PAGE)
                )
            )
            created += self._insert(session, [(hook.id, event_id) for event_id in ids], now)
            if len(ids) < SCAN_PAGE:
                return created
            cursor = ids[-1]

    def _insert(self, session: Session, pairs: list[tuple[int, int]], now: dt.datetime) -> int:
        if not pairs:
            return 0
        rows = [
            {
                "webhook_id": w,
                "event_id": e,
                "state": "pending",
                "attempts": 0,
                "last_error": "",
                "next_attempt_at": now,
                "created_at": now,
            }
            for w, e in pairs
        ]
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(WebhookDelivery).on_conflict_do_nothing()
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(WebhookDelivery).on_conflict_do_nothing()
        else:  # pragma: no cover - other databases are not supported
            stmt = insert(WebhookDelivery)
        conn = session.connection()
        created = 0
        for row in rows:  # one by one, counting RETURNING rows: rowcount is not reliable across drivers
            created += len(conn.execute(stmt.values(**row).returning(WebhookDelivery.id)).all())
        return created

    # -- delivery -----------------------------------------------------------------------------------

    def _due(self, now: dt.datetime) -> Any:
        return and_(
            WebhookDelivery.state == "pending",
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        )

    def _seconds_until_due(self) -> float:
        with self.sessions() as session:
            soonest = session.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.state == "pending")
            )
        if soonest is None:
            return self.scan_interval
        return max(0.0, (as_utc(soonest) - self.clock()).total_seconds())

    def _claim(self, limit: int) -> list[tuple[int, str, str, str, EventEnvelope]]:
        """Due deliveries this dispatcher now owns for `lease_seconds`: (id, url, secret, type, event)."""
        now = self.clock()
        lease_end = now + dt.timedelta(seconds=self.lease_seconds)
        claimed: list[tuple[int, str, str, str, EventEnvelope]] = []
        with self.sessions() as session, session.begin():
            ids = list(
                session.scalars(
                    select(WebhookDelivery.id).where(self._due(now)).order_by(WebhookDelivery.id).limit(limit)
                )
            )
            for delivery_id in ids:
                won = session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, self._due(now))
                    .values(next_attempt_at=lease_end)
                    .execution_options(synchronize_session=False)
                )
                if getattr(won, "rowcount", 0) != 1:
                    continue
                delivery = session.get(WebhookDelivery, delivery_id)
                assert delivery is not None
                hook = session.get(Webhook, delivery.webhook_id)
                event = session.get(Event, delivery.event_id)
                if hook is None or event is None or not hook.enabled:
                    continue  # a disabled webhook keeps its pending deliveries until it is enabled again
                claimed.append((delivery_id, hook.url, hook.secret, event.type, envelope_of(event)))
        return claimed

    async def deliver_due(self, client: httpx.AsyncClient, limit: int = 100) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        claimed = await self._db(self._claim, limit)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def attempt(item: tuple[int, str, str, str, EventEnvelope]) -> None:
            delivery_id, url, secret, event_type, envelope = item
            async with semaphore:
                result = await post_signed(
                    client,
                    url=url,
                    secret=secret,
                    body=event_body(envelope),
                    event_type=event_type,
                    delivery=str(delivery_id),
                    now=self.clock(),
                )
            await self._db(self._record, delivery_id, result)

        await asyncio.gather(*(attempt(item) for item in claimed))
        return len(claimed)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return backoff_delay(
            attempts, base=self.base_delay, cap=self.max_delay, rng=self.rng, jitter_floor=0.5
        )

    def _record(self, delivery_id: int, result: AttemptResult) -> None:
        now = self.clock()
        with self.sessions() as session, session.begin():
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return  # the webhook was deleted meanwhile
            hook = session.get(Webhook, delivery.webhook_id)
            max_attempts = hook.max_attempts if hook is not None else 1
            delivery.attempts += 1
            delivery.last_status = result.status
            delivery.last_error = result.error
            if result.ok:
                delivery.state = "delivered"
                delivery.delivered_at = now
                delivery.next_attempt_at = None
            elif delivery.attempts >= max_attempts:
                delivery.state = "failed"
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + dt.timedelta(seconds=self.backoff(delivery.attempts))
        level = logging.DEBUG if result.ok else logging.INFO
        log.log(level, "webhook delivery %s: %s", delivery_id, result.error or result.status)
