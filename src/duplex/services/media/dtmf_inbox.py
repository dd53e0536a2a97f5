"""The digits a leg received (RFC 4733 events or in-band tones), kept until an IVR collects them."""

from __future__ import annotations

import asyncio

from duplex.media.events import DtmfReceived

__all__ = ["DtmfInbox"]


class DtmfInbox:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[DtmfReceived] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    def put(self, event: DtmfReceived) -> None:
        self._queue.put_nowait(event)

    def flush(self) -> None:
        """Forget digits typed ahead (``collect`` otherwise consumes them first)."""
        while not self._queue.empty():
            self._queue.get_nowait()

    async def next(self) -> DtmfReceived:
        return await self._queue.get()

    async def collect(
        self,
        max_digits: int,
        timeout: float,
        terminator: str | None = "#",
        inter_digit_timeout: float | None = None,
    ) -> str:
        """Collect up to ``max_digits``, stopping at ``terminator`` (not included) or when ``timeout``
        (overall) / ``inter_digit_timeout`` (after the first digit) expires."""
        digits = ""
        deadline = self._loop.time() + timeout
        while len(digits) < max_digits:
            wait = deadline - self._loop.time()
            if digits and inter_digit_timeout is not None:
                wait = min(wait, inter_digit_timeout)
            if wait <= 0:
                break
            try:
                ev = await asyncio.wait_for(self._queue.get(), wait)
            except TimeoutError:
                break
            if terminator is not None and ev.digit == terminator:
                break
            digits += ev.digit
        return digits
