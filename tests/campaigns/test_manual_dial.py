"""Manual dial over the API, on a switch in memory: an agent of a campaign that allows it dials a number by hand
under the campaign's rules (the lead tied, `lead.dialed` with mode manual, the lead's attempt counted); refused
where the campaign or the agent may not (403, 409) and where a compliance rule says no (422 at the phone, with
the rule)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from campaigns.campaign_fixtures import LeadSpec, add_dnc, make_campaign, zone_at_local_hour
from duplex.acd import AgentState
from duplex.api.app import create_app
from duplex.auth.deps import secret_key
from duplex.auth.tokens import issue_token
from duplex.db.models import Agent, Event, Lead, Queue, User
from duplex.dialer.types import DialMode
from duplex.services.campaigns.runtime import RuntimeOptions
from duplex.services.campaigns.service import CampaignService
from duplex.stores.campaign_store import CampaignStore
from switch_env import RunningSwitch, make_settings, switch_running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[RunningSwitch]:
    async with switch_running(make_settings(tmp_path), memory=True) as running:
        yield running


class Desk:
    """The API as a user sees it (`as_user`), the node's campaign service, and the demo agents' ids."""

    def __init__(self, env: RunningSwitch) -> None:
        self.env = env
        self.app = create_app(env.settings)
        assert env.center is not None
        self.service = CampaignService(env.engine, CampaignStore(env.sessions), env.center,
                                       options=RuntimeOptions(tick=0.02, require_national_dnc=False))  # fmt: skip
        self.app.state.campaigns = self.service
        with env.sessions() as session:
            self.agents = {a.sip_username: a.id for a in session.scalars(select(Agent))}
            self.sales = session.scalar(select(Queue.id).where(Queue.name == "sales"))

    def as_user(self, username: str) -> httpx.AsyncClient:
        with self.app.state.sessions() as session, session.begin():
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            token, _ = issue_token(session, secret_key=secret_key(self.app.state), user_id=user.id,
                                   now=dt.datetime.now(dt.UTC), ttl_seconds=600)  # fmt: skip
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://duplex",
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    def campaign(self, leads: list[LeadSpec], **values: Any) -> tuple[int, dict[str, int]]:
        values = {"dial_mode": DialMode.PREVIEW, "queue_id": self.sales, "manual_dial": True} | values
        return make_campaign(self.env.sessions, leads, **values)

    async def start(self, campaign_id: int) -> None:
        async with self.as_user("admin") as admin:
            response = await admin.post(f"/api/v1/campaigns/{campaign_id}/start")
            assert response.status_code == 200, response.text

    def available(self, username: str) -> None:
        assert self.env.center is not None
        self.env.center.set_state(self.agents[username], "available")

    async def events(self, type_: str, campaign_id: int) -> list[Event]:
        await self.env.engine.store.flush()
        return [e for e in self.env.events(type_) if e.campaign_id == campaign_id]


async def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.05)


def _lead(env: RunningSwitch, lead_id: int) -> Lead:
    with env.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def test_an_agent_dials_by_hand_as_an_attempt_of_the_lead_with_that_number(env: RunningSwitch) -> None:
    desk = Desk(env)
    phone = "+12125550141"
    campaign_id, ids = desk.campaign([LeadSpec(phone, zone_at_local_hour(12))])
    # the carrier is the switch itself: it refuses the number at once
    env.set_trunk(port=env.port, max_cps=50.0)
    await env.engine.refresh_directory(force=True)
    await desk.start(campaign_id)
    desk.available("alice")
    async with desk.as_user("alice") as alice:
        # a national number, read in the region of the campaign's caller ID (US)
        response = await alice.post(
            f"/api/v1/campaigns/{campaign_id}/manual-dial", json={"phone": "(212) 555-0141"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["phone"], body["lead_id"], body["campaign_id"]) == (phone, ids[phone], campaign_id)
        (dialed,) = await desk.events("lead.dialed", campaign_id)
        assert dialed.call_id == body["call_id"] and dialed.lead_id == ids[phone]
        assert dialed.data["mode"] == "manual" and dialed.data["attempt"] == 1
        assert dialed.data["caller_id"] == "+12125550100" and dialed.data["trunk_id"] is not None
        # the attempt ends like any other: its outcome recorded and the lead's attempts and status updated
        await _until(lambda: _lead(env, ids[phone]).attempts == 1)
        (outcome,) = await desk.events("call.outcome", campaign_id)
        assert outcome.call_id == body["call_id"] and outcome.lead_id == ids[phone]
        lead = _lead(env, ids[phone])
        assert lead.last_outcome == outcome.data["outcome"] == "failed"
        assert lead.status.value == "retry" and lead.next_attempt_at is not None  # the retry rule of `failed`
        # nobody answered: alice is free again; a number no lead of the campaign has: dialled, tied to no lead
        alice_key = str(desk.agents["alice"])
        await _until(
            lambda: env.center is not None and env.center.acd.agent_state(alice_key) is AgentState.AVAILABLE
        )
        other = await alice.post(
            f"/api/v1/campaigns/{campaign_id}/manual-dial", json={"phone": "+12125550142"}
        )
        assert other.status_code == 200, other.text
        assert other.json()["lead_id"] is None
        second = (await desk.events("lead.dialed", campaign_id))[-1]
        assert second.call_id == other.json()["call_id"] and second.lead_id is None
        assert second.data["mode"] == "manual"
    assert desk.service.get(campaign_id).decisions["dialed"] == 2
    await desk.service.close()


async def test_the_agent_is_reserved_while_the_call_rings_and_free_again_when_nobody_answered(
    env: RunningSwitch,
) -> None:
    desk = Desk(env)
    phone = "+12125550147"
    campaign_id, ids = desk.campaign([LeadSpec(phone, zone_at_local_hour(12))])
    await desk.start(campaign_id)
    desk.available("alice")
    assert env.center is not None
    alice = str(desk.agents["alice"])
    async with desk.as_user("alice") as client:
        url = f"/api/v1/campaigns/{campaign_id}/manual-dial"
        response = await client.post(url, json={"phone": phone})  # the carrier never answers
        assert response.status_code == 200, response.text
        call_id = response.json()["call_id"]
        # reserved for this call: no inbound call is offered to alice while it rings, nor a second manual dial
        assert env.center.acd.agent_state(alice) is AgentState.RESERVED
        assert env.center.acd.lent_call(alice) == call_id
        again = await client.post(url, json={"phone": "+12125550148"})
        assert again.status_code == 409 and "not free" in again.json()["detail"]
    await desk.service.stop(campaign_id)  # the ringing attempt is cancelled: nobody answered
    await _until(lambda: env.center is not None and env.center.acd.agent_state(alice) is AgentState.AVAILABLE)
    (offered,) = [e for e in await desk.events("agent.offered", campaign_id) if e.call_id == call_id]
    assert offered.agent_id == desk.agents["alice"]
    await _until(lambda: _lead(env, ids[phone]).attempts == 1)  # the cancelled attempt counts
    await desk.service.close()


async def test_manual_dial_only_where_the_campaign_allows_it_for_its_free_agents(env: RunningSwitch) -> None:
    desk = Desk(env)
    allowed, _ = desk.campaign([])
    closed, _ = desk.campaign([], manual_dial=False)
    await desk.start(allowed)
    await desk.start(closed)
    not_started, _ = desk.campaign([])
    dial = {"phone": "+12125550143"}

    async def status(username: str, campaign_id: int) -> int:
        async with desk.as_user(username) as client:
            return (await client.post(f"/api/v1/campaigns/{campaign_id}/manual-dial", json=dial)).status_code

    assert await status("alice", allowed) == 409  # logged out: not free
    desk.available("alice")
    desk.available("bob")
    assert await status("alice", closed) == 403  # the campaign does not allow manual dial
    assert await status("bob", allowed) == 403  # bob is not in the campaign's queue (sales)
    assert await status("admin", allowed) == 403  # no agent: nobody to connect the call to
    assert await status("alice", not_started) == 409  # not running here
    assert await status("alice", 999999) == 404
    assert env.center is not None
    env.center.set_state(desk.agents["alice"], "aux", reason="lunch")
    assert await status("alice", allowed) == 409  # on a break
    assert await desk.events("lead.dialed", allowed) == []
    await desk.service.close()


async def test_a_number_the_rules_refuse_is_not_dialled_and_the_rule_is_named_at_the_phone(
    env: RunningSwitch,
) -> None:
    desk = Desk(env)
    night, listed = "+12125550144", "+12125550145"
    campaign_id, ids = desk.campaign(
        [LeadSpec(night, zone_at_local_hour(3)), LeadSpec(listed, zone_at_local_hour(12))]
    )
    await desk.start(campaign_id)
    add_dnc(env.sessions, listed)  # listed after the campaign started: the manual dial still sees it
    desk.available("alice")
    async with desk.as_user("alice") as alice:
        url = f"/api/v1/campaigns/{campaign_id}/manual-dial"
        for phone, reason in ((listed, "dnc"), (night, "outside_window")):
            response = await alice.post(url, json={"phone": phone})
            assert response.status_code == 422, response.text
            (error,) = response.json()["detail"]
            assert error["loc"] == ["body", "phone"] and error["ctx"] == {"reason": reason}
            assert error["msg"].startswith(reason)
        bad = await alice.post(url, json={"phone": "12345"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "phone"]
        wrong = await alice.post(url, json={"phone": "+12125550146", "lead_id": ids[night]})
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "phone"]
    assert await desk.events("lead.dialed", campaign_id) == []
    skipped = await desk.events("lead.skipped", campaign_id)
    assert [(e.lead_id, e.data["reason"], e.data["mode"]) for e in skipped] == [
        (ids[listed], "dnc", "manual"),
        (ids[night], "outside_window", "manual"),
    ]
    assert _lead(env, ids[night]).attempts == 0
    await desk.service.close()
