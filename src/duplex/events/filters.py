"""Which events a consumer wants (and may see): one filter for the WebSocket, the REST list and replay.

A filter matches live envelopes (`matches`) and builds the same condition as SQL (`where`), so catch-up
from the table and the live stream can never disagree about what belongs to a subscription.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from duplex.db.models import Agent, Event
from duplex.events.types import EVENT_TYPES, EventEnvelope, type_matches_any

_PATTERN = re.compile(r"^[a-z_]+(\.[a-z_]+)*(\.\*)?$")
_CORRELATIONS = ("queue_id", "campaign_id", "agent_id", "lead_id")


class FilterError(ValueError):
    """A filter parameter is malformed; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_types(raw: str | None) -> tuple[str, ...]:
    """`"call.*,queue.entered"` -> ("call.*", "queue.entered"); each entry must name known types."""
    if not raw:
        return ()
    patterns = tuple(p.strip() for p in raw.split(",") if p.strip())
    for pattern in patterns:
        if not _PATTERN.match(pattern) or not any(type_matches_any(t, [pattern]) for t in EVENT_TYPES):
            raise FilterError("types", f"{pattern!r} matches no event type")
    return patterns


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Type patterns (empty = all; "call.*" = prefix) and correlation ids that must all match.

    `visible_agents` is the caller's scope: None = everything (admin); otherwise only events whose agent_id
    is in it, plus, when `include_unassigned`, events that concern no agent (a supervisor's wallboard)."""

    types: tuple[str, ...] = ()
    queue_id: int | None = None
    campaign_id: int | None = None
    agent_id: int | None = None
    lead_id: int | None = None
    call_id: str | None = None
    visible_agents: frozenset[int] | None = None
    include_unassigned: bool = False

    def matches(self, envelope: EventEnvelope) -> bool:
        if not type_matches_any(envelope.type, list(self.types)):
            return False
        for name in _CORRELATIONS:
            wanted = getattr(self, name)
            if wanted is not None and getattr(envelope, name) != wanted:
                return False
        if self.call_id is not None and envelope.call_id != self.call_id:
            return False
        return self._visible(envelope.agent_id)

    def _visible(self, agent_id: int | None) -> bool:
        if self.visible_agents is None:
            return True
        if agent_id is None:
            return self.include_unassigned
        return agent_id in self.visible_agents

    def where(self) -> ColumnElement[bool]:
        """The same condition over the `events` table."""
        conditions: list[ColumnElement[bool]] = []
        if self.types:
            exact = [t for t in self.types if not t.endswith(".*")]
            prefixes = [t[:-1] for t in self.types if t.endswith(".*")]
            options: list[ColumnElement[bool]] = [Event.type.like(p + "%") for p in prefixes]
            if exact:
                options.append(Event.type.in_(exact))
            conditions.append(or_(*options))
        for name in _CORRELATIONS:
            wanted = getattr(self, name)
            if wanted is not None:
                conditions.append(getattr(Event, name) == wanted)
        if self.call_id is not None:
            conditions.append(Event.call_id == self.call_id)
        if self.visible_agents is not None:
            scope: ColumnElement[bool] = Event.agent_id.in_(sorted(self.visible_agents))
            if self.include_unassigned:
                scope = or_(scope, Event.agent_id.is_(None))
            conditions.append(scope)
        return and_(true(), *conditions)


def scope_for(
    session: Session, role: str, *, agent_id: int | None, team_ids: Iterable[int]
) -> dict[str, Any]:
    """`visible_agents`/`include_unassigned` for a caller: an agent sees their own events; a supervisor
    sees the agents of their teams and events that concern no agent; an admin sees everything."""
    if role == "admin":
        return {"visible_agents": None, "include_unassigned": True}
    if role == "supervisor":
        teams = sorted(team_ids)
        agents: list[int] = []
        if teams:
            agents = list(session.scalars(select(Agent.id).where(Agent.team_id.in_(teams))))
        return {"visible_agents": frozenset(agents), "include_unassigned": True}
    own = frozenset() if agent_id is None else frozenset({agent_id})
    return {"visible_agents": own, "include_unassigned": False}
