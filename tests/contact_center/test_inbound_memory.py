"""The inbound contact center on a switch in memory: a caller (a UAC leg of the switch) calls 1000, the flow
runs, the call queues, the ACD offers it to an agent whose "phone" is the switch's own 1001 (its application
replaced by a scripted phone), and the offer is answered, rung out, cancelled or withdrawn by a logout."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from duplex.acd import AgentState
from duplex.db.models import Agent, IvrFlow, IvrFlowVersion, Queue, Recording
from duplex.ivr import validate_flow
from duplex.services.calls.apps import APPLICATIONS
from duplex.services.calls.call import Call, Leg
from duplex.services.calls.uac import OutboundLeg, originate
from duplex.services.calls.uas import InboundLeg
from duplex.services.contact_center import ContactCenter
from duplex.telephony.registrar import Binding, Source
from switch_env import RunningSwitch, make_settings, switch_running

pytestmark = pytest.mark.timeout(60)

EngineEnv = RunningSwitch


@pytest.fixture
async def memory_env(tmp_path: Path) -> AsyncIterator[EngineEnv]:
    """A switch on a `MemoryNetwork` with its contact center started (`switch_env.switch_running`)."""
    async with switch_running(make_settings(tmp_path), memory=True) as env:
        yield env


FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "menu"},
    "menu": {"type": "menu", "prompt": {"say": "For support, press 2."}, "options": {"2": "support"},
             "timeout_seconds": 8, "max_retries": 1, "on_invalid": "bye", "on_timeout": "bye"},
    "support": {"type": "queue", "queue": "support-l1", "on_timeout": "bye", "on_overflow": "bye",
                "after_call": "bye"},
    "bye": {"type": "hangup", "reason": "done"},
}}  # fmt: skip

PhoneScript = Callable[[Leg], Awaitable[None]]


class AgentPhone:
    """The agent's phone: calls for it reach the switch's 1001, whose application runs ``script``."""

    def __init__(self) -> None:
        self.script: PhoneScript = self.answer_then_hang_up
        self.legs: list[Leg] = []

    async def __call__(self, leg: Leg) -> None:
        self.legs.append(leg)
        await self.script(leg)

    @staticmethod
    async def answer_then_hang_up(leg: Leg) -> None:
        await leg.answer()
        await asyncio.sleep(1.0)
        if leg.is_up:
            await leg.hangup("agent_done")

    @staticmethod
    async def never_answer(leg: Leg) -> None:
        await leg.ended.wait()


@pytest.fixture
def phone(monkeypatch: pytest.MonkeyPatch) -> Iterator[AgentPhone]:
    phone = AgentPhone()
    monkeypatch.setitem(APPLICATIONS, "echo", phone)
    yield phone


def _center(env: EngineEnv) -> ContactCenter:
    assert env.center is not None
    return env.center


async def _prepare(env: EngineEnv, *, wrap_up: int = 1, ring_timeout: int = 15) -> dict[str, int]:
    """Publish the test flow on 1000, short wrap-up, register every demo agent's phone at 1001."""
    assert validate_flow(FLOW) == []
    with env.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        latest = max(v.version for v in flow.versions)
        session.add(IvrFlowVersion(flow_id=flow.id, version=latest + 1, definition=FLOW))
        flow.published_version = latest + 1
        session.execute(update(Queue).values(wrapup_seconds=wrap_up, ring_timeout_seconds=ring_timeout))
        agents = {a.sip_username: a.id for a in session.scalars(select(Agent))}
    center = _center(env)
    await center.reload()
    now = env.engine.now()
    env.engine.registrations.registrar.restore([Binding(
        aor=user, contact=f"sip:1001@127.0.0.1:{env.port}", expires_at=now + 300,
        source=Source(transport="udp", host="127.0.0.1", port=env.port), updated_at=now,
    ) for user in agents], now)  # fmt: skip
    return agents


async def _call_1000(env: EngineEnv) -> tuple[Call, OutboundLeg]:
    call = Call(env.engine, direction="outbound", from_number="customer", to_number="1000")
    leg = await originate(call, f"sip:1000@127.0.0.1:{env.port}", contact=("127.0.0.1", env.port),
                          from_user="customer")  # fmt: skip
    assert await asyncio.wait_for(leg.answered, 5)
    return call, leg


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.05)


async def _press(leg: OutboundLeg, digit: str) -> None:
    await asyncio.sleep(0.5)  # the menu prompt is playing: the digit barges in
    assert leg.media is not None
    leg.media.send_dtmf(digit)


def _types(env: EngineEnv, call_id: str) -> list[str]:
    from duplex.db.models import Event

    with env.sessions() as session:
        return list(session.scalars(select(Event.type).where(Event.call_id == call_id).order_by(Event.id)))


async def test_flow_queue_offer_answer_bridge_hangup_wrap_up_available(memory_env: EngineEnv,
                                                                      phone: AgentPhone) -> None:  # fmt: skip
    agents = await _prepare(memory_env)
    center, bob = _center(memory_env), str(agents["bob"])
    center.set_state(agents["bob"], "available")
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: center.acd.agent_state(bob) is AgentState.ON_CALL)
    inbound_call = next(c for c in memory_env.engine.calls.values() if c.direction == "inbound")
    caller_leg, agent_leg = inbound_call.legs[0], inbound_call.legs[1]
    assert agent_leg.kind == "agent" and caller_leg.bridged_to is agent_leg
    await _until(lambda: center.acd.agent_state(bob) is AgentState.WRAP_UP)  # the agent hung up
    await asyncio.wait_for(caller.ended.wait(), 5)  # after_call -> bye: the flow hangs up the caller
    await _until(lambda: center.acd.agent_state(bob) is AgentState.AVAILABLE, timeout=5)
    await memory_env.engine.store.flush()
    types = _types(memory_env, inbound_call.id)
    path = ["ivr.entered", "ivr.node_entered", "queue.entered", "agent.offered", "agent.accepted", "queue.left",
            "call.bridged", "recording.started", "call.ended"]  # fmt: skip
    seen = iter(types)
    assert all(step in seen for step in path), types  # each step, in this order
    assert types.count("ivr.node_entered") == 4  # answer, menu, support, bye
    states = [e.data["to"] for e in memory_env.events("agent.state_changed") if e.agent_id == agents["bob"]]
    assert states == ["available", "reserved", "on_call", "wrap_up", "available"]
    left = memory_env.events("queue.left")[0]
    assert left.data["reason"] == "answered" and left.agent_id == agents["bob"]
    with memory_env.sessions() as session:
        recording = session.scalars(select(Recording).where(Recording.call_id == inbound_call.id)).one()
        assert recording.duration_ms > 500 and recording.size_bytes > 44
        assert session.get(Agent, agents["bob"]).state == "available"  # type: ignore[union-attr]


async def test_caller_hangup_during_offer_leaves_no_agent_ringing(memory_env: EngineEnv,
                                                                  phone: AgentPhone) -> None:  # fmt: skip
    agents = await _prepare(memory_env)
    center, bob = _center(memory_env), str(agents["bob"])
    phone.script = AgentPhone.never_answer
    center.set_state(agents["bob"], "available")
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: center.acd.agent_state(bob) is AgentState.RESERVED and bool(phone.legs))
    await caller.hangup("changed_my_mind")
    await _until(lambda: center.acd.agent_state(bob) is AgentState.AVAILABLE)
    await _until(lambda: all(leg.ended.is_set() for leg in phone.legs))
    assert not center.offers and not center.waiting
    await memory_env.engine.store.flush()
    assert memory_env.events("queue.left")[0].data["reason"] == "abandoned"


async def test_the_agents_phone_is_told_the_call_id_and_ivr_variables_are_recorded(
    memory_env: EngineEnv, phone: AgentPhone, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the desktop's screen pop needs: X-Duplex-Call-Id on the INVITE to the agent (the desktop finds
    the call by it) and each variable the flow set as an `ivr.variable_set` event."""
    monkeypatch.setitem(FLOW["nodes"], "tag", {"type": "set", "variables": {"department": "support", "tier": 2},
                                               "next": "support"})  # fmt: skip
    monkeypatch.setitem(FLOW["nodes"]["menu"], "options", {"2": "tag"})
    agents = await _prepare(memory_env)
    center, bob = _center(memory_env), str(agents["bob"])
    center.set_state(agents["bob"], "available")
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: center.acd.agent_state(bob) is AgentState.ON_CALL)
    inbound_call = next(c for c in memory_env.engine.calls.values() if c.direction == "inbound")
    ringing = phone.legs[0]
    assert isinstance(ringing, InboundLeg)
    assert ringing.invite.headers.get("X-Duplex-Call-Id") == inbound_call.id
    await caller.hangup("done")
    await memory_env.engine.store.flush()
    variables = [(e.call_id, e.data) for e in memory_env.events("ivr.variable_set")]
    flow_id = variables[0][1]["flow_id"]
    assert variables == [
        (inbound_call.id, {"flow_id": flow_id, "node": "tag", "variable": "department", "value": "support"}),
        (inbound_call.id, {"flow_id": flow_id, "node": "tag", "variable": "tier", "value": 2}),
    ]


async def test_logout_while_reserved_puts_the_call_back_and_stops_the_ring(memory_env: EngineEnv,
                                                                         phone: AgentPhone) -> None:  # fmt: skip
    agents = await _prepare(memory_env)
    center, bob = _center(memory_env), str(agents["bob"])
    phone.script = AgentPhone.never_answer
    center.set_state(agents["bob"], "available")
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: center.acd.agent_state(bob) is AgentState.RESERVED and bool(phone.legs))
    center.set_state(agents["bob"], "logged_out")
    await _until(lambda: all(leg.ended.is_set() for leg in phone.legs))
    call_id = next(iter(center.waiting))
    assert center.acd.position(call_id) == 1 and not center.offers
    await caller.hangup("done")


CALLBACK_FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "callback"},
    "callback": {"type": "callback", "queue": "support-l1", "next": "bye"},
    "bye": {"type": "hangup", "reason": "callback_requested"},
}}  # fmt: skip


async def test_queued_callback_calls_the_customer_back_when_an_agent_is_reserved(
    memory_env: EngineEnv, phone: AgentPhone
) -> None:
    agents = await _prepare(memory_env)
    assert validate_flow(CALLBACK_FLOW) == []
    with memory_env.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        session.add(IvrFlowVersion(flow_id=flow.id, version=99, definition=CALLBACK_FLOW))
        flow.published_version = 99
    now = memory_env.engine.now()
    memory_env.engine.registrations.registrar.restore([Binding(  # the customer's phone: 1001 as well
        aor="customer", contact=f"sip:1001@127.0.0.1:{memory_env.port}", expires_at=now + 300,
        source=Source(transport="udp", host="127.0.0.1", port=memory_env.port), updated_at=now,
    )], now)  # fmt: skip
    center = _center(memory_env)
    _, caller = await _call_1000(memory_env)
    await asyncio.wait_for(caller.ended.wait(), 5)  # asked for a callback, the flow hung up
    assert not center.waiting and len(center.callbacks) == 1  # the place is kept after the caller left
    assert center.acd.position(next(iter(center.callbacks))) == 1
    center.set_state(agents["carol"], "available")
    await _until(lambda: len(phone.legs) >= 2)  # carol's phone, then the customer's
    await _until(lambda: center.acd.agent_state(str(agents["carol"])) is AgentState.WRAP_UP)
    await memory_env.engine.store.flush()
    assert [e.data["reason"] for e in memory_env.events("queue.left")] == ["callback"]
    assert len(memory_env.events("call.bridged")) == 1


# The test flow without targets of its own for max wait / max size: the queue's overflow action runs.
OVERFLOW_FLOW: dict[str, Any] = {**FLOW, "nodes": {**FLOW["nodes"],
    "support": {"type": "queue", "queue": "support-l1", "after_call": "bye"}}}  # fmt: skip


async def _overflow_after_one_second(env: EngineEnv, action: str, webhook: str = "") -> None:
    with env.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        session.add(IvrFlowVersion(flow_id=flow.id, version=98, definition=OVERFLOW_FLOW))
        flow.published_version = 98
        session.execute(update(Queue).where(Queue.name == "support-l1").values(
            max_wait_seconds=1, escalate_after_seconds=None, overflow_action=action, voicemail_webhook=webhook))  # fmt: skip
    await _center(env).reload()


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 (port 0) that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/voicemail"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _flow_at(env: EngineEnv, node: str) -> bool:
    """Some caller's flow is at ``node`` now."""
    return any(flow.run.node_id == node for flow in _center(env).active.values())


async def test_queue_overflow_to_voicemail_records_and_posts_to_the_queues_webhook(
    memory_env: EngineEnv, phone: AgentPhone
) -> None:
    await _prepare(memory_env)
    receiver = WebhookReceiver()
    try:
        await _overflow_after_one_second(memory_env, "voicemail", receiver.url)
        _, caller = await _call_1000(memory_env)
        await _press(caller, "2")  # nobody staffed: max wait 1 s -> the queue's voicemail
        await _until(lambda: _flow_at(memory_env, "queue:voicemail"))
        recordings = memory_env.settings.data_dir / "recordings"
        await _until(lambda: any(recordings.glob("*-voicemail.wav")), 20)  # after the greeting
        await asyncio.sleep(1.0)  # the caller speaks (silence here)
        await caller.hangup("message_left")
        await _until(lambda: bool(receiver.bodies), 10)
    finally:
        receiver.close()
    await _until(lambda: not _center(memory_env).active)
    await memory_env.engine.store.flush()
    left = memory_env.events("queue.left")
    assert [(e.data["reason"], e.data["overflow_to"]) for e in left] == [("overflow", "voicemail")]
    body = receiver.bodies[0]
    assert body["caller_id"] == "customer" and body["called_number"] == "1000"
    assert body["mailbox"] == str(left[0].queue_id)
    recorded = memory_env.events("voicemail.recorded")
    assert len(recorded) == 1 and recorded[0].data["webhook_status"] == 204
    assert body["recording"]["path"] == recorded[0].data["path"]
    assert (memory_env.settings.data_dir / "recordings" / body["recording"]["path"]).exists()


async def test_queue_overflow_to_callback_offers_one_that_keeps_the_place(memory_env: EngineEnv,
                                                                          phone: AgentPhone) -> None:  # fmt: skip
    await _prepare(memory_env)
    await _overflow_after_one_second(memory_env, "callback")
    center = _center(memory_env)
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: _flow_at(memory_env, "queue:callback_offer"))
    await _press(caller, "1")  # yes, call me back
    await asyncio.wait_for(caller.ended.wait(), 15)  # confirmed, then the flow hangs up
    assert len(center.callbacks) == 1 and not center.waiting
    assert center.acd.position(next(iter(center.callbacks))) == 1
    await memory_env.engine.store.flush()
    left = [(e.data["reason"], e.data["overflow_to"]) for e in memory_env.events("queue.left")]
    assert left == [("overflow", "callback")]
    assert len(memory_env.events("queue.entered")) == 2  # the caller, then the callback in their place


async def test_a_caller_who_chose_romanian_hears_the_queue_announcements_in_romanian(
    memory_env: EngineEnv, phone: AgentPhone
) -> None:
    await _prepare(memory_env)
    romanian = {**FLOW, "nodes": {**FLOW["nodes"], "menu": {**FLOW["nodes"]["menu"], "options": {"2": "ro"}},
                "ro": {"type": "set", "variables": {"language": "ro"}, "next": "support"}}}  # fmt: skip
    with memory_env.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        session.add(IvrFlowVersion(flow_id=flow.id, version=97, definition=romanian))
        flow.published_version = 97
    center = _center(memory_env)
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: bool(center.waiting))
    waiting = next(iter(center.waiting.values()))
    await _until(lambda: bool(waiting.announcements), 20)
    assert waiting.language == "ro"
    assert waiting.announcements[0].startswith("Sunteți pe poziția 1 în coadă.")
    assert center.prompts.path_for(waiting.announcements[0], "ro").exists()  # rendered with the ro voice
    await caller.hangup("done")


async def test_a_flow_that_speaks_romanian_announces_the_queue_in_romanian(memory_env: EngineEnv,
                                                                           phone: AgentPhone) -> None:  # fmt: skip
    """No language variable: the flow's say node speaks Romanian, so the queue announces in Romanian too."""
    await _prepare(memory_env)
    romanian = {**FLOW, "nodes": {**FLOW["nodes"], "menu": {**FLOW["nodes"]["menu"], "options": {"2": "ro"}},
                "ro": {"type": "say", "text": "Vă conectăm.", "language": "ro", "next": "support"}}}  # fmt: skip
    with memory_env.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        session.add(IvrFlowVersion(flow_id=flow.id, version=95, definition=romanian))
        flow.published_version = 95
    center = _center(memory_env)
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(lambda: bool(center.waiting))
    waiting = next(iter(center.waiting.values()))
    await _until(lambda: bool(waiting.announcements), 20)
    assert waiting.run.variables["language"] == "en" and waiting.language == "ro"
    assert waiting.announcements[0].startswith("Sunteți pe poziția 1 în coadă.")
    await caller.hangup("done")


async def test_queue_overflow_to_another_queue_moves_the_waiting_caller(memory_env: EngineEnv,
                                                                        phone: AgentPhone) -> None:  # fmt: skip
    await _prepare(memory_env)
    with memory_env.sessions() as session, session.begin():
        sales = session.scalars(select(Queue.id).where(Queue.name == "sales")).one()
    await _overflow_after_one_second(memory_env, "queue")
    with memory_env.sessions() as session, session.begin():
        session.execute(update(Queue).where(Queue.name == "support-l1").values(overflow_queue_id=sales))
    center = _center(memory_env)
    await center.reload()
    _, caller = await _call_1000(memory_env)
    await _press(caller, "2")
    await _until(
        lambda: bool(center.waiting) and center.acd.queue_of(next(iter(center.waiting))) == str(sales)
    )
    await memory_env.engine.store.flush()
    left = memory_env.events("queue.left")[0]
    assert (left.data["reason"], left.data["overflow_to"], left.data["to_queue_id"]) == (
        "overflow",
        "queue",
        sales,
    )
    assert [e.queue_id for e in memory_env.events("queue.entered")][-1] == sales
    await caller.hangup("done")
