"""Where inbound calls go: phone numbers (DIDs) -> IVR flows -> queues -> agents, and the SIP trunks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duplex.acd.types import RoutingStrategy
from duplex.db.base import Base, utcnow


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (CheckConstraint("service_level_seconds > 0", name="sl_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    strategy: Mapped[RoutingStrategy] = mapped_column(
        Enum(RoutingStrategy, native_enum=False, length=24), default=RoutingStrategy.LONGEST_IDLE
    )
    priority: Mapped[int] = mapped_column(default=0)  # higher is served first by blended agents
    service_level_seconds: Mapped[int] = mapped_column(default=20)  # the "Y" of "X% answered in Y s"
    max_wait_seconds: Mapped[int] = mapped_column(default=600)
    max_size: Mapped[int] = mapped_column(default=100)
    wrapup_seconds: Mapped[int] = mapped_column(default=10)
    # Tiered support: a call waiting longer than escalate_after_seconds moves to the overflow (2nd line) queue.
    overflow_queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    escalate_after_seconds: Mapped[int | None]
    announce_position: Mapped[bool] = mapped_column(default=True)
    music_on_hold: Mapped[str] = mapped_column(String(255), default="")
    # Which calls are recorded (stereo, caller left, agent right): all, none, percent (recording_percent of
    # the calls, drawn per call) or on_demand (started by the agent through the API).
    recording_policy: Mapped[str] = mapped_column(String(16), default="none")
    recording_percent: Mapped[int] = mapped_column(default=100)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # How long an offered agent's phone rings before agent.no_answer; then the call goes to the next agent.
    ring_timeout_seconds: Mapped[int] = mapped_column(default=15)
    # What max wait and max size do with a call: "none" (the flow's on_timeout / on_overflow), "queue" (move to
    # overflow_queue_id), "voicemail" (record a message, POSTed to voicemail_webhook) or "callback" (offer a
    # call back that keeps the caller's place).
    overflow_action: Mapped[str] = mapped_column(String(16), default="none")
    voicemail_webhook: Mapped[str] = mapped_column(String(2000), default="")

    skills: Mapped[list[QueueSkill]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class QueueSkill(Base):
    """A skill a call in this queue needs, with the lowest proficiency that may take it."""

    __tablename__ = "queue_skills"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True)
    min_proficiency: Mapped[int] = mapped_column(default=1)


class QueueMember(Base):
    """An agent explicitly serving a queue; a higher penalty is offered calls later (Asterisk's meaning)."""

    __tablename__ = "queue_members"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    penalty: Mapped[int] = mapped_column(default=0)


class IvrFlow(Base):
    __tablename__ = "ivr_flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    published_version: Mapped[int | None]  # the version calls run; None = not live yet
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[IvrFlowVersion]] = relationship(
        cascade="all, delete-orphan", order_by="IvrFlowVersion.version"
    )


class IvrFlowVersion(Base):
    """An immutable snapshot of a flow: editing makes a new version, so a running call keeps its own."""

    __tablename__ = "ivr_flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("ivr_flows.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    comment: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Trunk(Base):
    """A SIP trunk to a carrier: where outbound calls leave and inbound calls arrive from."""

    __tablename__ = "trunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(default=5060)
    transport: Mapped[str] = mapped_column(String(8), default="udp")
    username: Mapped[str | None] = mapped_column(String(128))
    password: Mapped[str | None] = mapped_column(String(128))
    register: Mapped[bool] = mapped_column(default=False)
    from_domain: Mapped[str | None] = mapped_column(String(255))
    caller_id: Mapped[str | None] = mapped_column(String(32))
    # Inbound calls from these addresses (CIDR or plain IPs) are accepted without digest auth.
    allowed_ips: Mapped[list[str]] = mapped_column(default=list)
    max_cps: Mapped[float] = mapped_column(default=5.0)
    max_channels: Mapped[int] = mapped_column(default=30)
    failover_order: Mapped[int] = mapped_column(default=0)  # lower is tried first
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PhoneNumber(Base):
    """A DID. Inbound calls to it run its flow (or go straight to its queue); tracking_source says which
    marketing channel the number was published on, so reports can credit calls to it."""

    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # E.164 or a short internal number
    description: Mapped[str] = mapped_column(String(255), default="")
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("ivr_flows.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    # Built-in apps that need no flow: "echo" (1001), "voicemail-demo" (1002).
    application: Mapped[str | None] = mapped_column(String(32))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    tracking_source: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SipRegistration(Base):
    """A phone's current contact binding; persisted so a restart keeps agents reachable."""

    __tablename__ = "sip_registrations"
    __table_args__ = (UniqueConstraint("aor", "contact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    aor: Mapped[str] = mapped_column(String(255), index=True)
    contact: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(64))  # transport:ip:port the REGISTER came from
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[dt.datetime]
    node_id: Mapped[str] = mapped_column(String(64), default="node1")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
