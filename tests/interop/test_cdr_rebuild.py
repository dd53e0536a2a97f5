"""CDRs are a pure projection of the event record: after real calls through the engine (echo, an agent
bridged to a carrier with trunk failover, a blind and an attended transfer), `rebuild_calls` - what
``duplex db rebuild-projections`` runs - reproduces exactly the `calls` and `call_legs` rows the live calls
left behind. The engine writes no call or leg row itself any more, so any field missing from the events
would show up here as a difference (or as an empty column in the checks below)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cdr_snapshot import cdr_snapshot
from duplex.db.models import Trunk
from duplex.reports.projections import rebuild_calls
from duplex.services.calls.apps import APPLICATIONS
from duplex.services.calls.call import Call, Leg
from duplex.services.calls.uac import OutboundLeg, originate
from duplex.services.calls.uas import InboundLeg
from duplex.telephony.registrar import Binding, Source
from interop.conftest import RunningEngine, agent_calls_out_with_failover
from interop.peers import free_even_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < end, "condition not reached"
        await asyncio.sleep(0.05)


async def _echo_call(running: RunningEngine) -> None:
    """The engine calls its own echo number 1001 (two legs in two calls), then hangs up."""
    call = Call(running.engine, direction="outbound", from_number="echo-test", to_number="1001")
    leg = await originate(call, f"sip:1001@127.0.0.1:{running.port}", contact=("127.0.0.1", running.port))
    assert await asyncio.wait_for(leg.answered, 5)
    await asyncio.sleep(0.3)
    await leg.hangup("done")
    await asyncio.wait_for(call.ended.wait(), 5)


async def _agent_out_via_failover(running: RunningEngine, tmp_path: Path) -> None:
    """alice (sipp, authenticated) calls +44...: the first trunk answers 503, the backup answers."""
    result = await agent_calls_out_with_failover(
        running, tmp_path, media_port=free_even_port(), duration_ms=1000
    )
    assert result.successful == 1, result.output


async def _pair(running: RunningEngine, name: str) -> tuple[OutboundLeg, InboundLeg]:
    """A "phone" leg of the engine calling its own (parked) 1001, and the engine-side leg it reached."""
    engine = running.engine
    call = Call(engine, direction="outbound", from_number=name, to_number="1001")
    out = await originate(call, f"sip:1001@127.0.0.1:{running.port}", contact=("127.0.0.1", running.port))
    assert await asyncio.wait_for(out.answered, 5) and out.invite_request is not None
    sip_call_id = out.invite_request.call_id

    def inbound() -> InboundLeg | None:
        legs = (leg for c in list(engine.calls.values()) for leg in c.legs)
        return next((g for g in legs if isinstance(g, InboundLeg) and g.invite.call_id == sip_call_id
                     and g.is_up), None)  # fmt: skip

    await _until(lambda: inbound() is not None)
    leg = inbound()
    assert leg is not None
    return out, leg


async def _transfers(running: RunningEngine, monkeypatch: pytest.MonkeyPatch) -> list[Leg]:
    """A blind REFER to bob's extension (bob's phone is the engine's parked 1001) and an attended one."""

    async def park(leg: Leg) -> None:
        await leg.answer()
        await leg.ended.wait()

    monkeypatch.setitem(APPLICATIONS, "echo", park)
    engine, now = running.engine, running.engine.now()
    engine.registrations.registrar.restore([Binding(
        aor="bob", contact=f"sip:1001@127.0.0.1:{running.port}", expires_at=now + 300,
        source=Source(transport="udp", host="127.0.0.1", port=running.port), updated_at=now,
    )], now)  # fmt: skip
    _, caller = await _pair(running, "caller")
    alice_phone, alice = await _pair(running, "alice")
    await caller.bridge(alice)
    assert await alice_phone.transfer("2002")
    await _until(lambda: len(alice_phone.notifications) == 2)
    _, transferee = await _pair(running, "caller2")
    alice_phone, alice = await _pair(running, "alice")
    consult_phone, consult = await _pair(running, "alice")
    _, bob = await _pair(running, "bob")
    await transferee.bridge(alice)
    await consult.bridge(bob)
    assert await alice_phone.transfer("2002", replaces=consult_phone)
    await asyncio.wait_for(consult_phone.ended.wait(), 5)
    assert bob.call is transferee.call
    return [caller, transferee, bob]


async def test_rebuilt_cdrs_equal_the_live_ones(
    running: RunningEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _echo_call(running)
    await _agent_out_via_failover(running, tmp_path)
    moved_call_legs = await _transfers(running, monkeypatch)
    await running.engine.stop()  # hangs up what is left; everything is written
    live = cdr_snapshot(running.sessions)

    calls, legs = live["calls"], live["call_legs"]
    assert len(calls) >= 12 and all(c["state"] == "ended" for c in calls.values())
    assert all(g["sip_call_id"] and g["ended_at"] is not None for g in legs.values())
    with running.sessions() as session:
        backup = session.scalars(select(Trunk).where(Trunk.name == "backup-carrier")).one().id
    (carrier,) = [c for c in calls.values() if c["trunk_id"] == backup]
    assert carrier["agent_id"] is not None and carrier["agent_answered_at"] is not None
    trunk_legs = sorted((g for g in legs.values() if g["call_id"] == carrier["id"] and g["kind"] == "trunk"),
                        key=lambda g: g["started_at"])  # fmt: skip
    assert [g["sip_status"] for g in trunk_legs][0] == 503 and trunk_legs[-1]["codec"] in ("PCMU", "PCMA")
    _, transferee, bob = moved_call_legs
    assert legs[bob.id]["call_id"] == transferee.call.id  # the consulted party's leg moved calls
    assert legs[bob.id]["kind"] == "caller" and legs[bob.id]["answered_at"] is not None
    assert sum(c["transfers"] for c in calls.values()) >= 3

    assert rebuild_calls(running.sessions) == len(calls)
    assert cdr_snapshot(running.sessions) == live
