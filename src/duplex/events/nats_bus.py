"""The NATS JetStream event bus: committed events reach the consumers of every node.

Each event is published as JSON to `<prefix>.<type>` (e.g. `duplex.events.call.answered`) on a stream
(`DUPLEX_EVENTS` by default) with `Nats-Msg-Id: <node_id>:<seq>`, so a publication retried after a
reconnect is stored once. Each process holds one ordered push consumer on `<prefix>.>` (new messages
only) and fans what it receives out to its local asyncio queues. Local events are delivered to local
queues at once and skipped when they come back from the server (matched by this bus instance's
`Duplex-Origin` header), so nobody sees an event twice and local consumers keep working while the
server is unreachable.

`publish_nowait` never blocks: it hands the envelope to the bus loop (`call_soon_threadsafe`), where one
publisher task sends in order and retries while the connection is down. The bus is best-effort by
design: the event table is the record, and consumers that missed something catch up from it by id.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import uuid
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from duplex.events.bus import InProcessBus
from duplex.events.types import EventEnvelope

log = logging.getLogger(__name__)

ORIGIN_HEADER = "Duplex-Origin"
DEFAULT_STREAM = "DUPLEX_EVENTS"
DEFAULT_PREFIX = "duplex.events"


def envelope_from_json(payload: bytes) -> EventEnvelope:
    raw: dict[str, Any] = json.loads(payload)
    return EventEnvelope(**raw)


def envelope_to_json(envelope: EventEnvelope) -> bytes:
    return json.dumps(envelope.to_dict(), separators=(",", ":"), sort_keys=True).encode()


class NatsBus:
    """An `EventBus` over NATS JetStream.

    Args:
        url: NATS server URL(s), comma-separated.
        node_id: this node's name; with the event's seq it forms the `Nats-Msg-Id`.
        stream: JetStream stream name (created or updated on `start`).
        subject_prefix: events go to `<subject_prefix>.<type>`; tests use a unique prefix per run.
        max_age_seconds: how long the stream keeps events (the database is the long-term record).
        outbox_limit: events waiting for the server beyond this are dropped (oldest first) and counted.
    """

    def __init__(
        self,
        url: str,
        *,
        node_id: str,
        stream: str = DEFAULT_STREAM,
        subject_prefix: str = DEFAULT_PREFIX,
        max_age_seconds: float = 7 * 24 * 3600,
        outbox_limit: int = 100_000,
        publish_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.node_id = node_id
        self.stream = stream
        self.subject_prefix = subject_prefix.rstrip(".")
        self.max_age_seconds = max_age_seconds
        self.publish_timeout = publish_timeout
        self.origin = uuid.uuid4().hex
        self.dropped = 0
        self.published = 0
        self._local = InProcessBus()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._early: list[EventEnvelope] = []  # published before start()
        self._outbox: collections.deque[EventEnvelope] = collections.deque(maxlen=outbox_limit)
        self._outbox_limit = outbox_limit
        self._wakeup = asyncio.Event()
        self._closing = False
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._sub: Any = None

    # -- EventBus protocol ------------------------------------------------------------------------

    def subscribe(self, maxsize: int = 10000) -> asyncio.Queue[EventEnvelope]:
        return self._local.subscribe(maxsize)

    def unsubscribe(self, queue: asyncio.Queue[EventEnvelope]) -> None:
        self._local.unsubscribe(queue)

    def publish_nowait(self, envelope: EventEnvelope) -> None:
        """Deliver to local subscribers now and queue for the server; safe from any thread."""
        self._local.publish_nowait(envelope)
        with self._lock:
            loop = self._loop
            if loop is None:
                self._early.append(envelope)
                return
        if loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(envelope)
        else:
            loop.call_soon_threadsafe(self._enqueue, envelope)

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._nc = await nats.connect(
            self.url.split(","),
            name=f"duplex-{self.node_id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        self._js = self._nc.jetstream()
        await self._ensure_stream()
        self._sub = await self._js.subscribe(
            f"{self.subject_prefix}.>",
            stream=self.stream,
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )
        with self._lock:
            self._loop = asyncio.get_running_loop()
            early, self._early = self._early, []
        for envelope in early:
            self._enqueue(envelope)
        self._publisher = asyncio.create_task(self._publish_loop(), name="nats-bus-publisher")
        log.info("event bus: NATS %s stream %s subjects %s.>", self.url, self.stream, self.subject_prefix)

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Send what is still queued (up to `drain_timeout` seconds), then disconnect."""
        self._closing = True
        self._wakeup.set()
        if self._publisher is not None:
            try:
                await asyncio.wait_for(self._publisher, drain_timeout)
            except TimeoutError:
                log.warning("event bus: %d events not sent to NATS at close", len(self._outbox))
            self._publisher = None
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:  # noqa: BLE001 - the connection may already be gone
                log.debug("event bus: unsubscribe failed: %s", exc)
            self._sub = None
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        with self._lock:
            self._loop = None
        await self._local.close()

    # -- internals --------------------------------------------------------------------------------

    def subject_for(self, event_type: str) -> str:
        return f"{self.subject_prefix}.{event_type}"

    async def _ensure_stream(self) -> None:
        assert self._js is not None
        subjects = [f"{self.subject_prefix}.>"]
        config = StreamConfig(
            name=self.stream, subjects=subjects, max_age=self.max_age_seconds, duplicate_window=120.0
        )
        try:
            info = await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(config)
            return
        if subjects[0] not in (info.config.subjects or []):
            info.config.subjects = [*(info.config.subjects or []), *subjects]
            await self._js.update_stream(info.config)

    def _enqueue(self, envelope: EventEnvelope) -> None:
        if len(self._outbox) == self._outbox_limit:
            self.dropped += 1
            log.warning("event bus outbox full; event %s not sent to NATS", self._outbox[0].id)
        self._outbox.append(envelope)
        self._wakeup.set()

    async def _publish_loop(self) -> None:
        delay = 0.1
        while True:
            if not self._outbox:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            envelope = self._outbox[0]
            try:
                await self._publish(envelope)
            except Exception as exc:  # noqa: BLE001 - keep trying; the record is durable anyway
                if self._closing and (self._nc is None or not self._nc.is_connected):
                    return
                log.warning("event bus: publish of event %s failed (%s); retrying", envelope.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self._outbox.popleft()
            self.published += 1

    async def _publish(self, envelope: EventEnvelope) -> None:
        assert self._js is not None
        headers = {"Nats-Msg-Id": f"{envelope.node_id}:{envelope.seq}", ORIGIN_HEADER: self.origin}
        await self._js.publish(
            self.subject_for(envelope.type),
            envelope_to_json(envelope),
            timeout=self.publish_timeout,
            stream=self.stream,
            headers=headers,
        )

    async def _on_message(self, msg: Msg) -> None:
        if (msg.headers or {}).get(ORIGIN_HEADER) == self.origin:
            return  # ours: local subscribers already have it
        try:
            envelope = envelope_from_json(msg.data)
        except (ValueError, TypeError) as exc:
            log.warning("event bus: ignoring malformed message on %s: %s", msg.subject, exc)
            return
        self._local.publish_nowait(envelope)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("event bus: NATS error: %s", exc)

    async def _on_disconnected(self) -> None:
        log.warning("event bus: disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        log.info("event bus: reconnected to NATS")
