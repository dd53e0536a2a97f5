"""Campaign rows for the runtime tests: a campaign on the demo trunk, its leads, DNC entries and consents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from duplex.db.models import Campaign, ConsentRecord, DncEntry, Lead, LeadList, Trunk
from duplex.dialer.types import CampaignStatus, DialMode


@dataclass(frozen=True, slots=True)
class LeadSpec:
    phone: str
    timezone: str | None = "America/New_York"
    priority: int = 0


def make_campaign(sessions: Any, leads: list[LeadSpec], **values: Any) -> tuple[int, dict[str, int]]:
    """A campaign on the demo trunk with one active list of `leads`; returns its id and the lead ids by phone."""
    with sessions() as session, session.begin():
        trunk = session.scalar(select(Trunk).where(Trunk.name == "demo-carrier"))
        assert trunk is not None
        fields: dict[str, Any] = {"name": f"test-{dt.datetime.now().timestamp()}", "status": CampaignStatus.DRAFT,
                                  "dial_mode": DialMode.AGENTLESS, "trunk_id": trunk.id, "caller_id": "+12125550100",
                                  "calling_hours_start": "08:00", "calling_hours_end": "21:00",
                                  "max_attempts": 3, "amd_enabled": False,
                                  "broadcast_prompt": "This is a test call."}  # fmt: skip
        campaign = Campaign(**(fields | values))
        session.add(campaign)
        session.flush()
        lead_list = LeadList(name="list", campaign_id=campaign.id)
        session.add(lead_list)
        session.flush()
        rows = [
            Lead(list_id=lead_list.id, phone=s.phone, timezone=s.timezone, priority=s.priority) for s in leads
        ]
        session.add_all(rows)
        session.flush()
        return campaign.id, {row.phone: row.id for row in rows}


def add_dnc(sessions: Any, phone: str, *, source: str = "internal", at: dt.datetime | None = None) -> None:
    with sessions() as session, session.begin():
        entry = DncEntry(phone=phone, source=source)
        if at is not None:
            entry.created_at = at.replace(tzinfo=None)
        session.add(entry)


def add_consent(
    sessions: Any, phone: str, *, granted: bool, at: dt.datetime, purpose: str = "marketing"
) -> None:
    with sessions() as session, session.begin():
        session.add(ConsentRecord(phone=phone, granted=granted, purpose=purpose, source="web form",
                                  recorded_at=at.replace(tzinfo=None)))  # fmt: skip


def zone_at_local_hour(hour: int, now: dt.datetime | None = None) -> str:
    """A fixed-offset zone where it is `hour` o'clock now (Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3)."""
    utc_hour = (now or dt.datetime.now(dt.UTC)).hour
    offset = (hour - utc_hour + 12) % 24 - 12  # in [-12, 11]
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{-offset:+d}"
