"""IVR timers on virtual time (`virtual_time`): a menu's digit timeout fires after exactly its configured
seconds on the loop's clock, counted from the end of its prompt, then the retry prompt plays; after the last
retry the timeout branch hangs up.

The flow runs on a switch in memory (`test_inbound_memory` sets it up the same way). What the call layer feeds
the sans-IO run (`FlowRun.handle` / `handle_timer`) is watched with the loop's clock beside it; the run itself
is the real one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_inbound_memory import AgentPhone, _call_1000, _center, _prepare, _until, phone

from duplex.db.models import IvrFlow, IvrFlowVersion
from duplex.ivr import FlowRun, Hangup, InputEvent, Output, PromptDone, RunState, Say, validate_flow
from virtual_time import memory_switch

__all__ = ["phone"]

pytestmark = [pytest.mark.looptime, pytest.mark.timeout(30)]

TIMEOUT_SECONDS = 5

MENU_FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "menu"},
    "menu": {"type": "menu", "prompt": {"say": "For support, press 2."}, "options": {"2": "bye"},
             "timeout_seconds": TIMEOUT_SECONDS, "max_retries": 1,
             "retry_prompt": {"say": "Sorry, I did not hear a key."}, "on_timeout": "no_key"},
    "no_key": {"type": "hangup", "reason": "no_input"},
    "bye": {"type": "hangup", "reason": "done"},
}}  # fmt: skip


class RunWatch:
    """When (on the loop's clock) a prompt ended and the run started waiting for digits, and when a timer of
    the run fired and what it did."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.collecting: list[float] = []  # a prompt ended: the digit timeout starts
        self.fired: list[tuple[float, list[Output]]] = []
        handle, handle_timer = FlowRun.handle, FlowRun.handle_timer

        def watched_handle(run: FlowRun, event: InputEvent, now: float) -> list[Output]:
            before = run.state
            outputs = handle(run, event, now)
            if isinstance(event, PromptDone) and before is RunState.COLLECT_PROMPT:
                self.collecting.append(asyncio.get_running_loop().time())
            return outputs

        def watched_timer(run: FlowRun, now: float) -> list[Output]:
            outputs = handle_timer(run, now)
            if outputs:  # an early wake-up does nothing and returns nothing
                self.fired.append((asyncio.get_running_loop().time(), outputs))
            return outputs

        monkeypatch.setattr(FlowRun, "handle", watched_handle)
        monkeypatch.setattr(FlowRun, "handle_timer", watched_timer)


async def test_a_menus_digit_timeout_fires_after_its_seconds_then_the_retry_then_the_timeout_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phone: AgentPhone
) -> None:
    assert validate_flow(MENU_FLOW) == []
    watch = RunWatch(monkeypatch)
    async with memory_switch(tmp_path, monkeypatch) as env:
        await _prepare(env)
        with env.sessions() as session, session.begin():
            flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
            session.add(IvrFlowVersion(flow_id=flow.id, version=96, definition=MENU_FLOW))
            flow.published_version = 96
        loop = asyncio.get_running_loop()
        _, caller = await _call_1000(env)
        await asyncio.wait_for(caller.ended.wait(), 60)  # the caller presses nothing
        ended_at = loop.time()
        await _until(lambda: not _center(env).active)  # the flow has recorded its end
        await env.engine.store.flush()
        left = [e.data["to"] for e in env.events("ivr.left")]
    assert len(watch.collecting) == 2 and len(watch.fired) == 2  # the prompt, the retry prompt
    for prompt_ended, (fired_at, _) in zip(watch.collecting, watch.fired, strict=True):
        assert fired_at - prompt_ended == pytest.approx(TIMEOUT_SECONDS, abs=0.001)
    (_, first), (_, second) = watch.fired
    assert [o.text for o in first if isinstance(o, Say)] == ["Sorry, I did not hear a key."]
    assert [o.reason for o in second if isinstance(o, Hangup)] == ["no_input"]
    assert watch.collecting[1] > watch.fired[0][0]  # the retry prompt played before its own timeout began
    assert ended_at - watch.fired[1][0] == pytest.approx(0.0, abs=0.05)  # the BYE went at once
    assert left == ["no_input"]
