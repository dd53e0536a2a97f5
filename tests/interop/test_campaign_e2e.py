"""A campaign end to end over real SIP: 20 leads dialed through the demo trunk to sipp callees (busy, no
answer, a person, an answering machine), a baresip agent registered with digest auth taking the people,
the safe-harbour message for the person no agent was free for, DNC and out-of-window leads never dialed,
and every outcome in the event record."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.campaign_fixtures import LeadSpec, add_dnc, make_campaign, zone_at_local_hour
from duplex.acd import InboundFirstBlending
from duplex.db.models import Agent, DncEntry, Event, Lead, Queue
from duplex.dialer.types import DialMode, LeadStatus
from duplex.services.calls.call import Call
from duplex.services.campaigns.runtime import RuntimeOptions
from duplex.services.campaigns.service import CampaignService
from duplex.services.contact_center import ContactCenter
from duplex.stores.campaign_store import CampaignStore
from interop.conftest import RunningEngine, registered_phone
from interop.peers import free_even_port, free_port, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

MACHINE_GREETING = (
    "Hi, you have reached the voicemail of John Smith at Example Company. I cannot take your call right now. "
    "Please leave your name, your number and a short message after the tone, and I will call you back."
)


def _ulaw(tmp: Path, name: str, text: str, silence_after: float) -> None:
    """espeak-ng speech, then silence, as the raw 8 kHz mu-law sipp streams (rtp_stream)."""
    wav = tmp / f"{name}.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", str(tmp / f"{name}.ulaw"),
                    "pad", "0.3", str(silence_after)], check=True)  # fmt: skip


def _callee_audio(tmp: Path) -> None:
    """What the sipp callees say (the scenario loads both files at start)."""
    _ulaw(tmp, "human", "Hello?", 8.0)
    _ulaw(tmp, "machine", MACHINE_GREETING, 3.0)


def _numbers(last_digit: int, count: int, start: int) -> list[str]:
    return [f"+1212555{start + i:03d}{last_digit}" for i in range(count)]


def _center(running: RunningEngine) -> ContactCenter:
    """The node's contact center, lending every free agent (one agent here: none is kept back for inbound)."""
    assert running.center is not None
    running.center.blending = InboundFirstBlending(reserve_free_agents=0)
    return running.center


def _queue_without_wrap_up(running: RunningEngine, name: str) -> int:
    with running.sessions() as session, session.begin():
        queue = session.scalars(select(Queue).where(Queue.name == name)).one()
        queue.wrapup_seconds = 0
        return queue.id


def _agent_id(running: RunningEngine, user: str) -> int:
    with running.sessions() as session:
        return session.scalars(select(Agent.id).where(Agent.sip_username == user)).one()


async def _wait(predicate: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_campaign_of_20_leads_over_sipp_and_baresip(running: RunningEngine, tmp_path: Path) -> None:
    _callee_audio(tmp_path)
    carrier = free_port()
    running.set_trunk(port=carrier, max_cps=50.0, max_channels=30)
    await running.engine.refresh_directory(force=True)
    noon, night = zone_at_local_hour(12), zone_at_local_hour(3)
    busy, ringing, humans, machines = (
        _numbers(1, 4, 100),
        _numbers(2, 4, 200),
        _numbers(3, 2, 300),
        _numbers(4, 4, 400),
    )
    dnc, out_of_window = _numbers(3, 3, 500), _numbers(3, 3, 600)
    leads = [LeadSpec(p, noon, priority=9) for p in humans]
    leads += [LeadSpec(p, noon) for p in busy + ringing + machines + dnc] + [
        LeadSpec(p, night) for p in out_of_window
    ]
    assert len(leads) == 20
    # the campaign's queue has no wrap-up: the agent is free again when the first person hangs up, and the
    # campaign dials on before the abandoned person (over the 3% limit) makes it hold
    sales = _queue_without_wrap_up(running, "sales")
    await _center(running).reload()
    campaign_id, ids = make_campaign(running.sessions, leads, dial_mode=DialMode.POWER, lines_per_agent=20.0,
                                     amd_enabled=True, queue_id=sales)  # fmt: skip
    for phone in dnc:
        add_dnc(running.sessions, phone)
    phone_of = {lead_id: phone for phone, lead_id in ids.items()}
    agent = await registered_phone(running, tmp_path)
    _center(running).set_state(_agent_id(running, "alice"), "available")
    service = CampaignService(running.engine, CampaignStore(running.sessions), _center(running),
                              options=RuntimeOptions(tick=0.1, require_national_dnc=False))  # fmt: skip
    try:
        with sipp_background(tmp_path, "uas_campaign_callees.xml", local_port=carrier, media_port=free_even_port(),
                             calls=None):  # fmt: skip
            runtime = await service.start(campaign_id)
            dialable = len(busy + ringing + humans + machines)

            def bridged() -> list[Call]:
                return [
                    c
                    for c in running.engine.calls.values()
                    if any(g.kind == "agent" and g.is_up for g in c.legs)
                ]

            await _wait(lambda: bridged(), 20)
            (call,) = bridged()  # one person reached the agent
            await asyncio.sleep(2.0)  # audio both ways through the bridge
            lead_leg = next(leg for leg in call.legs if leg.kind == "lead")
            agent_leg = next(leg for leg in call.legs if leg.kind == "agent")
            assert lead_leg.media is not None and agent_leg.media is not None
            assert lead_leg.media.stats().packets_received > 50  # the callee's "Hello?" and silence
            assert agent_leg.media.stats().packets_received > 50  # baresip's tone
            assert lead_leg.media.stats().packets_sent > 50  # the agent's audio, relayed to the callee
            await call.hangup("test_done")
            # every dialable lead resolved (the ringing ones after the 15-s minimum ring)
            await _wait(lambda: runtime.decisions["dialed"] >= dialable and not runtime.in_flight, 60)
            await service.stop(campaign_id)
    finally:
        await asyncio.to_thread(agent.stop)
    await running.engine.store.flush()
    with running.sessions() as session:
        rows = list(session.scalars(select(Event).where(Event.campaign_id == campaign_id).order_by(Event.id)))
    dialed = {phone_of[e.lead_id] for e in rows if e.type == "lead.dialed" and e.lead_id}
    assert dialed == set(busy + ringing + humans + machines)  # never a DNC or out-of-window lead
    skipped = {phone_of[e.lead_id]: e.data["reason"] for e in rows if e.type == "lead.skipped" and e.lead_id}
    assert skipped == dict.fromkeys(dnc, "dnc")
    outcomes = {
        phone_of[e.lead_id]: e.data["outcome"] for e in rows if e.type == "call.outcome" and e.lead_id
    }
    assert Counter(outcomes.values()) == Counter({"busy": 4, "no_answer": 4, "human": 2, "machine": 4})
    assert {outcomes[p] for p in humans} == {"human"} and {outcomes[p] for p in machines} == {"machine"}
    call_of = {e.lead_id: e.call_id for e in rows if e.type == "lead.dialed"}
    with running.sessions() as session:
        bridged_ids = set(session.scalars(select(Event.call_id).where(Event.type == "call.bridged")))
        ended = {e.call_id: e for e in session.scalars(select(Event).where(Event.type == "call.ended"))}
    connected = [p for p in humans if call_of[ids[p]] in bridged_ids]
    assert len(connected) == 1
    (abandoned,) = set(humans) - set(connected)
    # the safe-harbour message played to the person no agent was free for, then Duplex hung up
    abandoned_call = call_of[ids[abandoned]]
    assert ended[abandoned_call].data["hangup_by"] == "duplex", ended[abandoned_call].data
    with running.sessions() as session:
        quality = session.scalars(
            select(Event).where(Event.type == "call.quality", Event.call_id == abandoned_call)
        )
        sent = max(e.data["packets_sent"] for e in quality)
    # a machine's leg, hung up when AMD decided (~2 s), sent ~105 packets of silence; the message adds seconds
    assert sent >= 250, sent


async def test_agentless_message_and_opt_out_by_dtmf(running: RunningEngine, tmp_path: Path) -> None:
    """Agentless: each person hears the message; the ones who press 9 are on the internal DNC list at once."""
    _callee_audio(tmp_path)
    carrier = free_port()
    running.set_trunk(port=carrier, max_cps=50.0, max_channels=30)
    await running.engine.refresh_directory(force=True)
    noon = zone_at_local_hour(12)
    opt_outs, listener = _numbers(5, 2, 700), _numbers(3, 1, 800)
    campaign_id, ids = make_campaign(running.sessions, [LeadSpec(p, noon) for p in opt_outs + listener],
                                     dial_mode=DialMode.AGENTLESS,
                                     broadcast_prompt="This is Example Company. Press 9 to stop our calls.")  # fmt: skip
    service = CampaignService(running.engine, CampaignStore(running.sessions), _center(running),
                              options=RuntimeOptions(tick=0.1, require_national_dnc=False))  # fmt: skip
    with sipp_background(tmp_path, "uas_campaign_callees.xml", local_port=carrier, media_port=free_even_port(),
                         calls=None):  # fmt: skip
        runtime = await service.start(campaign_id)
        await _wait(lambda: runtime.decisions["dialed"] >= 3 and not runtime.in_flight, 40)
        await asyncio.sleep(0.5)
        assert runtime.compliance.internal_dnc >= set(opt_outs)
        await service.stop(campaign_id)
    await running.engine.store.flush()
    with running.sessions() as session:
        added = {
            e.data["phone"]: e.data for e in session.scalars(select(Event).where(Event.type == "dnc.added"))
        }
        entries = {d.phone: d.source for d in session.scalars(select(DncEntry))}
        statuses = {
            lead.phone: lead.status for lead in session.scalars(select(Lead).where(Lead.id.in_(ids.values())))
        }
        outcomes = [e.data["outcome"] for e in session.scalars(
            select(Event).where(Event.type == "call.outcome", Event.campaign_id == campaign_id))]  # fmt: skip
    assert set(added) == set(opt_outs) and {d["source"] for d in added.values()} == {"dtmf"}
    assert {p: entries.get(p) for p in opt_outs + listener} == {
        **dict.fromkeys(opt_outs, "internal"),
        listener[0]: None,
    }
    assert {p: statuses[p] for p in opt_outs} == dict.fromkeys(opt_outs, LeadStatus.DNC)
    assert statuses[listener[0]] == LeadStatus.DONE
    assert outcomes == ["human"] * 3


async def test_machine_gets_the_message_after_its_greeting(running: RunningEngine, tmp_path: Path) -> None:
    """AMD on, machine_message: a machine's greeting is heard out, then the campaign's message is left."""
    _callee_audio(tmp_path)
    carrier = free_port()
    running.set_trunk(port=carrier, max_cps=50.0, max_channels=30)
    await running.engine.refresh_directory(force=True)
    machine = _numbers(4, 1, 900)
    campaign_id, ids = make_campaign(running.sessions, [LeadSpec(machine[0], zone_at_local_hour(12))],
                                     dial_mode=DialMode.AGENTLESS, amd_enabled=True,
                                     broadcast_prompt="This is Example Company about your renewal.")  # fmt: skip
    options = RuntimeOptions(tick=0.1, require_national_dnc=False, machine_message=True)
    service = CampaignService(running.engine, CampaignStore(running.sessions), _center(running),
                              options=options)  # fmt: skip
    loop = asyncio.get_running_loop()
    with sipp_background(tmp_path, "uas_campaign_callees.xml", local_port=carrier, media_port=free_even_port(),
                         calls=None):  # fmt: skip
        runtime = await service.start(campaign_id)
        started = loop.time()
        await _wait(lambda: runtime.decisions["dialed"] >= 1 and not runtime.in_flight, 60)
        elapsed = loop.time() - started
        await service.stop(campaign_id)
    await running.engine.store.flush()
    greeting = (
        tmp_path / "machine.ulaw"
    ).stat().st_size / 8000 - 3.0  # the speech, without the silence after
    assert elapsed > greeting + 1.0, (elapsed, greeting)  # the greeting was heard out before the message
    with running.sessions() as session:
        outcome = session.scalar(
            select(Event).where(Event.type == "call.outcome", Event.lead_id == ids[machine[0]])
        )
        call_id = session.scalar(select(Event.call_id).where(Event.type == "lead.dialed"))
        quality = session.scalar(select(Event).where(Event.type == "call.quality", Event.call_id == call_id))
    assert outcome is not None and outcome.data["outcome"] == "machine"
    assert quality is not None
    # the leg sends 50 packets a second from the answer: the greeting, 1 s of silence that ends it, then the
    # message (about 2.5 s); hanging up without the message would end it at greeting + 1 s
    assert quality.data["packets_sent"] > 50 * (greeting + 2.5), quality.data
