"""The inbound contact center end to end over real SIP: a sipp caller calls 1000, hears the menu, presses 2
(RFC 4733), waits hearing its position, a baresip agent (digest REGISTER, auto-answer) is offered the call and
answers, audio flows both ways, the agent hangs up -> wrap-up -> available; events, CDR and the stereo
recording show the whole path."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from duplex.acd import AgentState
from duplex.db.models import Agent, Call, Event, IvrFlow, IvrFlowVersion, Queue, Recording
from interop.conftest import RunningEngine
from interop.peers import Baresip, free_even_port, free_port, rtp_capture, rtp_packets_to, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

# The demo flow's menu without its opening hours (the test runs at any hour).
FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "menu"},
    "menu": {"type": "menu", "prompt": {"say": "For sales, press 1. For support, press 2."},
             "options": {"1": "sales", "2": "support"}, "timeout_seconds": 8, "max_retries": 1,
             "on_invalid": "bye", "on_timeout": "bye"},
    "sales": {"type": "queue", "queue": "sales", "on_timeout": "bye", "on_overflow": "bye", "after_call": "bye"},
    "support": {"type": "queue", "queue": "support-l1", "on_timeout": "bye", "on_overflow": "bye",
                "after_call": "bye"},
    "bye": {"type": "hangup", "reason": "done"},
}}  # fmt: skip


def _publish(running: RunningEngine) -> int:
    with running.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        version = max(v.version for v in flow.versions) + 1
        session.add(IvrFlowVersion(flow_id=flow.id, version=version, definition=FLOW))
        flow.published_version = version
        session.execute(update(Queue).values(wrapup_seconds=2))
        return session.scalars(select(Agent.id).where(Agent.sip_username == "alice")).one()


def _channel_rms(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2
        pcm = (
            np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2).astype(np.float64)
        )
    left, right = np.sqrt(np.mean(pcm**2, axis=0))
    return float(left), float(right)


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.1)


async def test_caller_presses_2_waits_and_talks_to_the_baresip_agent(running: RunningEngine, alice: Baresip,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    center = running.center
    assert center is not None
    alice_id = _publish(running)
    await center.reload()
    caller_media = free_even_port()
    with rtp_capture(tmp_path, caller_media) as caller_pcap:
        sipp = asyncio.create_task(asyncio.to_thread(
            run_sipp, tmp_path, "uac_menu_2_talk.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=caller_media, service="1000", timeout=90,
        ))  # fmt: skip
        await _until(lambda: bool(center.waiting))  # pressed 2: queued, nobody available yet
        flow = next(iter(center.waiting.values()))
        await _until(lambda: bool(flow.announcements))
        await asyncio.sleep(2.0)  # the caller hears the announcement
        center.set_state(alice_id, "available")
        await asyncio.to_thread(alice.wait_event, "CALL_ESTABLISHED", 20)
        await asyncio.sleep(8.0)  # both talk: sipp's pcap, baresip's tone
        alice.command("hangup")
        await _until(lambda: center.acd.agent_state(str(alice_id)) is AgentState.WRAP_UP, 10)
        result = await sipp
    assert result.successful == 1, result.output
    assert flow.announcements[0].startswith("You are number 1 in the queue.")
    await _until(lambda: center.acd.agent_state(str(alice_id)) is AgentState.AVAILABLE, 10)
    to_caller = rtp_packets_to(caller_pcap, caller_media)
    assert to_caller.packets >= 500  # menu, announcement, hold tones, then the agent's tone
    await running.engine.store.flush()
    with running.sessions() as session:
        call = session.get(Call, flow.call_id)
        assert call is not None and call.ended_at is not None
        types = list(
            session.scalars(select(Event.type).where(Event.call_id == flow.call_id).order_by(Event.id))
        )
        digits = [e.data["digit"] for e in session.scalars(
            select(Event).where(Event.call_id == flow.call_id, Event.type == "dtmf.received"))]  # fmt: skip
        recording = session.scalars(select(Recording).where(Recording.call_id == flow.call_id)).one()
    path = ["ivr.entered", "ivr.node_entered", "queue.entered", "agent.offered", "agent.accepted", "queue.left",
            "call.bridged", "recording.started", "recording.saved", "call.ended"]  # fmt: skip
    seen = iter(types)
    assert all(step in seen for step in path), types
    assert digits == ["2"]
    left, right = _channel_rms(running.settings.data_dir / "recordings" / recording.path)
    print(f"recording RMS caller {left:.0f}, agent {right:.0f}; RTP to the caller {to_caller}")
    assert left > 100.0 and right > 100.0  # sound on both channels
    states = [e.data["to"] for e in running.events("agent.state_changed") if e.agent_id == alice_id]
    assert states == ["available", "reserved", "on_call", "wrap_up", "available"]


async def test_feature_codes_from_the_agents_phone(running: RunningEngine, alice: Baresip) -> None:
    """alice dials *21 (available), *22 (pause), *23 (log out) from baresip, which authenticates (407)."""
    center = running.center
    assert center is not None
    alice_id = _publish(running)
    for code, state in (
        ("*21", AgentState.AVAILABLE),
        ("*22", AgentState.AUX),
        ("*23", AgentState.LOGGED_OUT),
    ):
        alice.command("dial", f"sip:{code}@127.0.0.1:{running.port}")
        await _until(lambda state=state: center.acd.agent_state(str(alice_id)) is state, 15)  # type: ignore[misc]
        await asyncio.to_thread(alice.wait_event, "CALL_CLOSED", 15)  # Duplex said the state and hung up
    await running.engine.store.flush()
    changes = [(e.data["to"], e.data["reason"]) for e in running.events("agent.state_changed")]
    assert [to for to, _ in changes] == ["available", "aux", "logged_out"] and changes[1][1] == "phone", (
        changes
    )
