"""The switch's housekeeping, once a second: registrations expire, the flood guard and the front door age
their counters, legs whose far end stopped sending RTP are hung up (`rtp_watchdog.RtpWatchdog`), and a
stale directory is reloaded (`directory_cache.DirectoryCache`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from duplex.services.calls.call import Call
from duplex.services.calls.directory_cache import DirectoryCache
from duplex.services.calls.rtp_watchdog import RtpWatchdog
from duplex.services.registrar_service import RegistrationService
from duplex.telephony.flood import FloodGuard
from duplex.telephony.front_door import FrontDoor

__all__ = ["Housekeeping", "HousekeepingHost"]

log = logging.getLogger("duplex.services.calls.switch")


class HousekeepingHost(Protocol):
    """What housekeeping tends (`switch.Switch`)."""

    @property
    def registrations(self) -> RegistrationService: ...
    @property
    def flood(self) -> FloodGuard: ...
    @property
    def front(self) -> FrontDoor: ...
    @property
    def directories(self) -> DirectoryCache: ...
    @property
    def calls(self) -> dict[str, Call]: ...
    @property
    def rtp_watchdog(self) -> RtpWatchdog: ...
    @property
    def status(self) -> dict[str, Any]: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class Housekeeping:
    def __init__(self, host: HousekeepingHost) -> None:
        self.host = host
        self._task: asyncio.Task[None] | None = None
        self._rtp_checked = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        host = self.host
        while True:
            await asyncio.sleep(1.0)
            now = asyncio.get_running_loop().time()
            host.registrations.expire(now)
            host.flood.handle_timer(now)
            host.front.handle_timer(now)
            host.status["registrations"] = host.registrations.count
            self._hang_up_silent_legs(now)
            if host.directories.stale(now):
                await host.directories.refresh()

    def _hang_up_silent_legs(self, now: float) -> None:
        watchdog = self.host.rtp_watchdog
        if watchdog.timeout <= 0 or now - self._rtp_checked < min(5.0, watchdog.timeout / 2):
            return
        self._rtp_checked = now
        legs = (leg for call in self.host.calls.values() for leg in call.legs)
        for leg in watchdog.check(now, legs):
            log.info("%s received no RTP for %.0f s: hanging up", leg, watchdog.timeout)
            self.host.spawn(leg.hangup("rtp_timeout"))
