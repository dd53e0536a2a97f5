"""A three-way conference and hang-ups during a consultation, with three real phones: baresips sending a tone
each (customer 500 Hz, agent 1100 Hz, consulted party 1700 Hz). The customer (dave's phone) calls the agent
(alice, 2001), the agent holds them and calls the consulted party (carol, 2003) from the same phone: the
consultation. tshark captures what each phone receives; each time window is checked for the tones it must
and must not carry (who hears whom)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from duplex.acd import AgentState
from duplex.config import Settings
from duplex.db.models import Call as CallRow
from duplex.db.models import CallLeg, IvrFlow, IvrFlowVersion, Queue
from duplex.media.monitoring import MonitorMode
from duplex.services.calls.call import Call
from duplex.services.calls.conference import Conference, ConferenceRefused, Conferences
from duplex.services.calls.monitor import CallMonitoring, MonitorRefused
from duplex.services.node import media_backend
from interop import tone_phones
from interop.conftest import RunningEngine
from interop.peers import Baresip
from interop.tone_phones import captures, phone, received

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

TONES = {"customer": 500.0, "agent": 1100.0, "consulted": 1700.0}
USERS = {"customer": "dave", "agent": "alice", "consulted": "carol"}


def heard(packets: list[tuple[float, np.ndarray]], start: float, end: float) -> set[str]:
    return tone_phones.heard(packets, start, end, TONES)


@dataclass
class Consultation:
    phones: dict[str, Baresip]
    call: Call  # the customer's call
    consult: Call  # the agent's consultation call
    agent_id: int


@pytest.fixture
def engine_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The engine's media in process, or (``indirect`` parameter "rtpengine") in a real rtpengine."""
    if getattr(request, "param", None) != "rtpengine":
        return {}
    daemon = request.getfixturevalue("rtpengine")
    settings = Settings(media_backend="rtpengine", media_rtpengine_ng=f"{daemon.ng[0]}:{daemon.ng[1]}",
                        public_ip="127.0.0.1")  # fmt: skip
    return {"media": media_backend(settings)}


@pytest.fixture
async def phones(running: RunningEngine, tmp_path: Path) -> AsyncIterator[dict[str, Baresip]]:
    out: dict[str, Baresip] = {}
    try:
        for who, user in USERS.items():
            out[who] = await phone(running, tmp_path, user, running.sip_password(user), TONES[who])
        yield out
    finally:
        for p in out.values():
            await asyncio.to_thread(p.stop)


async def until(condition: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting: {what}")


def rung(running: RunningEngine, agent_id: int) -> Call | None:
    """The live call where Duplex rang the agent's phone and it is bridged to an answered party."""
    for call in running.engine.calls.values():
        for leg in call.legs:
            if leg.agent_id == agent_id and leg.is_up and leg.bridged_to is not None and leg.bridged_to.is_up:
                return call
    return None


async def consult(running: RunningEngine, phones: dict[str, Baresip], number: str = "2001") -> Consultation:
    """The customer calls the agent (``number``: their extension, or a queue number the agent is available
    for), who holds them and calls the consulted party."""
    directory = await running.engine.refresh_directory(force=True)
    agent, consulted = directory.agent_by_user("alice"), directory.agent_by_user("carol")
    assert agent is not None and consulted is not None
    phones["customer"].command("dial", f"sip:{number}@127.0.0.1:{running.port}")
    await asyncio.to_thread(phones["customer"].wait_event, "CALL_ESTABLISHED", 15)
    await until(lambda: rung(running, agent.id), "the customer's call")
    call = rung(running, agent.id)
    assert call is not None
    agent_leg = next(leg for leg in call.legs if leg.agent_id == agent.id)
    phones["agent"].command("hold")
    await until(lambda: agent_leg.remote_hold, "the agent's phone holds the customer")
    phones["agent"].command("dial", f"sip:2003@127.0.0.1:{running.port}")
    await until(lambda: rung(running, consulted.id), "the consultation")
    consultation = rung(running, consulted.id)
    assert consultation is not None and consultation is not call
    return Consultation(phones=phones, call=call, consult=consultation, agent_id=agent.id)


def legs_of(running: RunningEngine, call_id: str) -> list[CallLeg]:
    with running.sessions() as session:
        return list(session.scalars(select(CallLeg).where(CallLeg.call_id == call_id)))


def call_row(running: RunningEngine, call_id: str) -> CallRow:
    with running.sessions() as session:
        row = session.get(CallRow, call_id)
        assert row is not None
        return row


async def test_each_party_hears_the_other_two_and_the_two_others_stay_when_the_agent_leaves(
    running: RunningEngine, phones: dict[str, Baresip], tmp_path: Path
) -> None:
    conferences = Conferences(running.engine)
    marks: dict[str, float] = {}
    with captures(tmp_path, phones) as pcaps:
        c = await consult(running, phones)
        marks["consult"] = time.time()
        await asyncio.sleep(2.0)
        with pytest.raises(ConferenceRefused) as not_theirs:  # bob is on neither call
            await conferences.start(c.call.id, c.consult.id, agent_id=c.agent_id + 1)
        assert not_theirs.value.status == 403
        with pytest.raises(ConferenceRefused) as itself:
            await conferences.start(c.call.id, c.call.id, agent_id=c.agent_id)
        assert itself.value.status == 409
        # named by the SIP Call-ID of the agent's consultation dialog, as the browser knows it
        agent_consult_leg = next(leg for leg in c.consult.legs if leg.direction == "inbound")
        conference = await conferences.start(c.call.id, agent_consult_leg.sip_call_id, agent_id=c.agent_id)
        await asyncio.wait_for(c.consult.ended.wait(), 5)  # the consultation call is over
        with pytest.raises(MonitorRefused) as monitored:  # the call is mixed already
            await CallMonitoring(running.engine, conferences).start(
                c.call.id, sip_username="dave", user_id=1, mode=MonitorMode.LISTEN
            )
        assert monitored.value.status == 409 and "conference" in str(monitored.value)
        phones["agent"].command("resume")  # the agent's phone takes the customer off hold
        await until(lambda: not conference.agent.remote_hold, "the agent resumes")
        marks["conference"] = time.time()
        await asyncio.sleep(3.0)
        phones["agent"].command("hangup")  # the agent leaves
        await asyncio.wait_for(conference.done.wait(), 10)
        marks["after"] = time.time()
        await asyncio.sleep(3.0)
        marks["end"] = time.time()
        assert not c.call.ended.is_set()
        assert conference.customer.is_up and conference.joined.is_up
        assert conference.customer.bridged_to is conference.joined
        phones["customer"].command("hangup")
        await asyncio.wait_for(c.call.ended.wait(), 10)
        await asyncio.to_thread(phones["consulted"].wait_event, "CALL_CLOSED", 10)
    got = {who: received(pcap, phones[who].rtp_ports) for who, pcap in pcaps.items()}
    expected = {
        "consult": {"agent": {"consulted"}, "consulted": {"agent"}},
        "conference": {
            "customer": {"agent", "consulted"},
            "agent": {"customer", "consulted"},
            "consulted": {"customer", "agent"},
        },
        "after": {"customer": {"consulted"}, "consulted": {"customer"}},
    }
    ends = {"consult": "conference", "conference": "after", "after": "end"}
    for name, want in expected.items():
        start, end = marks[name] + 0.5, (marks[ends[name]] if name != "consult" else marks["consult"] + 2.0)
        actual = {who: heard(got[who], start, end - 0.2) for who in want}
        assert actual == want, name
    await running.engine.store.flush()
    joined = running.events("call.conferenced")
    assert [(e.call_id, e.leg_id, e.data["from_call_id"]) for e in joined] == [
        (c.call.id, conference.joined.id, c.consult.id)
    ]
    assert set(joined[0].data["legs"]) == {leg.id for leg in conference.legs}
    left = running.events("call.conference_ended")
    assert [(e.leg_id, e.data["reason"], set(e.data["legs"])) for e in left] == [
        (conference.agent.id, "agent_left", {conference.customer.id, conference.joined.id})
    ]
    # the customer's CDR keeps the three legs; the consultation ended when it lost its last one
    assert {leg.id for leg in legs_of(running, c.call.id)} == {leg.id for leg in conference.legs}
    consult_row = call_row(running, c.consult.id)
    assert consult_row.ended_at is not None and consult_row.end_reason == "conferenced"
    assert call_row(running, c.call.id).ended_at is not None


async def test_the_agent_and_the_consulted_party_stay_when_the_customer_leaves(
    running: RunningEngine, phones: dict[str, Baresip], tmp_path: Path
) -> None:
    conferences = Conferences(running.engine)
    marks: dict[str, float] = {}
    with captures(tmp_path, phones) as pcaps:
        c = await consult(running, phones)
        conference = await conferences.start(c.call.id, c.consult.id, agent_id=None)  # a supervisor asks
        phones["agent"].command("resume")
        await until(lambda: not conference.agent.remote_hold, "the agent resumes")
        await asyncio.sleep(1.0)
        phones["customer"].command("hangup")
        await asyncio.wait_for(conference.done.wait(), 10)
        marks["after"] = time.time()
        await asyncio.sleep(3.0)
        marks["end"] = time.time()
        assert not c.call.ended.is_set() and conference.agent.bridged_to is conference.joined
        phones["consulted"].command("hangup")
        await asyncio.wait_for(c.call.ended.wait(), 10)
    got = {who: received(pcap, phones[who].rtp_ports) for who, pcap in pcaps.items() if who != "customer"}
    actual = {who: heard(packets, marks["after"] + 0.5, marks["end"] - 0.2) for who, packets in got.items()}
    assert actual == {"agent": {"consulted"}, "consulted": {"agent"}}
    await running.engine.store.flush()
    assert [e.data["reason"] for e in running.events("call.conference_ended")] == ["party_left"]


async def test_the_customer_hanging_up_during_the_consultation_ends_only_their_call(
    running: RunningEngine, phones: dict[str, Baresip], tmp_path: Path
) -> None:
    with captures(tmp_path, phones) as pcaps:
        c = await consult(running, phones)
        phones["customer"].command("hangup")  # tired of waiting on hold
        await asyncio.wait_for(c.call.ended.wait(), 10)
        start = time.time()
        await asyncio.sleep(2.5)
        end = time.time()
        assert not c.consult.ended.is_set() and all(leg.is_up for leg in c.consult.legs)
        phones["consulted"].command("hangup")
        await asyncio.wait_for(c.consult.ended.wait(), 10)
    got = {who: received(pcaps[who], phones[who].rtp_ports) for who in ("agent", "consulted")}
    actual = {who: heard(packets, start + 0.5, end - 0.2) for who, packets in got.items()}
    assert actual == {"agent": {"consulted"}, "consulted": {"agent"}}  # the consultation went on
    await running.engine.store.flush()
    row = call_row(running, c.call.id)  # the customer's call is over and recorded so
    assert row.ended_at is not None and row.answered_at is not None, row
    customer_leg = next(leg for leg in legs_of(running, c.call.id) if leg.agent_id is None)
    assert customer_leg.end_reason == "remote_bye", customer_leg.end_reason  # the customer hung up
    assert all(leg.ended_at is not None for leg in legs_of(running, c.call.id))
    assert call_row(running, c.consult.id).ended_at is not None


@pytest.mark.parametrize("who", ["consulted", "agent"])
async def test_a_consultation_that_ends_leaves_the_customer_on_hold_until_resumed(
    running: RunningEngine, phones: dict[str, Baresip], tmp_path: Path, who: str
) -> None:
    """The consulted party hangs up, or the agent ends the consultation: the customer's call goes on, held
    by the agent's phone (Duplex resumes nothing itself), and talks again once the phone resumes it (baresip
    resumes its previous call by itself when the current one ends; the browser leaves it to the agent,
    tests/web/test_softphone.py)."""
    with captures(tmp_path, phones) as pcaps:
        c = await consult(running, phones)
        phones[who].command("hangup")  # the agent's phone hangs up its current call: the consultation
        await asyncio.wait_for(c.consult.ended.wait(), 10)
        await asyncio.sleep(0.5)
        assert not c.call.ended.is_set() and all(leg.is_up for leg in c.call.legs)
        agent_leg = next(leg for leg in c.call.legs if leg.agent_id == c.agent_id)
        await until(lambda: not agent_leg.remote_hold, "the agent's phone resumes the customer")
        start = time.time()
        await asyncio.sleep(2.5)
        end = time.time()
        phones["customer"].command("hangup")
        await asyncio.wait_for(c.call.ended.wait(), 10)
    got = {w: received(pcaps[w], phones[w].rtp_ports) for w in ("customer", "agent")}
    actual = {w: heard(packets, start + 0.5, end - 0.2) for w, packets in got.items()}
    assert actual == {"customer": {"agent"}, "agent": {"customer"}}
    await running.engine.store.flush()
    consult_row = call_row(running, c.consult.id)
    assert consult_row.ended_at is not None and consult_row.end_reason is not None
    assert len(legs_of(running, c.call.id)) == 2  # nobody joined the customer's call
    held = [(e.type, e.data["by"]) for e in running.events("call.held") + running.events("call.resumed")
            if e.call_id == c.call.id]  # fmt: skip
    assert sorted(held) == [("call.held", "remote"), ("call.resumed", "remote")]  # only the phone did


QUEUE_FLOW = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "sales"},
    "sales": {"type": "queue", "queue": "sales", "on_timeout": "bye", "on_overflow": "bye", "after_call": "bye"},
    "bye": {"type": "hangup", "reason": "done"},
}}  # fmt: skip


async def publish_queue_flow(running: RunningEngine) -> tuple[int, int]:
    """1000's flow becomes QUEUE_FLOW (the sales queue, 30 s wrap-up), alice is available: (alice, carol) ids."""
    center = running.center
    assert center is not None
    with running.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        version = max(v.version for v in flow.versions) + 1
        session.add(IvrFlowVersion(flow_id=flow.id, version=version, definition=QUEUE_FLOW))
        flow.published_version = version
        session.execute(update(Queue).values(wrapup_seconds=30))
    await center.reload()
    directory = await running.engine.refresh_directory(force=True)
    alice, carol = directory.agent_by_user("alice"), directory.agent_by_user("carol")
    assert alice is not None and carol is not None
    center.set_state(alice.id, "available")
    return alice.id, carol.id


async def queue_conference(
    running: RunningEngine, phones: dict[str, Baresip]
) -> tuple[Consultation, Conference]:
    """The customer calls 1000, whose flow queues them for alice (available); she answers, consults carol and
    makes it a conference."""
    alice, _ = await publish_queue_flow(running)
    c = await consult(running, phones, "1000")
    conference = await Conferences(running.engine).start(c.call.id, c.consult.id, agent_id=alice)
    phones["agent"].command("resume")
    await until(lambda: not conference.agent.remote_hold, "the agent resumes")
    return c, conference


async def test_a_queue_call_stays_with_the_consulted_party_when_the_agent_leaves(
    running: RunningEngine, phones: dict[str, Baresip], tmp_path: Path
) -> None:
    """The customer came through the IVR and the queue (the flow keeps them after the agent, for what comes
    after the call): when the agent leaves the conference, the flow follows the customer to the consulted
    party instead of ending the call, and ends it when that party hangs up."""
    center = running.center
    assert center is not None
    with captures(tmp_path, phones) as pcaps:
        c, conference = await queue_conference(running, phones)
        alice_id = c.agent_id
        await asyncio.sleep(1.0)
        phones["agent"].command("hangup")  # the agent leaves: wrap-up for them, the call goes on
        await asyncio.wait_for(conference.done.wait(), 10)
        start = time.time()
        await asyncio.sleep(3.0)
        end = time.time()
        assert not c.call.ended.is_set(), "the flow ended the customer's call with the agent's leaving"
        assert center.acd.agent_state(str(alice_id)) is AgentState.WRAP_UP
        phones["consulted"].command("hangup")
        await asyncio.wait_for(c.call.ended.wait(), 10)  # the flow's after-call node: bye
        await asyncio.to_thread(phones["customer"].wait_event, "CALL_CLOSED", 10)
    got = {who: received(pcaps[who], phones[who].rtp_ports) for who in ("customer", "consulted")}
    actual = {who: heard(packets, start + 0.5, end - 0.2) for who, packets in got.items()}
    assert actual == {"customer": {"consulted"}, "consulted": {"customer"}}
    await running.engine.store.flush()
    assert [e.data["reason"] for e in running.events("call.conference_ended")] == ["agent_left"]
    assert len(legs_of(running, c.call.id)) == 3


@pytest.mark.parametrize("engine_options", ["rtpengine"], indirect=True)
async def test_a_conference_of_calls_whose_media_is_in_rtpengine_is_refused(
    running: RunningEngine, phones: dict[str, Baresip]
) -> None:
    """The conference mixes the legs' audio in this process: legs in rtpengine are refused with 409, and
    both calls go on untouched."""
    c = await consult(running, phones)
    with pytest.raises(ConferenceRefused, match="rtpengine") as refused:
        await Conferences(running.engine).start(c.call.id, c.consult.id, agent_id=c.agent_id)
    assert refused.value.status == 409
    assert not c.call.ended.is_set() and not c.consult.ended.is_set()
    assert len(c.call.legs) == 2 and len(c.consult.legs) == 2 and all(leg.is_up for leg in c.consult.legs)


async def test_a_queue_call_leaves_the_agent_with_the_consulted_party_when_the_customer_leaves(
    running: RunningEngine, phones: dict[str, Baresip], tmp_path: Path
) -> None:
    """The flow ends with its customer, without hanging up the agent, who talks on with the consulted party;
    the two are a plain call then: one hanging up ends it."""
    with captures(tmp_path, phones) as pcaps:
        c, conference = await queue_conference(running, phones)
        await asyncio.sleep(1.0)
        phones["customer"].command("hangup")
        await asyncio.wait_for(conference.done.wait(), 10)
        start = time.time()
        await asyncio.sleep(3.0)
        end = time.time()
        assert not c.call.ended.is_set(), "the flow hung the agent up with its customer"
        phones["consulted"].command("hangup")
        await asyncio.wait_for(c.call.ended.wait(), 10)  # the agent's leg was hung up with it
        await asyncio.to_thread(phones["agent"].wait_event, "CALL_CLOSED", 10)
    got = {who: received(pcaps[who], phones[who].rtp_ports) for who in ("agent", "consulted")}
    actual = {who: heard(packets, start + 0.5, end - 0.2) for who, packets in got.items()}
    assert actual == {"agent": {"consulted"}, "consulted": {"agent"}}
    await running.engine.store.flush()
    assert [e.data["reason"] for e in running.events("call.conference_ended")] == ["party_left"]
