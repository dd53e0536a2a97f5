"""The contact center's database side: queue and agent configuration for the ACD core, published IVR flows,
the agents' last known state, and the recordings' retention.

An agent serves a queue when a ``queue_members`` row says so. Its proficiency in that queue is the lowest of
its proficiencies in the skills the queue requires (``queue_skills``), and the queue's minimum is the highest
of those skills' minimums, so "serves with at least the required level" is one comparison in the ACD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duplex.acd import AgentConfig, Escalation, Membership, OverflowKind, OverflowTarget, QueueConfig
from duplex.db.models import Agent, IvrFlow, IvrFlowVersion, Queue, QueueMember, Recording

__all__ = [
    "CenterConfig",
    "overflow_target",
    "QueuePolicy",
    "load_center",
    "load_flow",
    "reset_agent_states",
    "save_agent_state",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuePolicy:
    """What the call layer needs of a queue beyond routing: its name, recording and announcements."""

    name: str
    recording: str = "none"  # all, none, percent, on_demand
    recording_percent: int = 100
    announce_position: bool = True
    voicemail_webhook: str = ""  # where a voicemail left after this queue's overflow is POSTed


@dataclass(frozen=True, slots=True, kw_only=True)
class CenterConfig:
    queues: tuple[QueueConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    policies: Mapping[str, QueuePolicy] = field(default_factory=dict)  # by ACD queue id (str of the row id)

    def queue_id(self, name_or_id: str | int) -> str | None:
        """The ACD id of a queue a flow names by name or by row id."""
        key = str(name_or_id)
        if key in self.policies:
            return key
        return next((qid for qid, policy in self.policies.items() if policy.name == key), None)


def load_center(sessions: sessionmaker[Session]) -> CenterConfig:
    with sessions() as session:
        queues = list(session.scalars(select(Queue).order_by(Queue.id)))
        required: dict[int, dict[int, int]] = {
            q.id: {s.skill_id: s.min_proficiency for s in q.skills} for q in queues
        }
        configs = []
        for q in queues:
            escalation = None
            if q.overflow_queue_id is not None and q.escalate_after_seconds:
                escalation = Escalation(
                    after_seconds=float(q.escalate_after_seconds), to_queue=str(q.overflow_queue_id)
                )
            configs.append(QueueConfig(
                queue_id=str(q.id), strategy=q.strategy, priority=q.priority,
                min_proficiency=max(required[q.id].values(), default=1) or 1, escalation=escalation,
                max_wait_seconds=float(q.max_wait_seconds) if q.max_wait_seconds else None,
                max_size=q.max_size or None, overflow=overflow_target(q),
                wrap_up_seconds=float(q.wrapup_seconds),
                offer_timeout_seconds=float(max(1, q.ring_timeout_seconds)),
            ))  # fmt: skip
        policies = {
            str(q.id): QueuePolicy(
                name=q.name,
                recording=q.recording_policy,
                recording_percent=q.recording_percent,
                announce_position=q.announce_position,
                voicemail_webhook=q.voicemail_webhook,
            )  # fmt: skip
            for q in queues
        }
        members: dict[int, list[QueueMember]] = {}
        for member in session.scalars(
            select(QueueMember).order_by(QueueMember.queue_id, QueueMember.agent_id)
        ):
            members.setdefault(member.agent_id, []).append(member)
        agents = []
        for agent in session.scalars(select(Agent).order_by(Agent.id)):
            skills = {s.skill_id: s.proficiency for s in agent.skills}
            memberships = []
            for order, member in enumerate(members.get(agent.id, [])):
                needs = required.get(member.queue_id, {})
                level = min((skills.get(skill, 0) for skill in needs), default=1)
                if level >= 1:
                    memberships.append(Membership(queue_id=str(member.queue_id), proficiency=level,
                                                  penalty=member.penalty, order=order))  # fmt: skip
            agents.append(AgentConfig(agent_id=str(agent.id), memberships=tuple(memberships)))
    return CenterConfig(queues=tuple(configs), agents=tuple(agents), policies=policies)


def overflow_target(queue: Queue) -> OverflowTarget | None:
    """The queue's overflow action as the ACD's target; None ("none", or "queue" without a queue to go to)
    leaves max wait and max size to the flow's ``on_timeout`` / ``on_overflow``."""
    action = queue.overflow_action
    if action == "queue":
        if queue.overflow_queue_id is None or queue.overflow_queue_id == queue.id:
            return None
        return OverflowTarget(kind=OverflowKind.QUEUE, queue_id=str(queue.overflow_queue_id))
    if action in (OverflowKind.VOICEMAIL, OverflowKind.CALLBACK):
        return OverflowTarget(kind=OverflowKind(action))
    return None


def load_flow(sessions: sessionmaker[Session], flow_id: int) -> tuple[int, dict[str, Any]] | None:
    """The published version of a flow and its definition; None when it is not published."""
    with sessions() as session:
        flow = session.get(IvrFlow, flow_id)
        if flow is None or flow.published_version is None:
            return None
        row = session.scalars(
            select(IvrFlowVersion).filter_by(flow_id=flow_id, version=flow.published_version)
        ).one_or_none()
        return None if row is None else (row.version, dict(row.definition))


def save_agent_state(sessions: sessionmaker[Session], agent_id: int, state: str) -> None:
    with sessions() as session, session.begin():
        session.execute(update(Agent).where(Agent.id == agent_id).values(state=state))


def reset_agent_states(sessions: sessionmaker[Session]) -> dict[int, str]:
    """Set every agent logged out and return those that were not (id -> the state they were left in).

    At start-up no call of a previous run exists any more, so an agent recorded as reserved, on a call or in
    wrap-up is not; and whether an available agent is still at the desk is unknown, so all log in again."""
    with sessions() as session, session.begin():
        stale = {
            a.id: a.state for a in session.scalars(select(Agent)) if a.state not in ("logged_out", "offline")
        }
        session.execute(update(Agent).values(state="logged_out"))
    return stale


def purge_recordings(sessions: sessionmaker[Session], recordings_dir: Path, cutoff: dt.datetime) -> int:
    """Delete recordings made before ``cutoff``: the file, then the row. Returns how many were deleted."""
    with sessions() as session, session.begin():
        old = list(session.scalars(select(Recording).where(Recording.created_at < cutoff)))
        for row in old:
            path = Path(row.path) if Path(row.path).is_absolute() else recordings_dir / row.path
            path.unlink(missing_ok=True)
            session.delete(row)
    return len(old)
