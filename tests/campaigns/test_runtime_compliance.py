"""Each compliance rule at the service level: a campaign runtime on a switch (SIP in memory) with its leads
in the database; what it dialed and skipped is read back from the event record."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.campaign_fixtures import LeadSpec, add_consent, add_dnc, make_campaign, zone_at_local_hour
from duplex.db.models import Event, Lead
from duplex.dialer.types import LeadStatus
from duplex.reports.compliance import compliance_report, report_csv
from duplex.services.campaigns.acd_pool import AcdAgentPool
from duplex.services.campaigns.runtime import CampaignRuntime, RuntimeOptions
from duplex.stores.campaign_store import CampaignStore
from switch_env import RunningSwitch, make_settings, switch_running

EngineEnv = RunningSwitch

pytestmark = pytest.mark.timeout(60)

NOW = dt.datetime.now(dt.UTC)
NOON = zone_at_local_hour(12, NOW)
NIGHT = zone_at_local_hour(3, NOW)


@pytest.fixture
async def memory_env(tmp_path: Path) -> AsyncIterator[EngineEnv]:
    """A switch with SIP in memory; the campaigns' INVITEs go out to a carrier address nobody answers."""
    async with switch_running(make_settings(tmp_path), memory=True) as env:
        yield env


def _options(**values: Any) -> RuntimeOptions:
    base: dict[str, Any] = {"tick": 0.02, "require_national_dnc": False, "amd_false_positive": 0.0}
    return RuntimeOptions(**(base | values))


async def _run(env: EngineEnv, campaign_id: int, options: RuntimeOptions,
               answers: Sequence[tuple[dt.datetime, str, bool]] = (), *, decisions: int = 0) -> dict[str, list[Event]]:  # fmt: skip
    """Run the campaign until it made `decisions` dial decisions, then a moment more in which it must make no
    other (its calls go nowhere: only the decisions count here)."""
    store = CampaignStore(env.sessions)
    campaign = store.campaign(campaign_id)
    assert campaign is not None
    assert env.center is not None  # its agents are all logged out: these campaigns connect nobody
    runtime = CampaignRuntime(env.engine, store, campaign, AcdAgentPool(env.center, campaign), options=options,
                              answers=answers)  # fmt: skip
    await runtime.start()
    for _ in range(500):
        if runtime.decisions.total() >= decisions:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    await runtime.stop()
    await env.engine.store.flush()
    with env.sessions() as session:
        rows = session.scalars(select(Event).where(Event.campaign_id == campaign_id).order_by(Event.id))
        events: dict[str, list[Event]] = {}
        for row in rows:
            events.setdefault(row.type, []).append(row)
    return events


def _dialed(events: dict[str, list[Event]]) -> set[str]:
    return {e.data["phone"] for e in events.get("lead.dialed", [])}


def _skips(events: dict[str, list[Event]], ids: dict[str, int]) -> dict[str, str]:
    phones = {lead_id: phone for phone, lead_id in ids.items()}
    return {phones[e.lead_id]: e.data["reason"] for e in events.get("lead.skipped", []) if e.lead_id}


async def test_dnc_and_out_of_window_leads_are_never_dialed(memory_env: EngineEnv) -> None:
    ok, internal, national, night = "+12125550101", "+12125550102", "+12125550103", "+12125550104"
    campaign_id, ids = make_campaign(memory_env.sessions, [LeadSpec(ok, NOON), LeadSpec(internal, NOON),
                                                           LeadSpec(national, NOON), LeadSpec(night, NIGHT)])  # fmt: skip
    add_dnc(memory_env.sessions, internal)
    add_dnc(memory_env.sessions, national, source="national", at=NOW - dt.timedelta(days=2))
    events = await _run(memory_env, campaign_id, _options(require_national_dnc=True), decisions=3)
    assert _dialed(events) == {ok}
    assert _skips(events, ids) == {internal: "dnc", national: "dnc"}
    with memory_env.sessions() as session:
        statuses = {
            lead.phone: lead.status for lead in session.scalars(select(Lead).where(Lead.id.in_(ids.values())))
        }
    assert statuses[internal] == statuses[national] == LeadStatus.DNC
    assert statuses[night] == LeadStatus.NEW  # not offered at 03:00 local: it waits for its window

    store = CampaignStore(memory_env.sessions)
    campaign = store.campaign(campaign_id)
    assert campaign is not None
    report = compliance_report(store, campaign, now=dt.datetime.now(dt.UTC))
    assert report.dials == 1 and report.window_violations == 0
    assert report.skips_by_reason == {"dnc": 2}
    age = report.dial_checks[0].dnc_list_age_days
    assert age is not None and 1.9 < age < 2.1
    assert "dial," in report_csv(report) and "skip,dnc,2" in report_csv(report)


async def test_night_lead_is_dialed_once_its_window_opens(memory_env: EngineEnv) -> None:
    night = "+12125550104"
    campaign_id, _ = make_campaign(memory_env.sessions, [LeadSpec(night, NIGHT)])
    events = await _run(memory_env, campaign_id, _options())
    assert _dialed(events) == set()
    later = NOW + dt.timedelta(hours=7)  # 10:00 in the lead's zone
    events = await _run(memory_env, campaign_id, _options(clock=lambda: later), decisions=1)
    assert _dialed(events) == {night}


@pytest.mark.parametrize("imported_days_ago", [40, None])
async def test_stale_or_missing_national_list_skips_every_lead(
    memory_env: EngineEnv, imported_days_ago: int | None
) -> None:
    leads = ["+12125550111", "+12125550112"]
    campaign_id, ids = make_campaign(memory_env.sessions, [LeadSpec(p, NOON) for p in leads])
    if imported_days_ago is not None:
        add_dnc(memory_env.sessions, "+12125550199", source="national",
                at=NOW - dt.timedelta(days=imported_days_ago))  # fmt: skip
    events = await _run(memory_env, campaign_id, _options(require_national_dnc=True), decisions=2)
    assert _dialed(events) == set()
    assert set(_skips(events, ids).values()) == {"dnc_list_stale"}
    details = {e.data["detail"] for e in events["lead.skipped"]}
    assert any(("40 days old" if imported_days_ago else "no national list") in d for d in details)


async def test_consent_is_checked_and_a_withdrawal_revokes_it(memory_env: EngineEnv) -> None:
    granted, revoked, never = "+12125550121", "+12125550122", "+12125550123"
    campaign_id, ids = make_campaign(
        memory_env.sessions, [LeadSpec(p, NOON) for p in (granted, revoked, never)]
    )
    add_consent(memory_env.sessions, granted, granted=True, at=NOW - dt.timedelta(days=3))
    add_consent(memory_env.sessions, revoked, granted=True, at=NOW - dt.timedelta(days=3))
    add_consent(memory_env.sessions, revoked, granted=False, at=NOW - dt.timedelta(days=1))
    events = await _run(memory_env, campaign_id, _options(consent_scope="marketing"), decisions=3)
    assert _dialed(events) == {granted}
    assert _skips(events, ids) == {revoked: "consent_revoked", never: "no_consent"}


def _answers(total: int, abandoned_phone: str, *, hours_ago: float) -> list[tuple[dt.datetime, str, bool]]:
    """`total` live answers in the last hours, the last one (`abandoned_phone`) abandoned."""
    start = NOW - dt.timedelta(hours=hours_ago + 1)
    rows = [(start + dt.timedelta(seconds=i), f"+1646555{i:04d}", False) for i in range(total - 1)]
    return [*rows, (NOW - dt.timedelta(hours=hours_ago), abandoned_phone, True)]


async def test_no_recall_within_72_hours_of_an_abandoned_call(memory_env: EngineEnv) -> None:
    abandoned, fresh = "+12125550131", "+12125550132"
    campaign_id, ids = make_campaign(memory_env.sessions, [LeadSpec(p, NOON) for p in (abandoned, fresh)])
    # 1 abandon in 100 live answers (1%), with a 2% AMD false-positive estimate: 2.98%, under the 3% limit
    answers = _answers(100, abandoned, hours_ago=10)
    events = await _run(memory_env, campaign_id, _options(amd_false_positive=0.02), answers, decisions=2)
    assert _dialed(events) == {fresh}
    assert _skips(events, ids) == {abandoned: "recent_abandon"}


@pytest.mark.parametrize(("total", "false_positive"), [(10, 0.0), (100, 0.03)])
async def test_abandon_limit_holds_every_dial(
    memory_env: EngineEnv, total: int, false_positive: float
) -> None:
    """10% abandoned; or 1% abandoned plus a 3% AMD false-positive estimate (3.97%): both over 3%."""
    campaign_id, _ = make_campaign(memory_env.sessions, [LeadSpec("+12125550141", NOON)])
    answers = _answers(total, "+16465559999", hours_ago=1)
    events = await _run(memory_env, campaign_id, _options(amd_false_positive=false_positive), answers)
    assert _dialed(events) == set()
    (pacing,) = events["campaign.pacing"]
    assert pacing.data["lines_per_agent"] == 0.0 and pacing.data["abandon_rate"] > 0.03


async def test_the_campaign_dials_only_the_leads_its_filter_selects(memory_env: EngineEnv) -> None:
    high, low = "+12125550201", "+12125550202"
    campaign_id, _ = make_campaign(memory_env.sessions, [LeadSpec(high, NOON, priority=7), LeadSpec(low, NOON)],
                                   lead_filter="priority >= 5")  # fmt: skip
    events = await _run(memory_env, campaign_id, _options(), decisions=1)
    assert _dialed(events) == {high}
