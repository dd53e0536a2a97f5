"""The node's directory of agents, numbers and trunks, cached from the store.

Reloaded when a call asks for a target it does not know (at most every 2 s), when housekeeping finds it
older than `DIRECTORY_TTL`, and when forced (after a change made through the API). Each load also gives the
trunk selector the trunks it read.
"""

from __future__ import annotations

import asyncio

from duplex.stores.call_store import Directory, TelephonyStore
from duplex.telephony.trunks import TrunkSelector

__all__ = ["DIRECTORY_TTL", "DirectoryCache"]

DIRECTORY_TTL = 30.0  # housekeeping reloads a directory older than this
MIN_RELOAD = 2.0  # a non-forced refresh reads the store at most this often


class DirectoryCache:
    def __init__(self, store: TelephonyStore, trunks: TrunkSelector) -> None:
        self.store = store
        self.trunks = trunks
        self.directory = Directory()
        self._refreshing: asyncio.Task[Directory] | None = None  # the one non-forced load in flight

    def stale(self, now: float) -> bool:
        return now - self.directory.loaded_at > DIRECTORY_TTL

    async def refresh(self, *, force: bool = False) -> Directory:
        """Reload agents, numbers and trunks (at most every 2 s unless forced). Concurrent callers share
        one load (a burst of INVITEs for unknown targets used to queue one load each); a forced refresh
        always reads anew, since it must see a change made just before it."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if force:
            return await self._load(now)
        if now - self.directory.loaded_at <= MIN_RELOAD:
            return self.directory
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = loop.create_task(self._load(now))
        return await asyncio.shield(self._refreshing)

    async def _load(self, now: float) -> Directory:
        directory = await self.store.load_directory(now)
        if directory.loaded_at >= self.directory.loaded_at:
            self.directory = directory
            self.trunks.update_trunks(directory.trunks, now=now)
        return self.directory
