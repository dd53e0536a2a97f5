"""Queue calls and agents' own calls, with real phones. A queue call that the agent transfers (REFER, blind): the caller came through the IVR flow and the queue,
whose flow keeps the caller after the agent for its after-call node. The agent's leaving by transfer must not
end the call: the caller goes on with the transfer target (each hears the other), and the flow's after-call
node runs only when that call ends. Real phones: baresips sending a tone each."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from duplex.acd import AgentState
from interop.conftest import RunningEngine
from interop.peers import Baresip
from interop.test_conference import TONES, USERS, heard, publish_queue_flow, rung, until
from interop.tone_phones import captures, phone, received

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]


async def test_a_queue_call_transferred_by_the_agent_goes_on_with_the_target(
    running: RunningEngine, tmp_path: Path
) -> None:
    center = running.center
    assert center is not None
    phones: dict[str, Baresip] = {}
    try:
        for who, user in USERS.items():
            phones[who] = await phone(running, tmp_path, user, running.sip_password(user), TONES[who])
        alice, carol = await publish_queue_flow(running)
        with captures(tmp_path, phones) as pcaps:
            phones["customer"].command("dial", f"sip:1000@127.0.0.1:{running.port}")
            await until(lambda: rung(running, alice), "the queue call reaches alice", 20)
            call = rung(running, alice)
            assert call is not None
            phones["agent"].command("transfer", f"sip:2003@127.0.0.1:{running.port}")
            await asyncio.to_thread(phones["agent"].wait_event, "CALL_CLOSED", 10)
            await until(lambda: rung(running, carol) is call, "carol joins the customer's call")
            await until(lambda: center.acd.agent_state(str(alice)) is AgentState.WRAP_UP, "alice wraps up")
            start = time.time()
            await asyncio.sleep(3.0)
            end = time.time()
            assert not call.ended.is_set(), "the flow ended the caller's call when the agent transferred it"
            phones["consulted"].command("hangup")
            await asyncio.wait_for(call.ended.wait(), 10)  # the flow's after-call node: bye
            await asyncio.to_thread(phones["customer"].wait_event, "CALL_CLOSED", 10)
        got = {who: received(pcaps[who], phones[who].rtp_ports) for who in ("customer", "consulted")}
        actual = {who: heard(packets, start + 0.5, end - 0.2) for who, packets in got.items()}
        assert actual == {"customer": {"consulted"}, "consulted": {"customer"}}
    finally:
        for p in phones.values():
            await asyncio.to_thread(p.stop)
    await running.engine.store.flush()
    transferred = running.events("call.transferred")
    assert len(transferred) == 1 and "2003" in transferred[0].data["target"]


async def test_an_agent_on_a_call_of_their_own_is_not_offered_queue_calls(
    running: RunningEngine, tmp_path: Path
) -> None:
    """Alice, available, dials the echo test from her phone: the ACD counts her busy while that call lasts, so a
    caller queued for her waits instead of ringing her; her hang-up starts the default wrap-up."""
    center = running.center
    assert center is not None
    phones: dict[str, Baresip] = {}
    try:
        for who in ("customer", "agent"):
            user = USERS[who]
            phones[who] = await phone(running, tmp_path, user, running.sip_password(user), TONES[who])
        alice, _ = await publish_queue_flow(running)
        phones["agent"].command("dial", f"sip:1001@127.0.0.1:{running.port}")
        await asyncio.to_thread(phones["agent"].wait_event, "CALL_ESTABLISHED", 10)
        await until(
            lambda: center.acd.agent_state(str(alice)) is AgentState.ON_CALL, "alice busy on her call"
        )
        phones["customer"].command("dial", f"sip:1000@127.0.0.1:{running.port}")
        await until(lambda: len(center.waiting) == 1, "the customer queued", 20)
        await asyncio.sleep(2.0)
        assert rung(running, alice) is None and center.acd.offered_call(str(alice)) is None
        assert center.acd.agent_state(str(alice)) is AgentState.ON_CALL
        phones["agent"].command("hangup")
        await until(lambda: center.acd.agent_state(str(alice)) is AgentState.WRAP_UP, "alice wraps up")
    finally:
        for p in phones.values():
            await asyncio.to_thread(p.stop)
    await running.engine.store.flush()
    states = [e.data.get("to") for e in running.events("agent.state_changed") if e.agent_id == alice]
    assert "on_call" in states
