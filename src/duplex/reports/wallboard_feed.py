"""The wallboard's events kept in memory, so a poll reads only the rows recorded since the last one.

The first refresh reads the last 24 hours as `load_wallboard_events` does; each later one reads the rows of
the last `overlap_ms` before the newest event seen (the `ts_ms` index) and adds those not yet kept, so a
transaction that committed a little after a later one is not missed. Events older than the window are
dropped, except each agent's latest agent.state_changed (its state now). Snapshots are shared for
`min_interval_ms`: many wallboards polling cost one computation per interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.db.models import Event
from duplex.events.types import EventEnvelope
from duplex.reports.call_facts import CallFacts, calls_of
from duplex.reports.kpi_store import COLUMNS, DAY_MS, envelopes, load_wallboard_events

__all__ = ["WallboardFeed"]

T = TypeVar("T")


class WallboardFeed:
    def __init__(self, *, overlap_ms: int = 60_000, min_interval_ms: int = 2_000) -> None:
        self.overlap_ms = overlap_ms
        self.min_interval_ms = min_interval_ms
        self._events: dict[int, EventEnvelope] = {}
        self._by_call: dict[str, dict[int, EventEnvelope]] = {}  # call id -> its kept events
        self._facts: dict[str, CallFacts] = {}  # call id -> calls_of its kept events, kept up to date
        self._newest_ts: int | None = None
        self._lock = threading.Lock()
        self._boards: dict[Hashable, tuple[int, object]] = {}  # scope key -> (computed at, board)

    def refresh(self, session: Session, now_ms: int) -> tuple[list[EventEnvelope], dict[str, CallFacts]]:
        """The events of the 24 hours before `now_ms` (and the agents' latest states), brought up to date,
        and each of their calls' facts (recomputed only for the calls with new or dropped events)."""
        with self._lock:
            if self._newest_ts is None:
                found = load_wallboard_events(session, now_ms)
            else:
                stmt = select(*COLUMNS).where(Event.ts_ms >= self._newest_ts - self.overlap_ms)
                found = envelopes(session.execute(stmt))
            touched: set[str] = set()
            for e in found:
                if e.id not in self._events:
                    self._events[e.id] = e
                    if e.call_id is not None:
                        self._by_call.setdefault(e.call_id, {})[e.id] = e
                        touched.add(e.call_id)
            self._newest_ts = max([self._newest_ts or 0, *(e.ts_ms for e in found)])
            touched |= self._prune(now_ms - DAY_MS)
            for call_id in touched:
                kept = self._by_call.get(call_id)
                if kept:
                    self._facts.update(calls_of(kept.values()))
                else:
                    self._by_call.pop(call_id, None)
                    self._facts.pop(call_id, None)
            return list(self._events.values()), dict(self._facts)

    def _prune(self, oldest_ms: int) -> set[str]:
        """Drop events older than `oldest_ms`; returns the calls that lost events."""
        latest_state: dict[int, EventEnvelope] = {}
        for e in self._events.values():
            if e.type == "agent.state_changed" and e.agent_id is not None:
                prev = latest_state.get(e.agent_id)
                if prev is None or (e.ts_ms, e.id) > (prev.ts_ms, prev.id):
                    latest_state[e.agent_id] = e
        keep = {e.id for e in latest_state.values()}
        dropped = [e for i, e in self._events.items() if e.ts_ms < oldest_ms and i not in keep]
        for e in dropped:
            del self._events[e.id]
            if e.call_id is not None:
                self._by_call.get(e.call_id, {}).pop(e.id, None)
        return {e.call_id for e in dropped if e.call_id is not None}

    def board(self, key: Hashable, now_ms: int, compute: Callable[[], T]) -> T:
        """The board for `key` computed at most every `min_interval_ms`."""
        cached = self._boards.get(key)
        if cached is not None and 0 <= now_ms - cached[0] < self.min_interval_ms:
            return cached[1]  # type: ignore[return-value]
        board = compute()
        self._boards[key] = (now_ms, board)
        return board
