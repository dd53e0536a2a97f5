"""ACD timers at their real values, on virtual time (`virtual_time`): an agent who does not answer is marked
not responding after the queue's 15 s ring timeout and the call rings the next agent; a caller nobody takes
leaves the queue after its 60 s max wait, by the flow's timeout branch. (These tests ran with the settings
shrunk to 1-2 s before; they now keep the real values.)

The switch and its contact center run in memory (`test_inbound_memory` sets them up the same way); the
caller's and the agent's media are the switch's own in-process RTP on 127.0.0.1, paced on the same clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import update
from test_inbound_memory import AgentPhone, _call_1000, _center, _prepare, _press, _until, phone

from duplex.acd import AgentState
from duplex.db.models import Queue
from duplex.services.calls.call import Leg
from virtual_time import memory_switch

__all__ = ["phone"]

pytestmark = [pytest.mark.looptime, pytest.mark.timeout(20)]


async def test_unanswered_offer_times_out_after_the_ring_timeout_and_rings_the_next_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phone: AgentPhone
) -> None:
    rings: list[float] = []

    async def first_never_answers(leg: Leg) -> None:
        rings.append(asyncio.get_running_loop().time())
        if len(rings) == 1:
            await AgentPhone.never_answer(leg)
        else:
            await AgentPhone.answer_then_hang_up(leg)

    phone.script = first_never_answers
    async with memory_switch(tmp_path, monkeypatch) as env:
        agents = await _prepare(env, ring_timeout=15)
        center = _center(env)
        pair = {str(agents["bob"]), str(agents["carol"])}
        for agent in pair:
            center.set_state(int(agent), "available")
        _, caller = await _call_1000(env)
        await _press(caller, "2")
        await _until(lambda: any(center.acd.agent_state(a) is AgentState.ON_CALL for a in pair), 30)
        await caller.hangup("done")
        await env.engine.store.flush()
        offered = [e.agent_id for e in env.events("agent.offered")]
        no_answer = [(e.agent_id, e.data["ring_ms"]) for e in env.events("agent.no_answer")]
        first, second = offered
        assert center.acd.agent_state(str(first)) is AgentState.NOT_RESPONDING
    assert {str(first), str(second)} == pair  # the call went on to the other agent
    assert no_answer == [(first, 15_000)]  # the queue's ring timeout, to the millisecond
    assert rings[1] - rings[0] == pytest.approx(15.0, abs=0.01)  # the next phone rings as the first stops


async def test_caller_past_the_queues_max_wait_takes_the_timeout_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phone: AgentPhone
) -> None:
    async with memory_switch(tmp_path, monkeypatch) as env:
        await _prepare(env)
        with env.sessions() as session, session.begin():
            session.execute(update(Queue).where(Queue.name == "support-l1").values(
                max_wait_seconds=60, escalate_after_seconds=None))  # fmt: skip
        center = _center(env)
        await center.reload()
        loop = asyncio.get_running_loop()
        _, caller = await _call_1000(env)
        await _press(caller, "2")
        await _until(lambda: bool(center.waiting), 10)  # nobody is staffed
        queued_at = loop.time()
        await asyncio.wait_for(caller.ended.wait(), 90)  # max wait -> on_timeout -> bye: the flow hangs up
        ended_at = loop.time()
        await env.engine.store.flush()
        left = [(e.data["reason"], e.data["waited_ms"]) for e in env.events("queue.left")]
    assert len(left) == 1 and left[0][0] == "timeout" and not center.waiting
    assert abs(left[0][1] - 60_000) <= 1  # waited exactly the queue's max wait
    assert ended_at - queued_at == pytest.approx(60.0, abs=0.1)


async def test_each_queue_rings_its_agents_for_its_own_ring_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phone: AgentPhone
) -> None:
    async with memory_switch(tmp_path, monkeypatch) as env:
        agents = await _prepare(env)  # 15 s in every queue
        with env.sessions() as session, session.begin():
            session.execute(update(Queue).where(Queue.name == "support-l1").values(ring_timeout_seconds=20))
        center = _center(env)
        await center.reload()
        phone.script = AgentPhone.never_answer
        center.set_state(agents["bob"], "available")
        _, caller = await _call_1000(env)
        await _press(caller, "2")
        await _until(lambda: center.acd.agent_state(str(agents["bob"])) is AgentState.NOT_RESPONDING, 30)
        await caller.hangup("done")
        await env.engine.store.flush()
        offered = [e.data["ring_timeout_s"] for e in env.events("agent.offered")]
        ring_ms = env.events("agent.no_answer")[0].data["ring_ms"]
    assert offered == [20.0]
    assert abs(ring_ms - 20_000) <= 1  # the queue's 20 s, not the 15 s default


async def test_no_answer_requeues_at_the_head_and_rings_the_next_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phone: AgentPhone
) -> None:
    async with memory_switch(tmp_path, monkeypatch) as env:
        agents = await _prepare(env)  # the 15 s ring timeout
        center = _center(env)
        phone.script = AgentPhone.never_answer
        center.set_state(agents["bob"], "available")
        _, caller = await _call_1000(env)
        await _press(caller, "2")
        await _until(lambda: center.acd.agent_state(str(agents["bob"])) is AgentState.NOT_RESPONDING, 30)
        assert center.acd.position(next(iter(center.waiting))) == 1  # back at the head
        await _until(lambda: all(leg.ended.is_set() for leg in phone.legs))  # the ring was cancelled
        phone.script = AgentPhone.answer_then_hang_up
        center.set_state(agents["carol"], "available")
        await _until(lambda: center.acd.agent_state(str(agents["carol"])) is AgentState.ON_CALL)
        await env.engine.store.flush()
        assert [e.agent_id for e in env.events("agent.no_answer")] == [agents["bob"]]
        await caller.hangup("done")
