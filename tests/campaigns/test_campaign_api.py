"""The campaign control API (start, pause, stop, preview) and the compliance report, on a switch in memory."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from campaigns.campaign_fixtures import LeadSpec, make_campaign, zone_at_local_hour
from duplex.api.app import create_app
from duplex.auth.deps import secret_key
from duplex.auth.tokens import issue_token
from duplex.db.models import Call as CallRow
from duplex.db.models import Campaign, Disposition, DncEntry, Event, User
from duplex.dialer.types import CampaignStatus, DialMode
from duplex.services.campaigns.runtime import RuntimeOptions
from duplex.services.campaigns.service import CampaignService
from duplex.stores.campaign_store import CampaignStore
from switch_env import RunningSwitch, make_settings, switch_running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[RunningSwitch]:
    async with switch_running(make_settings(tmp_path), memory=True) as running:
        yield running


def _client(env: RunningSwitch, *, with_service: bool = True) -> tuple[httpx.AsyncClient, CampaignService]:
    app = create_app(env.settings)
    assert env.center is not None
    service = CampaignService(env.engine, CampaignStore(env.sessions), env.center,
                              options=RuntimeOptions(tick=0.02, require_national_dnc=False))  # fmt: skip
    if with_service:
        app.state.campaigns = service
    with app.state.sessions() as session, session.begin():
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        token, _ = issue_token(session, secret_key=secret_key(app.state), user_id=admin.id,
                               now=dt.datetime.now(dt.UTC), ttl_seconds=600)  # fmt: skip
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://duplex",
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return client, service


async def test_start_pause_stop_and_the_compliance_report(env: RunningSwitch) -> None:
    noon = zone_at_local_hour(12)
    campaign_id, _ = make_campaign(
        env.sessions, [LeadSpec("+12125550151", noon), LeadSpec("+12125550152", None)]
    )
    client, service = _client(env)
    async with client:
        response = await client.post(f"/api/v1/campaigns/{campaign_id}/start")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "running"
        runtime = service.get(campaign_id)
        for _ in range(200):
            if runtime.decisions.total() >= 1:
                break
            await asyncio.sleep(0.02)
        assert (await client.post(f"/api/v1/campaigns/{campaign_id}/pause")).json()["status"] == "paused"
        assert (await client.post(f"/api/v1/campaigns/{campaign_id}/stop")).json()["status"] == "finished"
        assert (await client.post("/api/v1/campaigns/999999/start")).status_code == 404
        await env.engine.store.flush()
        report = (await client.get(f"/api/v1/campaigns/{campaign_id}/compliance")).json()
        assert report["dials"] == 1 and report["window_violations"] == 0
        assert report["dial_checks"][0]["phone"] == "+12125550151"
        assert set(report["abandon_rates"]) == {"campaign_life", "rolling_30d", "rolling_24h"}
        response = await client.get(f"/api/v1/campaigns/{campaign_id}/compliance", params={"format": "csv"})
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert ["summary", "dials", "1"] == rows[1 + [r[1] for r in rows[1:]].index("dials")][:3]
        assert any(r[0] == "dial" and r[2] == "+12125550151" for r in rows)
    with env.sessions() as session:
        changes = [e.data for e in session.scalars(select(Event).where(
            Event.type == "campaign.status_changed", Event.campaign_id == campaign_id).order_by(Event.id))]  # fmt: skip
        status = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    assert changes == [{"from": "draft", "to": "running"}, {"from": "running", "to": "paused"},
                       {"from": "paused", "to": "finished"}]  # fmt: skip
    assert status == CampaignStatus.FINISHED


async def test_preview_mode_dials_only_what_the_agent_accepts(env: RunningSwitch) -> None:
    noon = zone_at_local_hour(12)
    phones = ["+12125550161", "+12125550162"]
    campaign_id, ids = make_campaign(env.sessions, [LeadSpec(p, noon, priority=9 - i) for i, p in enumerate(phones)],
                                     dial_mode=DialMode.PREVIEW)  # fmt: skip
    client, service = _client(env)
    async with client:
        assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
        await asyncio.sleep(0.2)
        assert service.get(campaign_id).decisions.total() == 0  # preview: nothing dials by itself
        offered = (await client.post(f"/api/v1/campaigns/{campaign_id}/preview/next")).json()
        assert offered["phone"] == phones[0]
        skip = await client.post(f"/api/v1/campaigns/{campaign_id}/preview/{offered['lead_id']}/skip")
        assert skip.json() == {"lead_id": ids[phones[0]], "dialed": False, "call_id": None}
        offered = (await client.post(f"/api/v1/campaigns/{campaign_id}/preview/next")).json()
        assert offered["phone"] == phones[1]  # the skipped lead waits
        accept = await client.post(f"/api/v1/campaigns/{campaign_id}/preview/{offered['lead_id']}/accept")
        assert accept.json()["dialed"] is True
        assert accept.json()["call_id"] == service.get(campaign_id).in_flight[offered["lead_id"]].call.id
        assert service.get(campaign_id).decisions["dialed"] == 1
        await client.post(f"/api/v1/campaigns/{campaign_id}/stop")


async def test_a_node_without_a_switch_refuses_to_dial(env: RunningSwitch) -> None:
    client, _ = _client(env, with_service=False)
    async with client:
        assert (await client.post("/api/v1/campaigns/1/start")).status_code == 409


@pytest.mark.parametrize(
    ("values", "key"),
    [({"calling_hours_start": "20:00", "calling_hours_end": "09:00"}, "calling_hours_start"),
     ({"trunk_id": None}, "trunk_id"), ({"broadcast_prompt": None}, "broadcast_prompt"),
     ({"lead_filter": "priority >>> 3"}, "lead_filter")],
)  # fmt: skip
async def test_a_broken_campaign_is_refused_naming_the_key(env: RunningSwitch, values: dict[str, object],
                                                           key: str) -> None:  # fmt: skip
    campaign_id, _ = make_campaign(env.sessions, [LeadSpec("+12125550191", zone_at_local_hour(12))], **values)
    client, service = _client(env)
    async with client:
        response = await client.post(f"/api/v1/campaigns/{campaign_id}/start")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["campaign", key]
    assert campaign_id not in service.runtimes


async def test_opt_out_disposition_puts_the_number_on_the_dnc_list_at_once(env: RunningSwitch) -> None:
    phone = "+12125550181"
    campaign_id, ids = make_campaign(env.sessions, [LeadSpec(phone, zone_at_local_hour(3))])  # not dialed now
    with env.sessions() as session, session.begin():
        disposition = Disposition(code="OPTOUT", label="Do not call", campaign_id=campaign_id, marks_dnc=True)
        session.add(disposition)
        session.add(CallRow(id="c0ffee00-0000-4000-8000-000000000001", direction="outbound", to_number=phone,
                            campaign_id=campaign_id, lead_id=ids[phone]))  # fmt: skip
        session.flush()
        disposition_id = disposition.id
    client, service = _client(env)
    async with client:
        assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
        runtime = service.get(campaign_id)
        assert phone not in runtime.compliance.internal_dnc
        response = await client.post("/api/v1/calls/c0ffee00-0000-4000-8000-000000000001/disposition",
                                     json={"disposition_id": disposition_id})  # fmt: skip
        assert response.status_code == 200, response.text
        assert phone in runtime.compliance.internal_dnc  # the running campaign knows at once
        await client.post(f"/api/v1/campaigns/{campaign_id}/stop")
    with env.sessions() as session:
        entry = session.scalar(select(DncEntry).where(DncEntry.phone == phone))
        added = session.scalar(select(Event).where(Event.type == "dnc.added"))
    assert entry is not None and entry.source == "internal"
    assert added is not None and added.data == {"phone": phone, "id": entry.id, "source": "disposition"}
