"""Callbacks reach the running campaign: scheduled over the API, the hopper holds the lead until its time, then
offers it first, a personal one only to its agent (preview), on a switch in memory."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from campaigns.campaign_fixtures import LeadSpec, make_campaign, zone_at_local_hour
from duplex.api.app import create_app
from duplex.auth.deps import secret_key
from duplex.auth.tokens import issue_token
from duplex.db.models import Agent, Lead, User
from duplex.dialer.types import DialMode, LeadStatus
from duplex.services.campaigns.runtime import RuntimeOptions
from duplex.services.campaigns.service import CampaignService
from duplex.stores.campaign_store import CampaignStore
from switch_env import RunningSwitch, make_settings, switch_running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[RunningSwitch]:
    async with switch_running(make_settings(tmp_path), memory=True) as running:
        yield running


async def test_a_personal_callback_waits_for_its_time_then_is_offered_first_and_only_to_its_agent(
    env: RunningSwitch,
) -> None:
    noon = zone_at_local_hour(12)
    phones = ["+12125550171", "+12125550172"]
    campaign_id, ids = make_campaign(env.sessions, [LeadSpec(phones[0], noon, priority=9), LeadSpec(phones[1], noon)],
                                     dial_mode=DialMode.PREVIEW)  # fmt: skip
    app = create_app(env.settings)
    assert env.center is not None
    service = CampaignService(env.engine, CampaignStore(env.sessions), env.center,
                              options=RuntimeOptions(tick=0.02, require_national_dnc=False))  # fmt: skip
    app.state.campaigns = service
    with app.state.sessions() as session, session.begin():
        admin = session.scalar(select(User).where(User.username == "admin"))
        agents = list(session.scalars(select(Agent.id).order_by(Agent.id)).all())
        assert admin is not None and len(agents) >= 2
        token, _ = issue_token(session, secret_key=secret_key(app.state), user_id=admin.id,
                               now=dt.datetime.now(dt.UTC), ttl_seconds=600)  # fmt: skip
    mine, other = agents[0], agents[1]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://duplex",
                                 headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip
        assert (await client.post(f"/api/v1/campaigns/{campaign_id}/start")).status_code == 200
        runtime = service.get(campaign_id)
        due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
        callback = await client.post(f"/api/v1/leads/{ids[phones[1]]}/callback",
                                     json={"at": due.isoformat(), "personal": True, "agent_id": mine})  # fmt: skip
        assert callback.status_code == 200, callback.text
        assert callback.json()["agent_id"] == mine
        await asyncio.sleep(0.1)  # the API hands the callback to the campaign's loop
        held = runtime.hopper.get(ids[phones[1]])
        assert (held.status, held.agent_id, held.next_attempt_at) == (LeadStatus.CALLBACK, mine, due)
        assert runtime.preview_next(mine).lead_id == ids[phones[0]]  # the callback is not due yet
        runtime.skip_preview(ids[phones[0]])  # lead 1 waits 5 minutes
        await asyncio.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
        assert runtime.preview_next(other) is None  # due, but another agent's
        offered = await client.post(f"/api/v1/campaigns/{campaign_id}/preview/next")
        assert offered.status_code == 404  # the admin is no agent: not theirs either
        lead = runtime.preview_next(mine)
        assert lead is not None and lead.lead_id == ids[phones[1]]
        await client.post(f"/api/v1/campaigns/{campaign_id}/stop")
    with env.sessions() as session:
        row = session.get(Lead, ids[phones[1]])
        assert row is not None and row.status is LeadStatus.CALLBACK and row.callback_agent_id == mine
