"""call.quality end to end inside one engine: it calls its own echo number (1001), so both legs of a real
RTP call over loopback end and report; a leg that fails before answer reports nothing."""

from __future__ import annotations

import asyncio

import pytest
from engine_fixtures import EngineEnv, engine_options, memory_env
from sqlalchemy import select

from duplex.db.models import CallLeg
from duplex.services.calls.call import Call
from duplex.services.calls.uac import originate

__all__ = ["memory_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)


async def test_each_answered_leg_reports_quality_once_before_it_ends(memory_env: EngineEnv) -> None:
    engine = memory_env.engine
    call = Call(engine, direction="outbound", from_number="duplex", to_number="1001")
    leg = await originate(
        call, f"sip:1001@127.0.0.1:{memory_env.port}", contact=("127.0.0.1", memory_env.port)
    )
    assert await asyncio.wait_for(leg.answered, 5)
    await asyncio.sleep(1.5)
    await leg.hangup("done")
    await asyncio.wait_for(call.ended.wait(), 5)
    await asyncio.sleep(0.3)  # the echo side's leg ends on our BYE
    await engine.store.flush()

    quality = memory_env.events("call.quality")
    ended = memory_env.events("leg.ended")
    assert len(quality) == 2 and len({e.leg_id for e in quality}) == 2
    assert {e.leg_id for e in quality} == {e.leg_id for e in ended}
    for q in quality:
        (end,) = [e for e in ended if e.leg_id == q.leg_id]
        assert q.id < end.id and q.call_id == end.call_id
        d = q.data
        # 1.5 s of 20 ms packets each way over loopback, none lost. Jitter here is the event loop's send timing,
        # a few ms on an idle machine and more on a busy one (the jitter arithmetic has its own tests in media/)
        assert d["codec"] in ("PCMU", "PCMA") and d["packets_received"] >= 50 and d["packets_sent"] >= 50
        assert d["packets_lost"] == 0 and d["loss_ratio"] == 0.0 and d["jitter_ms"] < 40.0
        assert d["mos"] is not None and d["mos"] >= 4.0 and d["mos"] == d["mos_received"]
    with memory_env.sessions() as session:
        rows = {r.id: r for r in session.scalars(select(CallLeg))}
    for q in quality:  # the CDR leg rows carry it
        row = rows[str(q.leg_id)]
        assert (row.packets_lost, row.jitter_ms, row.mos) == (0, q.data["jitter_ms"], q.data["mos"])


async def test_a_leg_that_fails_before_answer_reports_nothing(memory_env: EngineEnv) -> None:
    engine = memory_env.engine
    call = Call(engine, direction="outbound", from_number="duplex", to_number="0000")
    leg = await originate(
        call, f"sip:0000@127.0.0.1:{memory_env.port}", contact=("127.0.0.1", memory_env.port)
    )
    assert not await asyncio.wait_for(leg.answered, 5)
    await asyncio.wait_for(call.ended.wait(), 5)
    await engine.store.flush()
    assert leg.sip_status is not None and leg.sip_status >= 400
    assert len(memory_env.events("leg.ended")) >= 1
    assert memory_env.events("call.quality") == []
