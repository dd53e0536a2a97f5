"""Outbound: campaigns, lead lists and leads, dispositions, do-not-call and consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duplex.db.base import Base, utcnow
from duplex.dialer.types import CampaignStatus, DialMode, LeadStatus


class CallScript(Base):
    """What agents read and ask on a campaign's calls (pages, questions, branches: duplex.callscript)."""

    __tablename__ = "call_scripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)  # validated on every save
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("max_abandon_rate >= 0 AND max_abandon_rate <= 1", name="abandon_rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="telemarketing")  # survey, collection, ...
    dial_mode: Mapped[DialMode] = mapped_column(
        Enum(DialMode, native_enum=False, length=16), default=DialMode.PREVIEW
    )
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(CampaignStatus, native_enum=False, length=16), default=CampaignStatus.DRAFT
    )
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("ivr_flows.id", ondelete="SET NULL"))
    caller_id: Mapped[str | None] = mapped_column(String(32))
    script: Mapped[str] = mapped_column(Text, default="")  # free text; `script_id` is the structured script
    script_id: Mapped[int | None] = mapped_column(ForeignKey("call_scripts.id", ondelete="SET NULL"))
    lines_per_agent: Mapped[float] = mapped_column(default=1.0)  # power mode ratio / predictive ceiling
    max_abandon_rate: Mapped[float] = mapped_column(default=0.03)  # FCC 3%; Ofcom 3% per 24 h
    calling_hours_start: Mapped[str] = mapped_column(String(5), default="09:00")  # callee's local time
    calling_hours_end: Mapped[str] = mapped_column(String(5), default="20:00")
    default_timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    max_attempts: Mapped[int] = mapped_column(default=3)
    retry_delay_minutes: Mapped[int] = mapped_column(default=60)
    amd_enabled: Mapped[bool] = mapped_column(default=False)
    broadcast_prompt: Mapped[str | None] = mapped_column(String(255))
    cost_per_minute: Mapped[float] = mapped_column(default=0.0)
    lead_filter: Mapped[str | None] = mapped_column(Text)  # which leads it dials (duplex.api.lead_filter)
    manual_dial: Mapped[bool] = mapped_column(default=False)  # its agents may dial numbers by hand
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LeadList(Base):
    __tablename__ = "lead_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (UniqueConstraint("list_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lead_lists.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    first_name: Mapped[str] = mapped_column(String(64), default="")
    last_name: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(255))
    company: Mapped[str | None] = mapped_column(String(128))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA; None = derive from the number
    priority: Mapped[int] = mapped_column(default=0, index=True)  # higher is dialed first
    status: Mapped[LeadStatus] = mapped_column(
        Enum(LeadStatus, native_enum=False, length=16), default=LeadStatus.NEW, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(32))  # the last dial's: no_answer, busy, ...
    last_attempt_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    callback_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the CRM's id
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Disposition(Base):
    """A call outcome an agent (or the dialer) sets: sale, callback, not interested, wrong number..."""

    __tablename__ = "dispositions"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    is_success: Mapped[bool] = mapped_column(default=False)  # counts as a conversion
    is_final: Mapped[bool] = mapped_column(default=True)  # False: the lead is dialed again
    schedules_callback: Mapped[bool] = mapped_column(default=False)
    marks_dnc: Mapped[bool] = mapped_column(default=False)
    resolves_contact: Mapped[bool] = mapped_column(default=True)  # for first-call resolution


class DncEntry(Base):
    __tablename__ = "dnc_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)  # E.164
    source: Mapped[str] = mapped_column(String(32), default="internal")  # internal, national, request
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]


class ConsentRecord(Base):
    """Evidence that a person agreed (or withdrew agreement) to be called, kept for GDPR/TCPA proof."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(64), default="marketing")
    channel: Mapped[str] = mapped_column(String(16), default="call")
    granted: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(128), default="")  # web form, recorded call, ...
    evidence: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
