"""Compliance checks at dial time: every lead gets a `DialDecision` (dial, or skip with a reason) as an event value.

Rules (US TSR/FCC and UK Ofcom practice, see the research notes): the calling window in the callee's local time
(default 08:00-21:00, per-region overrides, holidays, Sundays), the internal DNC list, an imported national DNC list
that must be younger than `dnc_max_age` (31 days), consent per lead (scope, revocation), the campaign's abandon
rate (over its life while younger than 30 days, rolling 30 days, rolling 24 hours; estimated AMD false positives
count as abandons), and no re-call within 72 hours of an abandoned call. The callee's time zone comes from the
lead (address/postcode, when known) or from the number (`phonenumbers`); a lead whose zone is unknown or ambiguous
beyond the window is skipped, never dialed by guess.

Sans-IO: `now` is an aware datetime argument; no clock, no database.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from duplex.dialer.compliance_abandon import AbandonLedger

__all__ = [
    "CallingWindow",
    "ComplianceEngine",
    "ComplianceRules",
    "Consent",
    "DialDecision",
    "LeadToCheck",
    "NationalDncList",
    "SkipReason",
    "callee_time_zones",
]


class SkipReason(enum.StrEnum):
    INVALID_NUMBER = "invalid_number"
    NO_TIME_ZONE = "no_time_zone"
    OUTSIDE_WINDOW = "outside_window"
    SUNDAY = "sunday"
    HOLIDAY = "holiday"
    INTERNAL_DNC = "internal_dnc"
    NATIONAL_DNC = "national_dnc"
    DNC_LIST_MISSING = "dnc_list_missing"
    DNC_LIST_STALE = "dnc_list_stale"
    NO_CONSENT = "no_consent"
    CONSENT_REVOKED = "consent_revoked"
    ABANDON_LIMIT = "abandon_limit"
    RECENT_ABANDON = "recent_abandon"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallingWindow:
    start: time = time(8, 0)
    end: time = time(21, 0)  # exclusive: a call at 21:00:00 local is refused
    sundays: bool = True  # False: no calls on Sundays
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError("calling window: start must be before end")


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    source: str  # e.g. "web form 2026-03", "inbound call"
    granted_at: datetime
    scope: str = "telemarketing"
    revoked_at: datetime | None = None

    def valid_at(self, now: datetime, scope: str) -> bool:
        revoked = self.revoked_at is not None and self.revoked_at <= now
        return self.scope == scope and self.granted_at <= now and not revoked


@dataclass(frozen=True, slots=True, kw_only=True)
class NationalDncList:
    numbers: frozenset[str]  # E.164
    downloaded_at: datetime
    name: str = "national"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceRules:
    window: CallingWindow = CallingWindow()
    region_windows: Mapping[str, CallingWindow] = field(default_factory=dict)  # by lead region (e.g. "US-FL")
    dnc_max_age: timedelta = timedelta(days=31)
    require_national_dnc: bool = True
    consent_scope: str | None = None  # None: consent not required (e.g. live B2C calls where opt-out applies)
    abandon_limit: float = 0.03
    amd_false_positive: float = 0.0  # estimated P(machine verdict | human), counted as abandons
    recall_after_abandon: timedelta = timedelta(hours=72)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadToCheck:
    lead_id: int
    phone: str  # E.164
    time_zone: str | None = None  # from the address/postcode, when the import found one
    region: str | None = None
    consents: tuple[Consent, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DialDecision:
    """The event recorded for every lead checked: dial, or skip with the reason."""

    at: datetime
    campaign_id: int
    lead_id: int
    phone: str
    dial: bool
    reason: SkipReason | None = None
    detail: str = ""
    time_zones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.dial == (self.reason is not None):
            raise ValueError("a decision dials without a reason or skips with one")


def callee_time_zones(phone: str) -> tuple[str, ...]:
    """The time zones a number may ring in (`phonenumbers`); () when unknown or invalid."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = phone_timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != phone_timezone.UNKNOWN_TIMEZONE)


class ComplianceEngine:
    """Checks leads of one campaign at dial time; `check()` returns the decision to record."""

    def __init__(
        self,
        *,
        campaign_id: int,
        campaign_started: datetime,
        rules: ComplianceRules | None = None,
        internal_dnc: Iterable[str] = (),
        national_dnc: NationalDncList | None = None,
        ledger: AbandonLedger | None = None,
    ) -> None:
        self.campaign_id = campaign_id
        self.rules = rules or ComplianceRules()
        self.internal_dnc = set(internal_dnc)
        self.national_dnc = national_dnc
        self.ledger = ledger or AbandonLedger(
            campaign_started=campaign_started, amd_false_positive=self.rules.amd_false_positive
        )

    def add_internal_dnc(self, phone: str) -> None:
        """An opt-out (disposition or DTMF) takes effect for the next check."""
        self.internal_dnc.add(phone)

    def check(self, lead: LeadToCheck, now: datetime, *, paced: bool = True) -> DialDecision:
        """`paced` False: a call an agent dials by hand, who is on the line when the callee answers, so it
        cannot be abandoned by pacing; the campaign's abandon rate does not hold it (every other rule does,
        the 72 hours after an abandoned call included)."""
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        zones: tuple[str, ...] = ()
        rules = [self._number, self._dnc, self._consent, self._recent_abandon]
        if paced:
            rules.append(self._abandon_rate)
        for rule in rules:
            skipped = rule(lead, now)
            if skipped is not None:
                return self._skip(lead, now, *skipped, zones)
        zones = (lead.time_zone,) if lead.time_zone else callee_time_zones(lead.phone)
        skipped = self._window(lead, now, zones)
        if skipped is not None:
            return self._skip(lead, now, *skipped, zones)
        return DialDecision(
            at=now,
            campaign_id=self.campaign_id,
            lead_id=lead.lead_id,
            phone=lead.phone,
            dial=True,
            time_zones=zones,
        )

    def _skip(
        self, lead: LeadToCheck, now: datetime, reason: SkipReason, detail: str, zones: tuple[str, ...]
    ) -> DialDecision:
        return DialDecision(
            at=now,
            campaign_id=self.campaign_id,
            lead_id=lead.lead_id,
            phone=lead.phone,
            dial=False,
            reason=reason,
            detail=detail,
            time_zones=zones,
        )

    # -- rules: each returns None (pass) or (reason, detail) --------------------------------------------
    def _number(self, lead: LeadToCheck, now: datetime) -> tuple[SkipReason, str] | None:
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(lead.phone, None))
        except phonenumbers.NumberParseException:
            valid = False
        return None if valid else (SkipReason.INVALID_NUMBER, lead.phone)

    def _dnc(self, lead: LeadToCheck, now: datetime) -> tuple[SkipReason, str] | None:
        if lead.phone in self.internal_dnc:
            return SkipReason.INTERNAL_DNC, ""
        dnc = self.national_dnc
        if dnc is None:
            return (
                (SkipReason.DNC_LIST_MISSING, "no national list imported")
                if self.rules.require_national_dnc
                else None
            )
        age = now - dnc.downloaded_at
        if age > self.rules.dnc_max_age:
            return (
                SkipReason.DNC_LIST_STALE,
                f"{dnc.name} list downloaded {dnc.downloaded_at.isoformat()}, {age.days} days old",
            )
        if lead.phone in dnc.numbers:
            return SkipReason.NATIONAL_DNC, dnc.name
        return None

    def _consent(self, lead: LeadToCheck, now: datetime) -> tuple[SkipReason, str] | None:
        scope = self.rules.consent_scope
        if scope is None:
            return None
        if any(c.valid_at(now, scope) for c in lead.consents):
            return None
        revoked = [c.revoked_at for c in lead.consents if c.scope == scope and c.revoked_at is not None]
        past = [at for at in revoked if at is not None and at <= now]
        if past:
            return SkipReason.CONSENT_REVOKED, f"revoked {max(past).isoformat()}"
        return SkipReason.NO_CONSENT, scope

    def _recent_abandon(self, lead: LeadToCheck, now: datetime) -> tuple[SkipReason, str] | None:
        last = self.ledger.last_abandoned(lead.phone)
        if last is not None and now - last < self.rules.recall_after_abandon:
            return SkipReason.RECENT_ABANDON, f"abandoned {last.isoformat()}"
        return None

    def _abandon_rate(self, lead: LeadToCheck, now: datetime) -> tuple[SkipReason, str] | None:
        for period, rate in self.ledger.rates(now).items():
            if rate > self.rules.abandon_limit:
                return SkipReason.ABANDON_LIMIT, f"{period} {rate:.4f} > {self.rules.abandon_limit}"
        return None

    def _window(
        self, lead: LeadToCheck, now: datetime, zones: tuple[str, ...]
    ) -> tuple[SkipReason, str] | None:
        if not zones:
            return SkipReason.NO_TIME_ZONE, "neither the lead nor its number gives a time zone"
        window = self.rules.region_windows.get(lead.region or "", self.rules.window)
        # a number that may ring in several zones is called only when every one of them is inside the window
        for name in zones:
            try:
                local = now.astimezone(ZoneInfo(name))
            except (ZoneInfoNotFoundError, ValueError):
                return SkipReason.NO_TIME_ZONE, f"unknown time zone {name!r}"
            if local.date() in window.holidays:
                return SkipReason.HOLIDAY, f"{local.date().isoformat()} in {name}"
            if not window.sundays and local.weekday() == 6:
                return SkipReason.SUNDAY, name
            if not window.start <= local.time() < window.end:
                return SkipReason.OUTSIDE_WINDOW, f"{local.strftime('%Y-%m-%d %H:%M')} in {name}"
        return None
