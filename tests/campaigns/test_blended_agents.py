"""Blended agents on a switch in memory: a campaign's agents are the contact center's, in the ACD's states.

An agent on an inbound call, ringing, in wrap-up or on a break is never given a campaign call; an agent the
dialer reserved is not offered an inbound call (it waits, and gets the agent when the dialer lets go); inbound
first: no agent is lent while inbound calls wait in the agents' queues or the inbound service level is low; a
campaign call is recorded like an inbound one (offered, accepted, reserved -> on_call -> wrap_up ->
available), so the agent KPIs count it; its wrap-up lasts until the agent says available (the disposition), while
an inbound call's ends on the queue's timer; a preview's or personal callback's agent is the one reserved, and
only while free. Agent phones and the lead are the switch's own applications (1001 and
1002) run by scripts; the calls between them are real SIP dialogs on a `MemoryNetwork`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.campaign_fixtures import make_campaign
from duplex.acd import AgentState as S
from duplex.acd import InboundFirstBlending, LeftReason, QueueLeft
from duplex.db.models import Agent, PhoneNumber, Queue
from duplex.dialer.types import DialMode
from duplex.reports.kpi_store import kpi_inputs, load_report_events
from duplex.reports.kpis import agent_kpis
from duplex.services.calls.apps import APPLICATIONS
from duplex.services.calls.call import Call, Leg
from duplex.services.calls.uac import OutboundLeg, originate
from duplex.services.calls.uas import InboundLeg
from duplex.services.campaigns.acd_pool import AcdAgentPool
from duplex.services.contact_center import ContactCenter
from duplex.stores.campaign_store import CampaignStore
from duplex.telephony.registrar import Binding, Source
from switch_env import RunningSwitch, make_settings, switch_running

pytestmark = pytest.mark.timeout(60)

SALES_LINE, SUPPORT_LINE = "5550", "5551"  # numbers straight to a queue (an implicit answer-and-queue flow)


class Phones:
    """Every agent's phone is the switch's 1001; the lead is 1002. `answer_after` None: never answers;
    `decline`: answers 486 Busy Here at once."""

    def __init__(self) -> None:
        self.answer_after: float | None = 0.3
        self.decline = False
        self.talk = 1.5
        self.agent_legs: list[Leg] = []

    async def agent(self, leg: Leg) -> None:
        self.agent_legs.append(leg)
        if self.decline:
            assert isinstance(leg, InboundLeg)
            await leg.reject(486, "busy_here")
            return
        if self.answer_after is None:
            await leg.ended.wait()
            return
        await asyncio.sleep(self.answer_after)
        if leg.ended.is_set():
            return
        await leg.answer()
        await asyncio.sleep(self.talk)
        if leg.is_up:
            await leg.hangup("agent_done")

    @staticmethod
    async def lead(leg: Leg) -> None:
        await leg.answer()
        await leg.ended.wait()


@pytest.fixture
def phones(monkeypatch: pytest.MonkeyPatch) -> Iterator[Phones]:
    phones = Phones()
    monkeypatch.setitem(APPLICATIONS, "echo", phones.agent)
    monkeypatch.setitem(APPLICATIONS, "voicemail-demo", phones.lead)
    yield phones


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[RunningSwitch]:
    async with switch_running(make_settings(tmp_path), memory=True) as running:
        yield running


async def _prepare(
    env: RunningSwitch, *, unregistered: tuple[str, ...] = ()
) -> tuple[ContactCenter, dict[str, int], AcdAgentPool]:
    """1 s wrap-up, a number straight to sales and one to support-l1, every agent's phone at 1001 (but the
    `unregistered`), and the pool of a campaign on the sales queue (alice and dave)."""
    with env.sessions() as session, session.begin():
        session.execute(update(Queue).values(wrapup_seconds=1, announce_position=False))
        queues = {q.name: q.id for q in session.scalars(select(Queue))}
        session.add(PhoneNumber(number=SALES_LINE, queue_id=queues["sales"]))
        session.add(PhoneNumber(number=SUPPORT_LINE, queue_id=queues["support-l1"]))
        agents = {a.sip_username: a.id for a in session.scalars(select(Agent))}
    await env.engine.refresh_directory(force=True)
    assert env.center is not None
    center = env.center
    await center.reload()
    now = env.engine.now()
    env.engine.registrations.registrar.restore([Binding(
        aor=user, contact=f"sip:1001@127.0.0.1:{env.port}", expires_at=now + 300,
        source=Source(transport="udp", host="127.0.0.1", port=env.port), updated_at=now,
    ) for user in agents if user not in unregistered], now)  # fmt: skip
    campaign_id, _ = make_campaign(env.sessions, [], dial_mode=DialMode.PROGRESSIVE, queue_id=queues["sales"])
    campaign = CampaignStore(env.sessions).campaign(campaign_id)
    assert campaign is not None
    return center, agents, AcdAgentPool(center, campaign)


async def _dial(env: RunningSwitch, number: str) -> OutboundLeg:
    """A call from outside to `number`, answered (a queue line answers, then queues)."""
    call = Call(env.engine, direction="outbound", from_number="customer", to_number=number)
    leg = await originate(call, f"sip:{number}@127.0.0.1:{env.port}", contact=("127.0.0.1", env.port),
                          from_user="customer")  # fmt: skip
    assert await asyncio.wait_for(leg.answered, 5)
    return leg


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.02)


def _states(env: RunningSwitch, agent_id: int) -> list[str]:
    return [e.data["to"] for e in env.events("agent.state_changed") if e.agent_id == agent_id]


async def test_an_agent_busy_with_inbound_in_wrap_up_or_on_a_break_gets_no_campaign_call(
    env: RunningSwitch, phones: Phones
) -> None:
    center, agents, pool = await _prepare(env)
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    alice = str(agents["alice"])
    center.set_state(agents["alice"], "available")
    assert pool.free_agents() == 1
    caller = await _dial(env, SALES_LINE)

    def in_state(state: S) -> Callable[[], bool]:
        return lambda: center.acd.agent_state(alice) is state

    for state in (S.RESERVED, S.ON_CALL, S.WRAP_UP):  # the inbound call rings, is answered, ends
        await _until(in_state(state))
        assert pool.free_agents() == 0 and pool.reserve(f"lead-{state}") is None, state
    await _until(lambda: center.acd.agent_state(alice) is S.AVAILABLE)
    assert pool.free_agents() == 1
    center.set_state(agents["alice"], "aux", reason="lunch")
    assert pool.free_agents() == 0 and pool.reserve("lead-aux") is None
    await caller.call.hangup("done")
    await env.engine.store.flush()
    assert _states(env, agents["alice"]) == [
        "available",
        "reserved",
        "on_call",
        "wrap_up",
        "available",
        "aux",
    ]
    assert all(e.campaign_id is None for e in env.events("agent.offered"))  # only the inbound offer


async def test_an_agent_the_dialer_reserved_is_not_offered_an_inbound_call(
    env: RunningSwitch, phones: Phones
) -> None:
    center, agents, pool = await _prepare(env)
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    alice = str(agents["alice"])
    center.set_state(agents["alice"], "available")
    info = pool.reserve("lead-1")
    assert info is not None and info.id == agents["alice"]
    assert center.acd.agent_state(alice) is S.RESERVED and pool.busy_agents() == 1
    caller = await _dial(env, SALES_LINE)
    await _until(lambda: bool(center.waiting))
    await asyncio.sleep(0.3)
    assert not center.offers and not phones.agent_legs  # the inbound call waits: nobody rings alice
    assert center.acd.position(next(iter(center.waiting))) == 1
    pool.release(info)  # the lead was gone: alice goes back to inbound and takes the waiting call at once
    await _until(lambda: center.acd.agent_state(alice) is S.ON_CALL)
    await caller.call.hangup("done")
    await env.engine.store.flush()
    assert _states(env, agents["alice"])[:4] == ["available", "reserved", "available", "reserved"]
    (offer,) = [e for e in env.events("agent.offered") if e.campaign_id is not None]
    assert offer.call_id == "lead-1" and offer.agent_id == agents["alice"]


async def test_inbound_first_no_agent_is_lent_while_inbound_calls_wait_or_service_is_low(
    env: RunningSwitch, phones: Phones
) -> None:
    center, agents, pool = await _prepare(env)
    center.set_state(agents["alice"], "available")
    center.set_state(agents["dave"], "available")
    assert pool.free_agents() == 1  # the default policy keeps one free agent for the next inbound call
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    assert pool.free_agents() == 2
    center.set_state(agents["alice"], "aux", reason="training")
    caller = await _dial(env, SUPPORT_LINE)  # support-l1: alice (on a break), bob and carol (logged out)
    await _until(lambda: bool(center.waiting))
    assert center.acd.free_since(str(agents["dave"])) is not None  # dave is free, and stays for inbound:
    assert pool.free_agents() == 0 and pool.reserve("lead-1") is None  # a call waits in alice's queue
    await caller.call.hangup("gave_up")
    await _until(lambda: not center.waiting)
    assert pool.free_agents() == 1
    now = center.now()  # inbound answered late in the last window: service level 0
    for i in range(5):
        center.service_level.observe(QueueLeft(at=now, call_id=f"late-{i}", queue_id=pool.campaign_queue or "",
                                               agent_id=None, reason=LeftReason.ANSWERED, waited=45.0))  # fmt: skip
    assert pool.free_agents() == 0 and pool.reserve("lead-2") is None
    center.blending = InboundFirstBlending(reserve_free_agents=0, min_service_level=0.0)
    assert pool.free_agents() == 1


async def test_a_campaign_call_is_recorded_like_an_inbound_call(env: RunningSwitch, phones: Phones) -> None:
    center, agents, pool = await _prepare(env)
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    alice = str(agents["alice"])
    start_ms = int(time.time() * 1000)
    center.set_state(agents["alice"], "available")
    lead = await _dial(env, "1002")
    info = pool.reserve(lead.call.id)
    assert info is not None
    agent_leg = await pool.connect(info, lead, within=2.0)
    assert agent_leg is not None and lead.bridged_to is agent_leg
    assert center.acd.agent_state(alice) is S.ON_CALL and pool.busy_agents() == 1
    # the phone is asked to answer at once and told the call (the desktop ties its forms to it)
    (invite,) = [leg.invite for leg in phones.agent_legs if isinstance(leg, InboundLeg)]
    assert (invite.headers.get("Call-Info") or "").endswith(";answer-after=0")
    assert invite.headers.get("X-Duplex-Call-Id") == lead.call.id
    await asyncio.wait_for(lead.call.ended.wait(), 5)  # alice hangs up after 1.5 s: the call ends
    pool.release(info)
    assert center.acd.agent_state(alice) is S.WRAP_UP and pool.wrapping_agents() == 1
    await asyncio.sleep(
        1.5
    )  # past the sales queue's 1 s: a campaign call's wrap-up waits for the disposition
    assert center.acd.agent_state(alice) is S.WRAP_UP and pool.free_agents() == 0
    center.set_state(agents["alice"], "available")  # what the API allows once the call has a disposition
    assert center.acd.agent_state(alice) is S.AVAILABLE
    await env.engine.store.flush()
    # the second wrap_up is the hold (the wrap-up extended until the agent says available)
    assert _states(env, agents["alice"]) == [
        "available",
        "reserved",
        "on_call",
        "wrap_up",
        "wrap_up",
        "available",
    ]
    for type_ in ("agent.offered", "agent.accepted"):
        (event,) = env.events(type_)
        assert (event.call_id, event.agent_id, event.campaign_id) == (lead.call.id, agents["alice"],
                                                                     pool.campaign_id), type_  # fmt: skip
    changes = [e for e in env.events("agent.state_changed") if e.call_id == lead.call.id]
    assert [e.data["to"] for e in changes] == ["reserved", "on_call", "wrap_up"]
    end_ms = int(time.time() * 1000) + 1
    with env.sessions() as session:
        events = load_report_events(session, start_ms, end_ms)
        (kpis,) = [
            k
            for k in agent_kpis(events, start_ms, end_ms, kpi_inputs(session))
            if k.agent_id == agents["alice"]
        ]
    assert kpis.offered == kpis.accepted == 1
    assert kpis.state_seconds["on_call"] > 1.0 and kpis.state_seconds["wrap_up"] > 0.5
    assert kpis.occupancy is not None and kpis.occupancy > 0.3
    assert kpis.outcomes.answered_by_agent == 1  # the lead's call counts as the agent's


@pytest.mark.parametrize("phone_does", ["ring_out", "decline"])
async def test_a_phone_that_does_not_answer_in_time_returns_the_agent_to_available(
    env: RunningSwitch, phones: Phones, phone_does: str
) -> None:
    center, agents, pool = await _prepare(env)
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    phones.answer_after = None
    phones.decline = phone_does == "decline"
    center.set_state(agents["alice"], "available")
    lead = await _dial(env, "1002")
    info = pool.reserve(lead.call.id)
    assert info is not None
    assert await pool.connect(info, lead, within=0.5) is None
    pool.release(info)
    assert center.acd.agent_state(str(agents["alice"])) is S.AVAILABLE and pool.free_agents() == 1
    await _until(lambda: all(leg.ended.is_set() for leg in phones.agent_legs))  # the ring was cancelled
    await lead.call.hangup("done")
    await env.engine.store.flush()
    assert _states(env, agents["alice"]) == ["available", "reserved", "available"]
    if phone_does == "ring_out":
        (no_answer,) = env.events("agent.no_answer")
        assert no_answer.campaign_id == pool.campaign_id and no_answer.data["ring_ms"] >= 500
        assert env.events("agent.rejected") == []
    else:
        (rejected,) = env.events("agent.rejected")
        assert rejected.campaign_id == pool.campaign_id and rejected.data["sip_status"] == 486
        assert env.events("agent.no_answer") == []


async def test_a_preview_call_may_have_the_agent_inbound_first_would_keep_back(
    env: RunningSwitch, phones: Phones
) -> None:
    """The agent started the preview call: the last free agent is not kept back for inbound then."""
    center, agents, pool = await _prepare(env)
    center.set_state(agents["alice"], "available")
    assert pool.free_agents() == 0  # a paced campaign: the default policy keeps the one free agent
    preview = make_campaign(
        env.sessions, [], dial_mode=DialMode.PREVIEW, queue_id=int(pool.campaign_queue or 0)
    )
    campaign = CampaignStore(env.sessions).campaign(preview[0])
    assert campaign is not None
    preview_pool = AcdAgentPool(center, campaign)
    assert preview_pool.free_agents() == 1
    info = preview_pool.reserve("lead-1")
    assert info is not None and info.id == agents["alice"] and preview_pool.free_agents() == 0
    preview_pool.release(info)


async def test_a_logged_in_agent_without_a_registered_phone_goes_on_a_break(
    env: RunningSwitch, phones: Phones
) -> None:
    """As for an inbound offer to them: nobody can reach the agent, so they are not offered calls any more."""
    center, agents, pool = await _prepare(env, unregistered=("alice",))
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    center.set_state(agents["alice"], "available")
    lead = await _dial(env, "1002")
    info = pool.reserve(lead.call.id)
    assert info is not None and info.id == agents["alice"]
    assert await pool.connect(info, lead, within=2.0) is None
    pool.release(info)
    assert (
        center.agent_state(agents["alice"])[0] is S.AUX
        and center.agent_state(agents["alice"])[2] == "unreachable"
    )
    assert pool.free_agents() == 0 and not phones.agent_legs and not center.lent
    await lead.call.hangup("done")
    await env.engine.store.flush()
    assert _states(env, agents["alice"]) == ["available", "reserved", "available", "aux"]


async def test_a_given_agent_is_reserved_only_while_free(env: RunningSwitch, phones: Phones) -> None:
    """A preview the agent accepted or a personal callback names its agent: that agent, not the longest idle,
    and nobody while that agent is not free (logged out, on a break, reserved)."""
    center, agents, pool = await _prepare(env)
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    alice, dave = agents["alice"], agents["dave"]
    center.set_state(alice, "available")  # dave is logged out
    assert pool.free_agent_ids() == frozenset({alice}) and pool.free_agents() == 1
    assert pool.reserve("lead-1", dave) is None  # a personal callback's agent who is not logged in
    center.set_state(dave, "available")
    center.set_state(dave, "aux", reason="lunch")
    assert pool.free_agent_ids() == frozenset({alice}) and pool.reserve("lead-1", dave) is None  # on a break
    center.set_state(dave, "available")  # alice has been idle longer: she is the one a plain reserve takes
    assert pool.free_agent_ids() == frozenset({alice, dave})
    info = pool.reserve("lead-1", dave)
    assert info is not None and info.id == dave
    assert pool.free_agent_ids() == frozenset({alice}) and pool.busy_agents() == 1
    assert pool.reserve("lead-2", dave) is None  # already reserved for lead-1
    pool.release(info)
    assert pool.free_agent_ids() == frozenset({alice, dave})
    plain = pool.reserve("lead-3")
    assert plain is not None and plain.id == alice
    pool.release(plain)
    await env.engine.store.flush()
    offers = [
        (e.call_id, e.agent_id) for e in env.events("agent.offered") if e.campaign_id == pool.campaign_id
    ]
    assert offers == [("lead-1", dave), ("lead-3", alice)]
