"""The SIP core's one deadline (`get_timer()`) kept as one ``loop.call_at`` timer, for the transports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["CoreTimer"]


class CoreTimer:
    """Re-armed after each send: unchanged deadlines keep their timer; ``fire`` runs when one falls due."""

    def __init__(self, fire: Callable[[], None]) -> None:
        self._fire = fire
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def arm(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        if deadline == self._at and self._handle is not None:
            return
        self.cancel()
        self._at = deadline
        if deadline is not None:
            self._handle = loop.call_at(deadline, self._due)

    def cancel(self) -> None:
        """Stop the pending timer; an unchanged deadline does not re-arm it (a stopped transport stays quiet)."""
        if self._handle is not None:
            self._handle.cancel()

    def _due(self) -> None:
        self._handle = self._at = None
        self._fire()
