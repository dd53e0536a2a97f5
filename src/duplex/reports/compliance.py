"""A campaign's compliance report, derived from the event record alone (what the dialer decided and what
the calls reached), so it proves the rules afterwards rather than repeating what the dialer believed.

Dials and skips by reason; abandon rates (over the campaign's life while it is younger than 30 days,
rolling 30 days, rolling 24 hours, estimated AMD false positives counted as abandons) from the abandon ledger
fed the record's live answers; calling-window violations (each dial's callee-local time checked again
against the campaign's hours: must be zero); the national do-not-call list's age at each dial.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from duplex.dialer.compliance import callee_time_zones
from duplex.dialer.compliance_abandon import AbandonLedger
from duplex.stores.campaign_store import CampaignRow, CampaignStore

__all__ = ["ComplianceReport", "DialCheck", "compliance_report", "report_csv"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DialCheck:
    lead_id: int | None
    call_id: str | None
    at: str  # UTC, ISO 8601
    phone: str
    local_times: tuple[str, ...]  # the callee-local time in each zone the lead may be in
    in_window: bool
    dnc_list_age_days: float | None  # None: no national list imported before the dial


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceReport:
    campaign_id: int
    generated_at: str
    dials: int
    skips_by_reason: dict[str, int]
    outcomes: dict[str, int]
    live_answers: int
    abandoned: int
    amd_false_positive: float
    abandon_rates: dict[str, float]  # campaign_life (while < 30 days), rolling_30d, rolling_24h
    window_violations: int
    dnc_added: int
    dial_checks: tuple[DialCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dial_check(campaign: CampaignRow, at: dt.datetime, phone: str, zone: str | None, lead_id: int | None,
                call_id: str | None, imports: list[dt.datetime]) -> DialCheck:  # fmt: skip
    start = dt.time.fromisoformat(campaign.calling_hours_start)
    end = dt.time.fromisoformat(campaign.calling_hours_end)
    zones = (zone,) if zone else callee_time_zones(phone)
    try:
        local = [at.astimezone(ZoneInfo(z)) for z in zones]
    except (ZoneInfoNotFoundError, ValueError):  # a zone nobody can check counts as a violation
        zones, local = (), []
    in_window = bool(local) and all(start <= t.time() < end for t in local)
    before = [d for d in imports if d <= at]
    age = (at - max(before)).total_seconds() / 86400 if before else None
    return DialCheck(lead_id=lead_id, call_id=call_id, at=at.isoformat(), phone=phone,
                     local_times=tuple(f"{t:%Y-%m-%d %H:%M} {z}" for t, z in zip(local, zones, strict=True)),
                     in_window=in_window, dnc_list_age_days=None if age is None else round(age, 3))  # fmt: skip


def compliance_report(store: CampaignStore, campaign: CampaignRow, *, now: dt.datetime,
                      amd_false_positive: float = 0.02) -> ComplianceReport:  # fmt: skip
    events = store.events(campaign.id)
    dialed = [e for e in events if e.type == "lead.dialed"]
    zones = store.lead_zones(e.lead_id for e in dialed if e.lead_id is not None)
    imports = store.national_imports()
    checks = tuple(
        _dial_check(
            campaign,
            e.at,
            str(e.data.get("phone")),
            zones.get(e.lead_id or -1, ("", None))[1],
            e.lead_id,
            e.call_id,
            imports,
        )  # fmt: skip
        for e in dialed
    )
    ledger = AbandonLedger(campaign_started=campaign.created_at, amd_false_positive=amd_false_positive)
    answers = store.live_answers(campaign.id)
    for at, phone, abandoned in answers:
        ledger.record(at=at, phone=phone, abandoned=abandoned)
    return ComplianceReport(
        campaign_id=campaign.id, generated_at=now.isoformat(), dials=len(dialed),
        skips_by_reason=dict(Counter(str(e.data.get("reason")) for e in events if e.type == "lead.skipped")),
        outcomes=dict(Counter(str(e.data.get("outcome")) for e in events if e.type == "call.outcome")),
        live_answers=len(answers), abandoned=sum(1 for *_, a in answers if a),
        amd_false_positive=amd_false_positive,
        abandon_rates={k: round(v, 6) for k, v in ledger.rates(now).items()},
        window_violations=sum(1 for c in checks if not c.in_window),
        dnc_added=sum(1 for e in events if e.type == "dnc.added"), dial_checks=checks,
    )  # fmt: skip


def report_csv(report: ComplianceReport) -> str:
    """The summary as `section,key,value` rows, then one `dial` row per dial."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value", "at", "local_times", "in_window", "dnc_list_age_days"])
    for key in ("campaign_id", "generated_at", "dials", "live_answers", "abandoned", "amd_false_positive",
                "window_violations", "dnc_added"):  # fmt: skip
        writer.writerow(["summary", key, getattr(report, key)])
    for name, rows in (("skip", report.skips_by_reason), ("outcome", report.outcomes),
                       ("abandon_rate", report.abandon_rates)):  # fmt: skip
        for key, value in sorted(rows.items()):
            writer.writerow([name, key, value])
    for check in report.dial_checks:
        writer.writerow(["dial", check.lead_id, check.phone, check.at, " | ".join(check.local_times),
                         check.in_window, "" if check.dnc_list_age_days is None else check.dnc_list_age_days])  # fmt: skip
    return out.getvalue()
