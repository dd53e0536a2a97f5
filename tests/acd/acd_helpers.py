"""Builders for ACD tests: a center from short specs, and event filters."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from duplex.acd import Acd, AcdEvent, AgentConfig, AgentOffered, Membership, QueueConfig, QueueLeft


def agent(
    agent_id: str, *queues: str | tuple[str, int] | tuple[str, int, int], order: int = 0
) -> AgentConfig:
    """``agent("a", "q")``, ``agent("a", ("q", proficiency))`` or ``agent("a", ("q", proficiency, penalty))``."""
    memberships = []
    for spec in queues:
        if isinstance(spec, str):
            memberships.append(Membership(queue_id=spec, order=order))
        else:
            proficiency = spec[1]
            penalty = spec[2] if len(spec) > 2 else 0
            memberships.append(
                Membership(queue_id=spec[0], proficiency=proficiency, penalty=penalty, order=order)
            )
    return AgentConfig(agent_id=agent_id, memberships=tuple(memberships))


def center(
    queues: Iterable[QueueConfig],
    agents: Iterable[AgentConfig],
    *,
    seed: int = 1,
    login_at: float = 0.0,
    **kw: Any,
) -> Acd:
    """An ACD whose agents are logged in one after the other (a at 0.0, b at 0.001, ...)."""
    agent_list = list(agents)
    acd = Acd(queues, agent_list, rng=random.Random(seed), **kw)
    for i, config in enumerate(agent_list):
        acd.login(config.agent_id, login_at + i / 1000)
    acd.events()
    return acd


def offers(events: Iterable[AcdEvent]) -> list[tuple[str, str]]:
    return [(e.call_id, e.agent_id) for e in events if isinstance(e, AgentOffered)]


def lefts(events: Iterable[AcdEvent]) -> list[QueueLeft]:
    return [e for e in events if isinstance(e, QueueLeft)]


def run_until(acd: Acd, until: float) -> None:
    """Fire every timer due up to ``until``."""
    while (deadline := acd.get_timer()) is not None and deadline <= until:
        acd.handle_timer(deadline)


def serve(acd: Acd, agent_id: str, now: float, talk: float = 10.0) -> None:
    """The agent accepts its offer, talks ``talk`` seconds and hangs up."""
    acd.accept(agent_id, now)
    acd.call_ended(agent_id, now + talk)
