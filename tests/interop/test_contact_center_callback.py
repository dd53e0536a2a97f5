"""A queued callback to an external number goes out through the carrier trunk: a sipp caller asks for a
callback on +442071234567 and hangs up; when the baresip agent is reserved and answers, Duplex dials the number
through the demo trunk (sipp as the carrier, echoing the audio) and bridges it to the agent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from duplex.acd import AgentState
from duplex.db.models import Agent, Call, IvrFlow, IvrFlowVersion, Queue, Trunk
from interop.conftest import RunningEngine
from interop.peers import (
    Baresip,
    free_even_port,
    free_port,
    rtp_capture,
    rtp_packets_to,
    run_sipp,
    sipp_background,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

NUMBER = "+442071234567"
FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "number"},
    "number": {"type": "set", "variables": {"callback_number": NUMBER}, "next": "callback"},
    "callback": {"type": "callback", "queue": "support-l1", "number_variable": "callback_number",
                 "next": "thanks"},
    "thanks": {"type": "say", "text": "We will call you back.", "next": "bye"},
    "bye": {"type": "hangup", "reason": "callback_requested"},
}}  # fmt: skip


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.1)


async def test_queued_callback_to_an_external_number_dials_through_the_trunk(
    running: RunningEngine, alice: Baresip, tmp_path: Path
) -> None:
    center = running.center
    assert center is not None
    carrier_port, carrier_media = free_port(), free_even_port()
    running.set_trunk(port=carrier_port)
    with running.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        version = max(v.version for v in flow.versions) + 1
        session.add(IvrFlowVersion(flow_id=flow.id, version=version, definition=FLOW))
        flow.published_version = version
        session.execute(update(Queue).values(wrapup_seconds=1))
        alice_id = session.scalars(select(Agent.id).where(Agent.sip_username == "alice")).one()
        trunk_id = session.scalars(select(Trunk.id).where(Trunk.name == "demo-carrier")).one()
    await running.engine.refresh_directory(force=True)
    await center.reload()
    assert not running.engine.registrations.lookup(NUMBER, running.engine.now())  # not a local phone
    with sipp_background(tmp_path, "uas_answer.xml", local_port=carrier_port, media_port=carrier_media,
                         calls=1, extra=["-rtp_echo"]) as carrier:  # fmt: skip
        caller = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_wait_bye.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=free_even_port(), service="1000", timeout=40,
        )  # fmt: skip
        assert caller.successful == 1, caller.output  # asked for the callback; Duplex said thanks, hung up
        assert len(center.callbacks) == 1 and not center.waiting  # the place is kept without the caller
        with rtp_capture(tmp_path, carrier_media) as pcap:
            center.set_state(alice_id, "available")
            await asyncio.to_thread(alice.wait_event, "CALL_ESTABLISHED", 20)
            await _until(lambda: bool(running.engine.trunks.channels_in_use(trunk_id)), 10)
            await asyncio.sleep(5.0)  # alice's tone goes to the carrier, which echoes it back
            alice.command("hangup")
            code = await asyncio.to_thread(carrier.wait, 15)  # the carrier got its BYE
    assert code == 0, (tmp_path / "sipp-bg-uas_answer.xml.log").read_text()
    to_carrier = rtp_packets_to(pcap, carrier_media)
    print(f"RTP to the carrier: {to_carrier}")
    assert to_carrier.packets >= 150  # about 5 s of 20-ms packets from the agent
    await _until(lambda: center.acd.agent_state(str(alice_id)) is AgentState.AVAILABLE, 10)
    assert running.engine.trunks.channels_in_use(trunk_id) == 0  # the channel is released
    await running.engine.store.flush()
    callback_id = next(e.call_id for e in running.events("queue.entered"))
    assert [e.data["reason"] for e in running.events("queue.left")] == ["callback"]
    customer = [e for e in running.events("leg.created") if e.data["trunk_id"] == trunk_id]
    assert len(customer) == 1 and NUMBER in customer[0].data["remote_uri"]
    assert customer[0].data["kind"] == "caller" and customer[0].call_id != callback_id
    with running.sessions() as session:
        call = session.get(Call, customer[0].call_id)
        assert call is not None and call.ended_at is not None
    assert any(e.call_id == customer[0].call_id for e in running.events("call.bridged"))
