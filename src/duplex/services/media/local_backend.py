"""In-process media: ``LocalMediaBackend`` hands out ``RtpEndpoint`` legs bound in the configured RTP port
range (the other implementation of the ``MediaBackend`` seam is `duplex.services.media.rtpengine_backend`)."""

from __future__ import annotations

import asyncio
import logging

from duplex.media.session import MediaBackend, MediaSession
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.tts import TextToSpeech

__all__ = ["LocalMediaBackend"]

log = logging.getLogger("duplex.media.local_backend")


class LocalMediaBackend:
    """In-process media: RTP endpoints on ``host`` with ports from ``port_range``."""

    def __init__(self, host: str = "127.0.0.1", port_range: tuple[int, int] | None = None,
                 tts: TextToSpeech | None = None, quarantine: float = 5.0) -> None:  # fmt: skip
        self.host = host
        self.port_range = port_range
        self.tts = tts
        self.sessions: set[RtpEndpoint] = set()
        # A closed leg's port is not handed out again for ``quarantine`` seconds (unless nothing else is
        # free): its far end may still be sending, and a new call on that port would relay those packets.
        self.quarantine = quarantine
        self._released: dict[int, float] = {}  # port -> loop time it was closed, oldest first

    async def open_session(self) -> RtpEndpoint:
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._released:  # drop the expired (insertion order is release order)
            port, at = next(iter(self._released.items()))
            if now - at < self.quarantine:
                break
            del self._released[port]
        ep = await RtpEndpoint.open(self.host, self.port_range, tts=self.tts, avoid=self._released)
        port = ep.local_address[1]
        self.sessions.add(ep)
        ep._on_closed = lambda closed: self._release(closed, port, loop.time())
        return ep

    def _release(self, ep: RtpEndpoint, port: int, now: float) -> None:
        self.sessions.discard(ep)  # closed legs are forgotten (they held memory per call)
        if self.port_range is not None:
            self._released.pop(port, None)
            self._released[port] = now

    async def close(self) -> None:
        for ep in list(self.sessions):
            try:
                await ep.close()
            except Exception:  # one broken leg must not keep the others' sockets open
                log.exception("closing %s failed", ep)
        self.sessions.clear()


def _conforms(ep: RtpEndpoint, backend: LocalMediaBackend) -> tuple[MediaSession, MediaBackend]:
    """mypy checks here that the local implementation satisfies both protocols."""
    return ep, backend
