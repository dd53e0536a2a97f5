"""Crash recovery: at start-up, close the calls and legs this node's previous run left open.

A node that was killed (kill -9, OOM, power loss) could not end its calls: their CDR rows stay `answered`
forever and `duplex_calls_in_progress` counts them. None of them can still be up (their dialogs and media
lived in the dead process), so the engine closes them before it takes new calls, with reason
`node_restart`, through events: the CDR projection closes the rows, and a rebuild from the event record
gives the same result.

Only this node's calls are closed: a call belongs to the node that recorded its `call.created` (a leg, its
`leg.created`); other nodes sharing the database keep theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models import Call, CallLeg, Event
from duplex.events.record import EventRecord

__all__ = ["REASON", "close_left_open"]

log = logging.getLogger("duplex.stores.recovery")

REASON = "node_restart"
_CHUNK = 500  # ids per IN (...) list


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _created_here(session: Session, node_id: str, kind: str, call_ids: Iterable[str]) -> set[str]:
    """Ids (call ids for ``call.created``, leg ids for ``leg.created``) that ``node_id`` recorded."""
    column = Event.call_id if kind == "call.created" else Event.leg_id
    found: set[str] = set()
    for chunk in _chunks(sorted(set(call_ids))):
        query = select(column).where(Event.call_id.in_(chunk), Event.type == kind, Event.node_id == node_id)
        found.update(str(value) for value in session.scalars(query) if value is not None)
    return found


def close_left_open(sessions: sessionmaker[Session], record: EventRecord) -> tuple[int, int]:
    """Record ``leg.ended`` and ``call.ended`` (reason ``node_restart``) for every leg and call of this node
    that has no end, in one transaction. Returns (calls, legs) closed."""
    node_id = record.node_id
    with sessions() as session, session.begin():
        open_calls = {
            row.id: row.state
            for row in session.execute(select(Call.id, Call.state).where(Call.ended_at.is_(None)))
        }
        open_legs = list(
            session.execute(select(CallLeg.id, CallLeg.call_id).where(CallLeg.ended_at.is_(None)))
        )
        ours = _created_here(session, node_id, "call.created", open_calls)
        our_legs = _created_here(session, node_id, "leg.created", {leg.call_id for leg in open_legs})
        events: list[tuple[str, dict[str, Any]]] = []
        for leg in open_legs:  # legs first: a call's end follows its legs' (as when the engine ends it)
            if leg.id in our_legs:
                events.append(("leg.ended", {"call_id": leg.call_id, "leg_id": leg.id,
                                             "data": {"reason": REASON, "hangup_by": "duplex", "sip_status": None}}))  # fmt: skip
        for call_id in sorted(ours):
            data = {"reason": REASON, "hangup_by": "duplex", "leg_kind": None, "sip_status": None,
                    "answered": open_calls[call_id] == "answered"}  # fmt: skip
            events.append(("call.ended", {"call_id": call_id, "data": data}))
        record.append_many(session, events)
    closed_legs = len(events) - len(ours)
    if events:
        log.warning("closed %d calls and %d legs left open by this node's previous run (%s)", len(ours),
                    closed_legs, REASON)  # fmt: skip
    return len(ours), closed_legs
