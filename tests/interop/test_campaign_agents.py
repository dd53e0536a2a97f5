"""Campaigns and the contact center's agents over real SIP: sipp is the carrier (and its callees) and an
inbound caller, baresip the agents' phones (digest REGISTER, auto-answer).

* One blended agent: a campaign call, then an inbound call that arrived meanwhile (inbound first), then the
  campaign's next call; one call at a time, and each goes available -> reserved -> on_call -> wrap_up ->
  available in the recorded agent states (a campaign call's wrap-up until the agent says available, an inbound
  one on the queue's timer).
* Predictive with three agents against callees who answer (some), are busy, ring out or do not exist: more
  lines than free agents, the safe-harbour message when nobody is free, and the invariants (the trunk's
  channels and CPS, every abandon recorded, no agent on two calls), not exact counts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from campaigns.campaign_fixtures import LeadSpec, make_campaign, zone_at_local_hour
from duplex.acd import AgentState, InboundFirstBlending
from duplex.db.models import Agent, Event, PhoneNumber, Queue
from duplex.dialer.pacing_predictive import PredictiveConfig
from duplex.dialer.types import DialMode
from duplex.reports.compliance import compliance_report
from duplex.services.campaigns.runtime import CampaignRuntime, RuntimeOptions
from duplex.services.campaigns.service import CampaignService
from duplex.services.contact_center import ContactCenter
from duplex.stores.campaign_store import CampaignStore
from interop.conftest import RunningEngine, registered_phone
from interop.peers import free_even_port, free_port, run_sipp, sipp_background
from interop.test_campaign_e2e import _callee_audio, _numbers, _wait

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

SALES_LINE = "5550"  # straight to the sales queue


async def _center(running: RunningEngine, *, wrap_up: int) -> tuple[ContactCenter, dict[str, int], int]:
    """Short wrap-up, a number to the sales queue, every free agent lent (small teams: none kept back)."""
    with running.sessions() as session, session.begin():
        session.execute(update(Queue).values(wrapup_seconds=wrap_up, announce_position=False))
        sales = session.scalars(select(Queue.id).where(Queue.name == "sales")).one()
        session.add(PhoneNumber(number=SALES_LINE, queue_id=sales))
        agents = {a.sip_username: a.id for a in session.scalars(select(Agent))}
    await running.engine.refresh_directory(force=True)
    assert running.center is not None
    center = running.center
    center.blending = InboundFirstBlending(reserve_free_agents=0)
    await center.reload()
    return center, agents, sales


def _events(running: RunningEngine, *types: str) -> list[Event]:
    with running.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type.in_(types)).order_by(Event.id)))


def _walks(changes: list[Event]) -> dict[int, list[Event]]:
    """Each agent's state changes, checked to be one unbroken walk (each starts where the last one ended)."""
    by_agent: dict[int, list[Event]] = {}
    for event in changes:
        assert event.agent_id is not None
        walk = by_agent.setdefault(event.agent_id, [])
        if walk:
            assert event.data["from"] == walk[-1].data["to"], (event.agent_id, event.data)
        if event.data["to"] == "reserved":
            assert event.data["from"] == "available", event.data  # never reserved while busy
        walk.append(event)
    return by_agent


async def test_one_blended_agent_takes_campaign_and_inbound_calls_one_at_a_time(
    running: RunningEngine, tmp_path: Path
) -> None:
    _callee_audio(tmp_path)
    carrier = free_port()
    running.set_trunk(port=carrier, max_cps=10.0, max_channels=5)
    center, agents, sales = await _center(running, wrap_up=2)
    alice = str(agents["alice"])
    noon = zone_at_local_hour(12)
    leads = [LeadSpec(phone, noon, priority=9 - i) for i, phone in enumerate(_numbers(3, 2, 100))]
    campaign_id, _ = make_campaign(running.sessions, leads, dial_mode=DialMode.PROGRESSIVE, queue_id=sales)
    phone = await registered_phone(running, tmp_path)
    center.set_state(agents["alice"], "available")
    service = CampaignService(running.engine, CampaignStore(running.sessions), center,
                              options=RuntimeOptions(tick=0.1, require_national_dnc=False))  # fmt: skip

    def state() -> AgentState:
        return center.acd.agent_state(alice)

    try:
        with sipp_background(tmp_path, "uas_campaign_callees.xml", local_port=carrier, media_port=free_even_port(),
                             calls=None):  # fmt: skip
            runtime = await service.start(campaign_id)
            await _wait(lambda: state() is AgentState.ON_CALL, 20)
            first = center.lent[alice]  # the campaign's first lead
            caller = asyncio.ensure_future(asyncio.to_thread(
                run_sipp, tmp_path, "uac_wait_bye.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
                media_port=free_even_port(), service=SALES_LINE, timeout=60))  # fmt: skip
            await _wait(lambda: bool(center.waiting), 15)  # alice talks: the inbound call waits
            await asyncio.sleep(1.0)
            assert center.lent.get(alice) == first and not center.offers
            phone.command("hangup")
            await _wait(lambda: state() is AgentState.WRAP_UP, 10)
            await asyncio.sleep(
                2.5
            )  # past the queue's 2 s: a campaign call's wrap-up waits for the disposition
            assert state() is AgentState.WRAP_UP and not center.offers
            center.set_state(
                agents["alice"], "available"
            )  # what the API allows once the call has a disposition
            await _wait(lambda: alice in center.talking, 15)  # then the waiting inbound call
            assert runtime.decisions["dialed"] == 1  # the campaign lent nothing while inbound waited
            await asyncio.sleep(2.0)
            phone.command("hangup")  # the inbound call's wrap-up ends on the queue's timer
            result = await caller
            await _wait(
                lambda: center.lent.get(alice) not in (None, first) and state() is AgentState.ON_CALL, 20
            )
            await asyncio.sleep(1.0)
            phone.command("hangup")
            await _wait(lambda: state() is AgentState.WRAP_UP, 10)
            center.set_state(agents["alice"], "available")
            await service.stop(campaign_id)
    finally:
        await asyncio.to_thread(phone.stop)
    assert result.successful == 1, result.output
    await running.engine.store.flush()
    dialed = [e.call_id for e in _events(running, "lead.dialed")]
    inbound = {e.call_id for e in _events(running, "queue.entered")}
    walk = _walks([e for e in _events(running, "agent.state_changed") if e.agent_id == agents["alice"]])
    states = [e.data["to"] for e in walk[agents["alice"]]]
    campaign_call = ["reserved", "on_call", "wrap_up", "wrap_up", "available"]  # wrap-up held: the extension
    inbound_call = ["reserved", "on_call", "wrap_up", "available"]
    assert states == ["available", *campaign_call, *inbound_call, *campaign_call], states
    reserved_for = [e.call_id for e in walk[agents["alice"]] if e.data["to"] == "reserved"]
    assert reserved_for[0] == dialed[0] and reserved_for[2] == dialed[1] and reserved_for[1] in inbound
    offers = _events(running, "agent.offered")
    offered = [e.call_id for e in offers]
    assert [e.data["ring_timeout_s"] for e in offers] == [
        2.0,
        15.0,
        2.0,
    ]  # the dialer's 2 s, the queue's 15 s
    accepted = [e.call_id for e in _events(running, "agent.accepted")]
    assert offered == accepted == reserved_for


async def _desktops(center: ContactCenter, agent_ids: list[int], after: float) -> None:
    """The agents' desktops: an agent whose wrap-up outlasts the queue's (a campaign call's waits for the
    disposition) sets one after `after` seconds and makes themselves available."""
    since: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    while True:
        for agent_id in agent_ids:
            if center.acd.agent_state(str(agent_id)) is not AgentState.WRAP_UP:
                since.pop(agent_id, None)
            elif loop.time() - since.setdefault(agent_id, loop.time()) > after:
                center.set_state(agent_id, "available")
        await asyncio.sleep(0.05)


def _max_overlap(intervals: list[tuple[int, int]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


async def test_predictive_over_sipp_with_three_agents_holds_the_invariants(
    running: RunningEngine, tmp_path: Path
) -> None:
    _callee_audio(tmp_path)
    carrier = free_port()
    cps, channels = 4.0, 6
    running.set_trunk(port=carrier, max_cps=cps, max_channels=channels)
    center, agents, _ = await _center(running, wrap_up=1)
    noon = zone_at_local_hour(12)
    humans, busy, ringing, invalid = (
        _numbers(3, 10, 100),
        _numbers(1, 5, 200),
        _numbers(2, 3, 300),
        _numbers(6, 4, 400),
    )
    # the dialing order mixes them: two people, a busy line, a ringing or missing number, and so on
    others = iter(busy + [p for pair in zip(ringing + [""], invalid, strict=False) for p in pair if p])
    mixed = [
        p
        for pair in zip(humans[::2], humans[1::2], strict=True)
        for p in (*pair, next(others, ""), next(others, ""))
        if p
    ]
    mixed += [p for p in busy + ringing + invalid if p not in mixed]
    leads = [LeadSpec(phone, noon, priority=len(mixed) - i) for i, phone in enumerate(mixed)]
    # a test campaign that may drop half its answers, so that the overdial shows within a minute
    campaign_id, ids = make_campaign(
        running.sessions, leads, dial_mode=DialMode.PREDICTIVE, max_abandon_rate=0.5
    )
    phones = [await registered_phone(running, tmp_path, user=user) for user in ("alice", "bob", "carol")]
    for user in ("alice", "bob", "carol"):
        center.set_state(agents[user], "available")
    aggressive = PredictiveConfig(
        z_initial=0.0, warmup_z=0.0, prior_p_human=0.5, prior_delay=2.0, prior_handle=10.0
    )
    options = RuntimeOptions(tick=0.1, require_national_dnc=False, predictive=aggressive)
    service = CampaignService(running.engine, CampaignStore(running.sessions), center, options=options)
    desktops = asyncio.ensure_future(_desktops(center, [agents[u] for u in ("alice", "bob", "carol")], 1.5))
    samples: list[tuple[int, int, int, int]] = []  # (free agents, placed, in flight, live calls) per decision

    def instrument(runtime: CampaignRuntime) -> None:
        tick = runtime.tick

        def recorded() -> int:
            free = runtime.agents.free_agents()
            placed = tick()
            samples.append((free, placed, len(runtime.in_flight), len(runtime.live_calls)))
            return placed

        runtime.tick = recorded  # type: ignore[method-assign]

    try:
        with sipp_background(tmp_path, "uas_predictive_callees.xml", local_port=carrier,
                             media_port=free_even_port(), calls=None):  # fmt: skip
            runtime = await service.start(campaign_id)
            instrument(runtime)
            await _wait(lambda: (runtime.decisions["dialed"] >= len(leads) or runtime.held_for_abandon)
                        and not runtime.in_flight, 60)  # fmt: skip
            await _wait(lambda: not runtime.live_calls, 20)
            await service.stop(campaign_id)
    finally:
        desktops.cancel()
        for phone in phones:
            await asyncio.to_thread(phone.stop)
    await running.engine.store.flush()
    phone_of = {lead_id: phone for phone, lead_id in ids.items()}
    dials = [e for e in _events(running, "lead.dialed") if e.campaign_id == campaign_id]
    outcomes = {e.call_id: e.data["outcome"] for e in _events(running, "call.outcome")}
    ended = {e.call_id: e for e in _events(running, "call.ended")}
    bridged = {e.call_id for e in _events(running, "call.bridged")}
    summary: dict[str, Any] = {"dials": len(dials), "samples": len(samples)}
    # every decision recorded: each dial has its outcome, by what the callee did
    assert len(dials) >= 10 and all(d.call_id in outcomes for d in dials)
    kinds = {"human": humans, "busy": busy, "no_answer": ringing, "invalid": invalid}
    for d in dials:
        phone = phone_of[d.lead_id or 0]
        assert phone in kinds[outcomes[d.call_id]], (phone, outcomes[d.call_id])
    # more lines than free agents: the predictive pacer dialed ahead of the agents
    assert any(placed and in_flight > free for free, placed, in_flight, _ in samples), samples[:50]
    # the trunk's limits: channels at every decision and over the calls' lives; CPS over every second
    assert max(live for *_, live in samples) <= channels
    lives = [(d.ts_ms, ended[d.call_id].ts_ms) for d in dials]
    summary["peak_channels"] = _max_overlap(lives)
    assert summary["peak_channels"] <= channels
    times = [d.ts_ms for d in dials]
    summary["peak_cps"] = max(sum(1 for u in times if t - 1000 < u <= t) for t in times)
    assert summary["peak_cps"] <= 1 + cps  # the bucket's burst of 1 plus a second's tokens
    # abandons: every person answered and not bridged to an agent heard the safe-harbour message, Duplex
    # hung up, and the abandon was counted
    answered = [d.call_id for d in dials if outcomes[d.call_id] == "human"]
    abandoned = [c for c in answered if c not in bridged]
    summary["humans"], summary["abandoned"] = len(answered), len(abandoned)
    assert all(ended[c].data["hangup_by"] == "duplex" for c in abandoned), summary
    campaign = CampaignStore(running.sessions).campaign(campaign_id)
    assert campaign is not None
    report = compliance_report(CampaignStore(running.sessions), campaign, now=dt.datetime.now(dt.UTC))
    assert (report.live_answers, report.abandoned) == (len(answered), len(abandoned)), summary
    # a hold for the abandon limit is recorded as it happens (campaign.pacing with no lines), and so is its end
    pacing = [e.data for e in _events(running, "campaign.pacing") if e.campaign_id == campaign_id]
    held = bool(pacing) and pacing[-1]["lines_per_agent"] == 0.0
    summary["held_for_abandon"] = held
    assert held == runtime.held_for_abandon, pacing
    # no agent on two calls: each agent's states are one walk, reserved only from available
    walks = _walks(_events(running, "agent.state_changed"))
    connected = [e.call_id for walk in walks.values() for e in walk if e.data["to"] == "on_call"]
    assert sorted(connected) == sorted(c for c in answered if c in bridged)
    print("predictive over SIP:", summary)
