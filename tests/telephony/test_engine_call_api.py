"""The Call/Leg API end to end inside one engine: it calls its own echo number (1001) over UDP, so both the
UAC leg (originate, hold, transfer, DTMF) and the UAS leg (answer, re-INVITE, REFER) are exercised."""

from __future__ import annotations

import asyncio

import pytest
from engine_fixtures import EngineEnv, engine_options, memory_env

from duplex.services.calls.call import Call, LegState
from duplex.services.calls.uac import originate
from duplex.services.calls.uas import InboundLeg

__all__ = ["memory_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)


async def _call_echo(env: EngineEnv) -> tuple[Call, InboundLeg, object]:
    engine = env.engine
    call = Call(engine, direction="outbound", from_number="duplex", to_number="1001")
    leg = await originate(call, f"sip:1001@127.0.0.1:{env.port}", contact=("127.0.0.1", env.port))
    assert await asyncio.wait_for(leg.answered, 5)
    far = next(c for c in engine.calls.values() if c is not call)
    inbound = far.legs[0]
    assert isinstance(inbound, InboundLeg) and inbound.is_up
    return call, inbound, leg


async def test_originate_hold_unhold_dtmf_hangup(memory_env: EngineEnv) -> None:
    call, inbound, leg = await _call_echo(memory_env)
    assert leg.negotiated is not None and leg.negotiated.direction == "sendrecv"  # type: ignore[attr-defined]
    assert await leg.hold()  # type: ignore[attr-defined]
    assert leg.negotiated.direction == "sendonly"  # type: ignore[attr-defined]
    assert (
        inbound.remote_hold and inbound.negotiated is not None and inbound.negotiated.direction == "recvonly"
    )
    assert await leg.unhold()  # type: ignore[attr-defined]
    assert not inbound.remote_hold
    collected = asyncio.create_task(inbound.collect_digits(max_digits=5, timeout=5, terminator="#"))
    await asyncio.sleep(0.2)
    leg.media.send_dtmf("42#")  # type: ignore[attr-defined]
    assert await collected == "42"
    await leg.hangup("done")  # type: ignore[attr-defined]
    await asyncio.wait_for(inbound.ended.wait(), 5)
    assert inbound.end_reason == "remote_bye"
    await memory_env.engine.store.flush()
    held = memory_env.events("call.held")
    assert sorted(e.data["by"] for e in held) == ["duplex", "remote"]
    assert [e.data["digit"] for e in memory_env.events("dtmf.received")] == ["4", "2", "#"]
    ended = {e.call_id: e.data for e in memory_env.events("call.ended")}
    assert ended[call.id]["hangup_by"] == "duplex"
    assert ended[inbound.call.id]["reason"] == "caller_hangup"


async def test_blind_transfer_by_refer(memory_env: EngineEnv) -> None:
    call, inbound, leg = await _call_echo(memory_env)
    assert await leg.transfer("2002")  # type: ignore[attr-defined]
    await asyncio.wait_for(leg.ended.wait(), 5)  # type: ignore[attr-defined]
    assert inbound.state is LegState.ENDED
    await memory_env.engine.store.flush()
    transferred = memory_env.events("call.transferred")
    assert {e.call_id for e in transferred} == {call.id, inbound.call.id}
    assert all(
        e.data["target"].endswith(("2002", f"sip:2002@127.0.0.1:{memory_env.port}>")) for e in transferred
    )
