"""The event bus: how committed events reach live consumers.

`publish_nowait` is called from the thread that committed (often a worker thread of the API), so every
implementation must be thread-safe and must not block. Subscribers get an asyncio queue on their loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Protocol

from duplex.events.types import EventEnvelope

log = logging.getLogger(__name__)


class EventBus(Protocol):
    def publish_nowait(self, envelope: EventEnvelope) -> None: ...

    def subscribe(self, maxsize: int = 10000) -> asyncio.Queue[EventEnvelope]: ...

    def unsubscribe(self, queue: asyncio.Queue[EventEnvelope]) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcessBus:
    """Fan-out to asyncio queues in this process. A slow subscriber whose queue is full loses the newest
    events (it can catch up from the record by id); the publisher is never blocked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[EventEnvelope]]] = []
        self.dropped = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        with self._lock:
            self._subscribers.clear()

    def subscribe(self, maxsize: int = 10000) -> asyncio.Queue[EventEnvelope]:
        queue: asyncio.Queue[EventEnvelope] = asyncio.Queue(maxsize)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[EventEnvelope]) -> None:
        with self._lock:
            self._subscribers = [(lp, q) for lp, q in self._subscribers if q is not queue]

    def publish_nowait(self, envelope: EventEnvelope) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._put(queue, envelope)
            else:
                loop.call_soon_threadsafe(self._put, queue, envelope)

    def _put(self, queue: asyncio.Queue[EventEnvelope], envelope: EventEnvelope) -> None:
        try:
            queue.put_nowait(envelope)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event subscriber queue full; dropped event %s", envelope.id)
