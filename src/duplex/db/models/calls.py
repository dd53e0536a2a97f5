"""Calls, their legs and recordings. These rows are projections of the event record (events.py): they can
be rebuilt from it, and reports read them for speed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duplex.db.base import Base, utcnow


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID, unique across nodes
    direction: Mapped[str] = mapped_column(String(10), index=True)  # inbound, outbound, internal
    state: Mapped[str] = mapped_column(String(16), default="created")  # created, ringing, answered, ended
    # indexed: the screen pop finds a caller's previous calls by number (bench/screen_pop.py)
    from_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    to_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    phone_number_id: Mapped[int | None] = mapped_column(ForeignKey("phone_numbers.id", ondelete="SET NULL"))
    tracking_source: Mapped[str | None] = mapped_column(String(64))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    queued_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]  # by Duplex (IVR) or the callee
    agent_answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))  # caller_hangup, agent_hangup, abandoned, ...
    outcome: Mapped[str | None] = mapped_column(String(16))  # human, voicemail, busy, no_answer, failed
    disposition_id: Mapped[int | None] = mapped_column(ForeignKey("dispositions.id", ondelete="SET NULL"))
    disposition_notes: Mapped[str] = mapped_column(Text, default="")
    revenue: Mapped[float | None]
    transfers: Mapped[int] = mapped_column(default=0)
    csat: Mapped[int | None]  # 1..5 from a post-call survey
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # IVR inputs, CRM fields

    legs: Mapped[list[CallLeg]] = relationship(cascade="all, delete-orphan", order_by="CallLeg.started_at")


class CallLeg(Base):
    """One SIP dialog of a call: the caller, the agent, a transfer target, a supervisor listening."""

    __tablename__ = "call_legs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # caller, agent, outbound, transfer, monitor
    sip_call_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    remote_uri: Mapped[str] = mapped_column(String(255), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    codec: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    sip_status: Mapped[int | None]
    # RTCP-derived quality, for the call-quality KPI.
    packets_lost: Mapped[int | None]
    jitter_ms: Mapped[float | None]
    mos: Mapped[float | None]


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg_id: Mapped[str | None] = mapped_column(ForeignKey("call_legs.id", ondelete="SET NULL"))
    path: Mapped[str] = mapped_column(String(512))  # relative to data_dir/recordings
    format: Mapped[str] = mapped_column(String(16), default="wav")
    channels: Mapped[int] = mapped_column(default=1)  # 2 = stereo caller/agent
    duration_ms: Mapped[int] = mapped_column(default=0)
    size_bytes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # For a recordings search that shows each recording's call: one more query per page, not one per row.
    call: Mapped[Call] = relationship(lazy="selectin", viewonly=True)
