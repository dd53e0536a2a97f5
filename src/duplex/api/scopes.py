"""Row scoping by role for reads (and therefore for every route that loads a row through a Resource).

- admin: everything;
- supervisor ("own teams", `Principal.team_ids`): agents of their teams; calls handled by those agents (the
  call's agent or any leg's agent) or routed through a queue of one of their teams; recordings of those calls;
- agent: their own agent row, the calls whose agent they are (unchanged from before team scoping).

A row out of scope is a 404, as if it did not exist. Team membership is the agent's *current* team: moving an
agent to another team moves their call history with them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select

from duplex.auth.deps import Principal
from duplex.db.models import Agent, Call, CallLeg, Evaluation, Queue, Recording, Role

__all__ = ["own_agents", "own_calls", "own_evaluations", "own_recordings"]


def _team_agent_ids(principal: Principal) -> Select[Any]:
    return select(Agent.id).where(Agent.team_id.in_(sorted(principal.team_ids)))


def _call_visible(principal: Principal) -> ColumnElement[bool] | None:
    """The WHERE clause for the calls `principal` may read; None means all of them."""
    if principal.role is Role.ADMIN:
        return None
    if principal.role is Role.AGENT:
        return Call.agent_id == (principal.agent_id or -1)
    if not principal.team_ids:
        return false()
    team_agents = _team_agent_ids(principal)
    return or_(
        Call.agent_id.in_(team_agents),
        Call.queue_id.in_(select(Queue.id).where(Queue.team_id.in_(sorted(principal.team_ids)))),
        Call.id.in_(select(CallLeg.call_id).where(CallLeg.agent_id.in_(team_agents))),
    )


def own_agents(principal: Principal, stmt: Select[Any]) -> Select[Any]:
    if principal.role is Role.ADMIN:
        return stmt
    if principal.role is Role.AGENT:
        return stmt.where(Agent.id == (principal.agent_id or -1))
    return stmt.where(Agent.team_id.in_(sorted(principal.team_ids)))


def own_calls(principal: Principal, stmt: Select[Any]) -> Select[Any]:
    clause = _call_visible(principal)
    return stmt if clause is None else stmt.where(clause)


def own_recordings(principal: Principal, stmt: Select[Any]) -> Select[Any]:
    clause = _call_visible(principal)
    return stmt if clause is None else stmt.where(Recording.call_id.in_(select(Call.id).where(clause)))


def own_evaluations(principal: Principal, stmt: Select[Any]) -> Select[Any]:
    """Quality evaluations are read like the calls they score (an agent: the evaluations of their calls)."""
    clause = _call_visible(principal)
    return stmt if clause is None else stmt.where(Evaluation.call_id.in_(select(Call.id).where(clause)))
