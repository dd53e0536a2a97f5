"""The CDR projection on the live path: apply only a transaction's new events to the rows of its calls.

`apply_events` recomputes a call from all of its recorded events, so a call of n events read about n²/2
event rows over its life (one re-read per batch). `LiveProjection` keeps the projection state
(`Projection`) of each live call in memory and applies only the new events to it. It falls back to the
reference path (`load_history` + `project`), and keeps nothing for the call, when:

- the call is not in memory (its first batch on this node, or long after it ended): its history is read;
- an event is not newer than the last one applied (out-of-order input, or another transaction's event);
- an event links calls (`leg.left`/`leg.moved`, an attended transfer): both calls are projected together,
  and a call whose rows depend on another call's events is never kept.

The state only changes when the transaction commits (`after_commit`); a rolled-back transaction leaves
it as it was. A transaction that projected from a state another one replaced in the meantime drops the call
from memory, so its next event reads the history again. A call that ended stays in memory for the events
that follow its end (the engine records a bridged call's last leg.ended and call.quality after
call.ended) until `keep_ended` newer calls have ended; at most `max_calls` calls are kept (the least
recently changed go first).

Limit: events of a live call recorded by another process are not seen by this node's memory; the engine
records every event of the calls it runs, and the API in the same process shares the record.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from sqlalchemy import event
from sqlalchemy.orm import Session

from duplex.events.types import EventEnvelope
from duplex.reports.projections import LINKS, Projection, Row, load_history, spans_calls, store_rows

__all__ = ["LiveProjection"]

_PENDING = "duplex.live_projection"
_UNKEPT = Projection()  # the state of a call that is not kept in memory (it has no call row)


class LiveProjection:
    """A projector (`EventRecord(projectors=...)`) whose rows always equal `rebuild_calls`'s."""

    def __init__(self, *, max_calls: int = 20_000, keep_ended: int = 1000) -> None:
        self.max_calls = max_calls
        self.keep_ended = keep_ended
        self._states: OrderedDict[str, Projection] = OrderedDict()  # call id -> its projection state
        self._ended: OrderedDict[str, None] = OrderedDict()  # kept calls that ended, oldest first
        self._lock = threading.Lock()
        self.reloads = 0  # calls projected from their history (for tests and the benchmark)

    def __len__(self) -> int:
        return len(self._states)

    def __call__(self, session: Session, envelopes: Sequence[EventEnvelope]) -> int:
        """Project `envelopes` (recorded in `session`'s transaction) onto their calls' rows."""
        by_call: dict[str, list[EventEnvelope]] = {}
        for env in envelopes:
            if env.call_id is not None:
                by_call.setdefault(env.call_id, []).append(env)
        if not by_call:
            return 0
        updated: dict[str, tuple[Projection | None, Projection]] = {}  # call id -> (base, new state)
        reload: dict[str, Projection | None] = {}  # call id -> base
        with self._lock:
            for call_id, events in by_call.items():
                base = self._states.get(call_id)
                if base is None or any(
                    e.id <= base.last_id
                    or e.type in LINKS
                    or (e.leg_id is not None and e.leg_id not in base.legs and e.type != "leg.created")
                    for e in events
                ):  # a leg this call has not seen created began in another call: read the histories
                    reload[call_id] = base
                else:
                    updated[call_id] = (base, base.copy())
        calls: dict[str, Row] = {}
        legs: dict[str, Row] = {}
        orphans: set[str] = set()
        for call_id, (_, state) in updated.items():
            for env in sorted(by_call[call_id], key=lambda e: e.id):
                state.apply(env)
            _add(state, calls, legs, orphans)
        if reload:
            self.reloads += len(reload)
            states = self._reload(session, reload.keys(), calls, legs, orphans)
            for call_id, base in reload.items():
                updated[call_id] = (base, states.get(call_id, _UNKEPT))
        store_rows(session, calls, legs, orphans - legs.keys())
        session.info.setdefault(_PENDING, []).append((self, updated))
        return len(calls)

    def _reload(
        self,
        session: Session,
        call_ids: Iterable[str],
        calls: dict[str, Row],
        legs: dict[str, Row],
        orphans: set[str],
    ) -> dict[str, Projection]:
        """Project these calls (and the calls linked to them) from all their recorded events into `calls`
        and `legs`, as `apply_events` does. Returns each call's own state if no event links calls."""
        events = sorted(load_history(session, call_ids), key=lambda e: e.id)
        together = Projection()
        for env in events:
            together.apply(env)
        _add(together, calls, legs, orphans)
        if spans_calls(events):
            return {}  # a moved leg's row depends on two calls' events: not kept
        alone: dict[str, Projection] = {}
        for env in events:  # without links, each call's rows depend on its own events only
            if env.call_id is not None:
                alone.setdefault(env.call_id, Projection()).apply(env)
        return alone

    def _install(self, updated: dict[str, tuple[Projection | None, Projection]]) -> None:
        with self._lock:
            for call_id, (base, state) in updated.items():
                if self._states.get(call_id) is not base or len(state.calls) != 1:
                    self._states.pop(call_id, None)  # raced with another transaction, or linked
                    continue
                self._states[call_id] = state
                self._states.move_to_end(call_id)
                if state.calls[call_id]["state"] == "ended":
                    self._ended[call_id] = None
                    self._ended.move_to_end(call_id)
            while len(self._ended) > self.keep_ended:
                self._states.pop(self._ended.popitem(last=False)[0], None)
            while len(self._states) > self.max_calls:
                self._ended.pop(self._states.popitem(last=False)[0], None)

    def forget(self) -> None:
        """Drop every kept state (each call's next event reads its history again)."""
        with self._lock:
            self._states.clear()
            self._ended.clear()


def _add(state: Projection, calls: dict[str, Row], legs: dict[str, Row], orphans: set[str]) -> None:
    c, g = state.rows()
    calls.update(c)
    legs.update(g)
    orphans.update(state.orphans())


@event.listens_for(Session, "after_commit")
def _install_committed(session: Session) -> None:
    for live, updated in session.info.pop(_PENDING, []):
        live._install(updated)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
