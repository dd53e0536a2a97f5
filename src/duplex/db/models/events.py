"""The event record, and outgoing webhooks that deliver it.

An event row is written once and never updated. `(node_id, seq)` is unique: each node numbers its own
events with a monotonic sequence, so several nodes can share one database without a global counter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duplex.db.base import Base, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("node_id", "seq"),
        Index("ix_events_type_ts", "type", "ts_ms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(48))  # e.g. "call.answered"
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)  # UTC milliseconds since the epoch
    call_id: Mapped[str | None] = mapped_column(String(36), index=True)
    leg_id: Mapped[str | None] = mapped_column(String(36), index=True)  # a leg's history across calls
    agent_id: Mapped[int | None] = mapped_column(index=True)
    queue_id: Mapped[int | None] = mapped_column(index=True)
    campaign_id: Mapped[int | None] = mapped_column(index=True)
    lead_id: Mapped[int | None] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(1024))
    secret: Mapped[str] = mapped_column(String(128))  # HMAC-SHA256 key for X-Duplex-Signature
    event_types: Mapped[list[str]] = mapped_column(default=list)  # empty = all; "call.*" prefixes allowed
    enabled: Mapped[bool] = mapped_column(default=True)
    max_attempts: Mapped[int] = mapped_column(default=8)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The delivery log: one row per (webhook, event), updated as attempts are made."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("webhook_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # delivered, failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_status: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
