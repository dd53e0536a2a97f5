"""What the campaign runtime reads and writes in the database: the campaign row, its leads, the do-not-call
lists, consents and the registered agents of its queue, as immutable values (no row leaves this module)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from duplex.api.lead_filter import FilterError, parse_filter, to_sql
from duplex.db.models import Campaign, ConsentRecord, DncEntry, Event, Lead, LeadList
from duplex.dialer.compliance import Consent, NationalDncList
from duplex.dialer.types import CampaignStatus, DialMode, LeadStatus

__all__ = ["CampaignRow", "CampaignStore", "DncLists", "LeadRow", "RecordedEvent", "filter_problem"]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; every time in the database is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignRow:
    id: int
    name: str
    dial_mode: DialMode
    status: CampaignStatus
    queue_id: int | None
    trunk_id: int | None
    caller_id: str | None
    lines_per_agent: float
    max_abandon_rate: float
    calling_hours_start: str
    calling_hours_end: str
    default_timezone: str
    max_attempts: int
    retry_delay_minutes: int
    amd_enabled: bool
    broadcast_prompt: str | None
    lead_filter: str | None
    created_at: dt.datetime
    manual_dial: bool = False  # its agents may dial numbers by hand


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadRow:
    id: int
    phone: str
    timezone: str | None
    priority: int
    status: LeadStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    callback_agent_id: int | None = None  # a personal callback's agent


@dataclass(frozen=True, slots=True, kw_only=True)
class DncLists:
    internal: frozenset[str]
    national: NationalDncList | None  # None: no national list imported


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedEvent:
    type: str
    at: dt.datetime
    call_id: str | None
    lead_id: int | None
    data: dict[str, Any]


_COMPLIANCE_TYPES = ("lead.dialed", "lead.skipped", "call.outcome", "dnc.added", "campaign.pacing")


def filter_problem(lead_filter: str | None) -> str | None:
    """Why a campaign's lead filter cannot select leads, or None when it can (or there is none)."""
    if not lead_filter:
        return None
    try:
        parse_filter(lead_filter)
    except FilterError as exc:
        return str(exc)
    return None


def _lead_row(lead: Lead) -> LeadRow:
    return LeadRow(id=lead.id, phone=lead.phone, timezone=lead.timezone, priority=lead.priority,
                   status=LeadStatus(lead.status), attempts=lead.attempts, next_attempt_at=_aware(lead.next_attempt_at),
                   callback_agent_id=lead.callback_agent_id)  # fmt: skip


class CampaignStore:
    def __init__(self, sessions: Callable[[], Session]) -> None:
        self.sessions = sessions

    def campaign(self, campaign_id: int) -> CampaignRow | None:
        with self.sessions() as session:
            row = session.get(Campaign, campaign_id)
            if row is None:
                return None
            created = _aware(row.created_at)
            assert created is not None
            return CampaignRow(
                id=row.id, name=row.name, dial_mode=DialMode(row.dial_mode), status=CampaignStatus(row.status),
                queue_id=row.queue_id, trunk_id=row.trunk_id, caller_id=row.caller_id,
                lines_per_agent=row.lines_per_agent, max_abandon_rate=row.max_abandon_rate,
                calling_hours_start=row.calling_hours_start, calling_hours_end=row.calling_hours_end,
                default_timezone=row.default_timezone, max_attempts=row.max_attempts,
                retry_delay_minutes=row.retry_delay_minutes, amd_enabled=row.amd_enabled,
                broadcast_prompt=row.broadcast_prompt, lead_filter=row.lead_filter, created_at=created,
                manual_dial=row.manual_dial,
            )  # fmt: skip

    def set_status(self, campaign_id: int, status: CampaignStatus) -> None:
        with self.sessions() as session, session.begin():
            session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status=status))

    def leads(self, campaign_id: int, lead_filter: str | None = None) -> list[LeadRow]:
        """The leads of the campaign's active lists that its filter selects (`api.lead_filter`; a broken
        filter raises its `FilterError`)."""
        query = (
            select(Lead)
            .join(LeadList, Lead.list_id == LeadList.id)
            .where(LeadList.campaign_id == campaign_id, LeadList.active.is_(True))
            .order_by(Lead.id)
        )
        if lead_filter:
            query = query.where(to_sql(parse_filter(lead_filter)))
        with self.sessions() as session:
            return [_lead_row(lead) for lead in session.scalars(query)]

    def campaign_lead(
        self, campaign_id: int, *, lead_id: int | None = None, phone: str | None = None
    ) -> LeadRow | None:
        """A lead of the campaign's lists: the one named by `lead_id`, else the first with `phone` (active lists
        first); None when the campaign has no such lead."""
        query = (
            select(Lead)
            .join(LeadList, Lead.list_id == LeadList.id)
            .where(LeadList.campaign_id == campaign_id)
        )
        query = query.where(Lead.id == lead_id) if lead_id is not None else query.where(Lead.phone == phone)
        with self.sessions() as session:
            lead = session.scalars(query.order_by(LeadList.active.desc(), Lead.id).limit(1)).first()
            if lead is None:
                return None
            return _lead_row(lead)

    def dnc_sources(self, phone: str, now: dt.datetime) -> frozenset[str]:
        """The sources (internal, national, ...) of the do-not-call entries of `phone` in force at `now`."""
        query = select(DncEntry.source).where(
            DncEntry.phone == phone,
            or_(DncEntry.expires_at.is_(None), DncEntry.expires_at > now.replace(tzinfo=None)),
        )
        with self.sessions() as session:
            return frozenset(session.scalars(query))

    def update_lead(self, lead_id: int, **values: Any) -> None:
        with self.sessions() as session, session.begin():
            session.execute(update(Lead).where(Lead.id == lead_id).values(**values))

    def dnc_lists(self, now: dt.datetime) -> DncLists:
        """The internal list, and the national entries as one list dated by its newest import (entries
        expired at `now` do not count)."""
        query = select(DncEntry.phone, DncEntry.source, DncEntry.created_at).where(
            or_(DncEntry.expires_at.is_(None), DncEntry.expires_at > now.replace(tzinfo=None))
        )
        with self.sessions() as session:
            rows = list(session.execute(query))
        internal = frozenset(phone for phone, source, _ in rows if source != "national")
        national = [(phone, _aware(at)) for phone, source, at in rows if source == "national"]
        if not national:
            return DncLists(internal=internal, national=None)
        downloaded = max(at for _, at in national if at is not None)
        return DncLists(
            internal=internal,
            national=NationalDncList(numbers=frozenset(p for p, _ in national), downloaded_at=downloaded),
        )

    def add_dnc(self, phone: str, *, reason: str) -> int | None:
        """Add `phone` to the internal list at once; None when it was already there."""
        with self.sessions() as session, session.begin():
            if session.scalar(select(DncEntry.id).where(DncEntry.phone == phone)) is not None:
                return None
            entry = DncEntry(phone=phone, source="internal", reason=reason)
            session.add(entry)
            session.flush()
            return entry.id

    def consents(self, phones: Iterable[str]) -> dict[str, tuple[Consent, ...]]:
        """Consent records by phone; a withdrawal (granted False) revokes the grants of its purpose before it."""
        wanted = set(phones)
        with self.sessions() as session:
            rows = list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.recorded_at)))
        grants: dict[str, list[Consent]] = {}
        for row in rows:
            if row.phone not in wanted:
                continue
            at = _aware(row.recorded_at)
            assert at is not None
            kept = grants.setdefault(row.phone, [])
            if row.granted:
                kept.append(Consent(source=row.source, granted_at=at, scope=row.purpose))
            else:
                kept[:] = [
                    Consent(source=c.source, granted_at=c.granted_at, scope=c.scope, revoked_at=at)
                    if c.scope == row.purpose and c.revoked_at is None
                    else c
                    for c in kept
                ]
        return {phone: tuple(found) for phone, found in grants.items()}

    def events(self, campaign_id: int) -> list[RecordedEvent]:
        """The campaign's dial decisions and outcomes from the event record, in order."""
        query = (
            select(Event)
            .where(Event.campaign_id == campaign_id, Event.type.in_(_COMPLIANCE_TYPES))
            .order_by(Event.id)
        )
        with self.sessions() as session:
            return [
                RecordedEvent(
                    type=e.type,
                    at=dt.datetime.fromtimestamp(e.ts_ms / 1000, dt.UTC),
                    call_id=e.call_id,
                    lead_id=e.lead_id,
                    data=dict(e.data),
                )  # fmt: skip
                for e in session.scalars(query)
            ]

    def bridged_calls(self, call_ids: Iterable[str]) -> set[str]:
        """Which of these calls reached an agent (`call.bridged`)."""
        wanted = list(call_ids)
        found: set[str] = set()
        with self.sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(Event.call_id).where(Event.type == "call.bridged", Event.call_id.in_(chunk))
                found.update(c for c in session.scalars(query) if c is not None)
        return found

    def live_answers(self, campaign_id: int) -> list[tuple[dt.datetime, str, bool]]:
        """Every person answered, in time order, with the phone and whether the call was abandoned (no
        agent took it): the abandon ledger's input, rebuilt from the record."""
        events = self.events(campaign_id)
        phones = {e.call_id: str(e.data.get("phone")) for e in events if e.type == "lead.dialed"}
        humans = [
            e for e in events if e.type == "call.outcome" and e.data.get("outcome") in ("human", "not_sure")
        ]
        bridged = self.bridged_calls(e.call_id for e in humans if e.call_id)
        return [(e.at, phones.get(e.call_id, ""), e.call_id not in bridged) for e in humans]

    def national_imports(self) -> list[dt.datetime]:
        """When national do-not-call entries were imported, oldest first."""
        query = select(DncEntry.created_at).where(DncEntry.source == "national").order_by(DncEntry.created_at)
        with self.sessions() as session:
            return [at for at in (_aware(x) for x in session.scalars(query)) if at is not None]

    def lead_zones(self, lead_ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
        """Phone and stored time zone of these leads."""
        wanted = list(set(lead_ids))
        with self.sessions() as session:
            rows = session.execute(select(Lead.id, Lead.phone, Lead.timezone).where(Lead.id.in_(wanted)))
            return {lead_id: (phone, zone) for lead_id, phone, zone in rows}
