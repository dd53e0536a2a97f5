"""Compliance rules at dial time: each rule's edges, every decision a value with its reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from duplex.dialer.compliance import (
    CallingWindow,
    ComplianceEngine,
    ComplianceRules,
    Consent,
    DialDecision,
    LeadToCheck,
    NationalDncList,
    SkipReason,
)
from duplex.dialer.compliance_abandon import AbandonLedger

NEW_YORK = "+12125551234"
LOS_ANGELES = "+13105551234"
START = datetime(2026, 3, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def engine(rules: ComplianceRules | None = None, **kwargs: object) -> ComplianceEngine:
    national = kwargs.pop("national_dnc", NationalDncList(numbers=frozenset(), downloaded_at=utc(2026, 3, 1)))
    return ComplianceEngine(
        campaign_id=7,
        campaign_started=START,
        rules=rules,
        national_dnc=national,
        **kwargs,  # type: ignore[arg-type]
    )


def lead(phone: str = NEW_YORK, **kwargs: object) -> LeadToCheck:
    return LeadToCheck(lead_id=1, phone=phone, **kwargs)  # type: ignore[arg-type]


def reason(decision: DialDecision) -> SkipReason | None:
    return decision.reason


@pytest.mark.parametrize(
    ("phone", "now", "dial"),
    [
        # before DST (EST, UTC-5): 08:00 local = 13:00 UTC
        (NEW_YORK, utc(2026, 3, 6, 12, 59, 59), False),
        (NEW_YORK, utc(2026, 3, 6, 13, 0, 0), True),
        # after DST began on 8 March 2026 (EDT, UTC-4): 08:00 local = 12:00 UTC
        (NEW_YORK, utc(2026, 3, 9, 11, 59, 59), False),
        (NEW_YORK, utc(2026, 3, 9, 12, 0, 0), True),
        # 21:00 local is already outside: 20:59:59 EDT = 00:59:59 UTC next day
        (NEW_YORK, utc(2026, 3, 10, 0, 59, 59), True),
        (NEW_YORK, utc(2026, 3, 10, 1, 0, 0), False),
        # the same instant three hours earlier in Los Angeles (PDT, UTC-7)
        (LOS_ANGELES, utc(2026, 3, 9, 14, 59, 59), False),
        (LOS_ANGELES, utc(2026, 3, 9, 15, 0, 0), True),
        (LOS_ANGELES, utc(2026, 3, 10, 1, 0, 0), True),
        # London, after UK DST began on 29 March (BST, UTC+1)
        ("+442079460000", utc(2026, 3, 30, 6, 59, 59), False),
        ("+442079460000", utc(2026, 3, 30, 7, 0, 0), True),
    ],
)
def test_calling_window_edges_across_time_zones_and_dst(phone: str, now: datetime, dial: bool) -> None:
    decision = engine().check(lead(phone), now)
    assert decision.dial is dial
    if not dial:
        assert decision.reason is SkipReason.OUTSIDE_WINDOW


def test_lead_time_zone_wins_over_the_number() -> None:
    now = utc(2026, 3, 9, 13, 0)  # 09:00 in New York, 06:00 in Los Angeles
    assert engine().check(lead(NEW_YORK), now).dial
    moved = engine().check(lead(NEW_YORK, time_zone="America/Los_Angeles"), now)
    assert moved.reason is SkipReason.OUTSIDE_WINDOW and moved.time_zones == ("America/Los_Angeles",)


def test_lead_without_time_zone_is_skipped_with_a_reason() -> None:
    decision = engine().check(lead("+80012345678"), utc(2026, 3, 9, 16, 0))  # valid, no geography
    assert decision.reason is SkipReason.NO_TIME_ZONE and not decision.dial
    assert (
        engine().check(lead(time_zone="Mars/Olympus"), utc(2026, 3, 9, 16, 0)).reason
        is SkipReason.NO_TIME_ZONE
    )


def test_number_in_several_zones_needs_every_zone_in_window() -> None:
    toll_free = "+18005551234"  # rings anywhere from Guam to Newfoundland
    assert engine().check(lead(toll_free), utc(2026, 3, 9, 18, 0)).reason is SkipReason.OUTSIDE_WINDOW


def test_region_window_sundays_and_holidays() -> None:
    rules = ComplianceRules(
        region_windows={"US-XX": CallingWindow(start=time(9), end=time(20), sundays=False)},
        window=CallingWindow(holidays=frozenset({date(2026, 7, 3)})),
    )
    check = engine(rules).check
    assert check(lead(region="US-XX"), utc(2026, 3, 9, 12, 30)).reason is SkipReason.OUTSIDE_WINDOW  # 08:30
    assert check(lead(region="US-XX"), utc(2026, 3, 9, 13, 30)).dial
    assert check(lead(region="US-XX"), utc(2026, 3, 15, 15, 0)).reason is SkipReason.SUNDAY
    assert check(lead(), utc(2026, 3, 15, 15, 0)).dial  # default window allows Sundays
    fresh = NationalDncList(numbers=frozenset(), downloaded_at=utc(2026, 7, 1))
    summer = engine(rules, national_dnc=fresh).check
    assert summer(lead(), utc(2026, 7, 3, 15, 0)).reason is SkipReason.HOLIDAY
    assert summer(lead(), utc(2026, 7, 4, 3, 59)).reason is SkipReason.HOLIDAY  # still 3 July in New York
    assert summer(lead(), utc(2026, 7, 4, 15, 0)).dial


def test_internal_dnc_takes_effect_at_once() -> None:
    compliance = engine()
    now = utc(2026, 3, 9, 15, 0)
    assert compliance.check(lead(), now).dial
    compliance.add_internal_dnc(NEW_YORK)
    assert compliance.check(lead(), now).reason is SkipReason.INTERNAL_DNC


def test_national_dnc_and_its_age() -> None:
    listed = NationalDncList(numbers=frozenset({LOS_ANGELES}), downloaded_at=utc(2026, 3, 1, 12))
    compliance = engine(national_dnc=listed)
    assert compliance.check(lead(LOS_ANGELES), utc(2026, 3, 9, 20)).reason is SkipReason.NATIONAL_DNC
    assert compliance.check(lead(), utc(2026, 4, 1, 12)).dial  # exactly 31 days old
    stale = compliance.check(lead(), utc(2026, 4, 1, 12, 0, 1))
    assert stale.reason is SkipReason.DNC_LIST_STALE and "31 days" in stale.detail
    missing = engine(national_dnc=None).check(lead(), utc(2026, 3, 9, 15))
    assert missing.reason is SkipReason.DNC_LIST_MISSING
    assert (
        engine(ComplianceRules(require_national_dnc=False), national_dnc=None)
        .check(lead(), utc(2026, 3, 9, 15))
        .dial
    )


def test_consent_scope_and_revocation() -> None:
    rules = ComplianceRules(consent_scope="telemarketing")
    granted = Consent(source="web form", granted_at=utc(2026, 2, 1), scope="telemarketing")
    revoked = Consent(
        source="web form", granted_at=utc(2026, 2, 1), scope="telemarketing", revoked_at=utc(2026, 3, 9, 14)
    )
    other_scope = Consent(source="survey", granted_at=utc(2026, 2, 1), scope="surveys")
    check = engine(rules).check
    assert check(lead(), utc(2026, 3, 9, 15)).reason is SkipReason.NO_CONSENT
    assert check(lead(consents=(other_scope,)), utc(2026, 3, 9, 15)).reason is SkipReason.NO_CONSENT
    assert check(lead(consents=(granted,)), utc(2026, 3, 9, 15)).dial
    assert check(lead(consents=(revoked,)), utc(2026, 3, 9, 13, 59)).dial
    assert check(lead(consents=(revoked,)), utc(2026, 3, 9, 14)).reason is SkipReason.CONSENT_REVOKED


def test_recall_within_72_hours_of_an_abandon_is_refused() -> None:
    compliance = engine()
    for i in range(200):  # keep the rate low: one abandon in 200 live answers
        compliance.ledger.record(
            at=utc(2026, 3, 9, 14) + timedelta(seconds=i), phone="+12125550000", abandoned=False
        )
    compliance.ledger.record(at=utc(2026, 3, 9, 15), phone=NEW_YORK, abandoned=True)
    assert compliance.check(lead(), utc(2026, 3, 12, 14, 59, 59)).reason is SkipReason.RECENT_ABANDON
    assert compliance.check(lead(), utc(2026, 3, 12, 15)).dial
    assert compliance.check(lead(LOS_ANGELES), utc(2026, 3, 9, 20)).dial
    shorter = engine(ComplianceRules(recall_after_abandon=timedelta(hours=6)), ledger=compliance.ledger)
    assert shorter.check(lead(), utc(2026, 3, 9, 20, 59)).reason is SkipReason.RECENT_ABANDON
    assert shorter.check(lead(), utc(2026, 3, 9, 21)).dial


def test_abandon_rates_life_30_days_24_hours_with_amd_false_positives() -> None:
    ledger = AbandonLedger(campaign_started=START, amd_false_positive=0.02)
    day = utc(2026, 3, 2, 12)
    for i in range(100):  # day 1: 4 abandons in 100 live answers
        ledger.record(at=day + timedelta(seconds=i), phone="+12125550000", abandoned=i < 4)
    rates = ledger.rates(day + timedelta(hours=1))
    fp = 100 * 0.02 / 0.98
    assert rates["rolling_24h"] == pytest.approx((4 + fp) / (100 + fp))
    assert rates["campaign_life"] == rates["rolling_30d"] == rates["rolling_24h"]
    later = day + timedelta(days=2)
    for i in range(300):  # day 3: no abandon in 300 live answers
        ledger.record(at=later + timedelta(seconds=i), phone="+12125550000", abandoned=False)
    rates = ledger.rates(later + timedelta(hours=1))
    assert rates["rolling_24h"] == pytest.approx(300 * 0.02 / 0.98 / (300 + 300 * 0.02 / 0.98))
    assert rates["campaign_life"] == pytest.approx((4 + 400 * 0.02 / 0.98) / (400 + 400 * 0.02 / 0.98))
    # once the campaign is 30 days old its life no longer applies; the rolling 30 days drop day 1 after 30 days
    rates = ledger.rates(day + timedelta(days=30, hours=1))
    assert "campaign_life" not in rates
    assert rates["rolling_30d"] == pytest.approx(300 * 0.02 / 0.98 / (300 + 300 * 0.02 / 0.98))


def test_over_the_abandon_limit_stops_dialing_with_the_period() -> None:
    compliance = engine()
    now = utc(2026, 3, 9, 15)
    for i in range(100):
        compliance.ledger.record(at=now - timedelta(minutes=100 - i), phone="+12125550000", abandoned=i < 4)
    decision = compliance.check(lead(LOS_ANGELES), now)
    assert decision.reason is SkipReason.ABANDON_LIMIT and "rolling_24h" in decision.detail
    # a day later the 24-hour rate is clear but the 30-day (and campaign life) rate still holds dialing back
    later = compliance.check(lead(LOS_ANGELES), now + timedelta(hours=25))
    assert later.reason is SkipReason.ABANDON_LIMIT and "rolling_24h" not in later.detail


def test_a_hand_dialled_call_is_not_held_by_the_abandon_rate_but_by_every_other_rule() -> None:
    compliance = engine()
    now = utc(2026, 3, 9, 15)
    for i in range(100):  # 4 % abandoned in the last 24 hours: over the 3 % limit
        compliance.ledger.record(at=now - timedelta(minutes=100 - i), phone=NEW_YORK, abandoned=i < 4)
    assert compliance.check(lead(LOS_ANGELES), now).reason is SkipReason.ABANDON_LIMIT
    assert compliance.check(lead(LOS_ANGELES), now, paced=False).dial
    # the number abandoned 96 minutes ago is not called again within 72 hours, by hand either
    assert compliance.check(lead(NEW_YORK), now, paced=False).reason is SkipReason.RECENT_ABANDON
    # nor outside the callee's calling window (07:59 in Los Angeles), nor on the DNC list
    early = now - timedelta(minutes=1)
    assert compliance.check(lead(LOS_ANGELES), early, paced=False).reason is SkipReason.OUTSIDE_WINDOW
    compliance.add_internal_dnc(LOS_ANGELES)
    assert compliance.check(lead(LOS_ANGELES), now, paced=False).reason is SkipReason.INTERNAL_DNC


def test_invalid_number_and_naive_time() -> None:
    assert engine().check(lead("+15551234567"), utc(2026, 3, 9, 15)).reason is SkipReason.INVALID_NUMBER
    with pytest.raises(ValueError):
        engine().check(lead(), datetime(2026, 3, 9, 15))
    with pytest.raises(ValueError):
        DialDecision(at=START, campaign_id=1, lead_id=1, phone=NEW_YORK, dial=True, reason=SkipReason.SUNDAY)
