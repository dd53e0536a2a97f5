"""A caller keys a PIN at a sensitive input node on a switch in memory (`test_inbound_memory` sets it up the
same way): the flow branches on the real digits, while the event record (and so the screen pop, which is
read from it, and the webhooks, which send it) holds only masks: "••••" for the variable, "•" for each key."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select
from test_inbound_memory import (
    AgentPhone,
    EngineEnv,
    _call_1000,
    _center,
    _prepare,
    _press,
    _until,
    memory_env,
    phone,
)

from duplex.crm import call_story
from duplex.db.models import Event, IvrFlow, IvrFlowVersion
from duplex.events.record import envelope_of
from duplex.ivr import KEY_MASK, SENSITIVE_MASK, validate_flow

__all__ = ["memory_env", "phone"]

PIN = "4321"

PIN_FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "pin"},
    "pin": {"type": "input", "prompt": {"say": "Please key in your PIN."}, "variable": "pin", "sensitive": True,
            "max_digits": 4, "timeout_seconds": 5, "next": "check"},
    "check": {"type": "branch", "rules": [{"if": [{"var": "pin", "op": "eq", "value": PIN}], "goto": "right"}],
              "default": "wrong"},
    "right": {"type": "hangup", "reason": "pin_accepted"},
    "wrong": {"type": "hangup", "reason": "pin_refused"},
}}  # fmt: skip


async def test_a_pin_keyed_at_a_sensitive_input_is_never_recorded_and_still_branches(
    memory_env: EngineEnv, phone: AgentPhone
) -> None:
    assert validate_flow(PIN_FLOW) == []
    await _prepare(memory_env)
    with memory_env.sessions() as session, session.begin():
        flow = session.scalars(select(IvrFlow).filter_by(name="demo-main-menu")).one()
        session.add(IvrFlowVersion(flow_id=flow.id, version=94, definition=PIN_FLOW))
        flow.published_version = 94
    _, caller = await _call_1000(memory_env)
    for digit in PIN:
        await _press(caller, digit)
    await asyncio.wait_for(caller.ended.wait(), 15)  # the branch took the right PIN: the flow hung up
    await _until(lambda: not _center(memory_env).active)
    await memory_env.engine.store.flush()
    with memory_env.sessions() as session:
        rows = list(session.scalars(select(Event).order_by(Event.id)))
    call_id = next(e.call_id for e in rows if e.type == "ivr.entered")  # the caller's call on the switch
    envelopes = [envelope_of(e) for e in rows if e.call_id == call_id]
    assert not any(PIN in json.dumps(e.data) for e in rows)  # no event of any call holds the PIN
    keys = [e.data["digit"] for e in rows if e.type == "dtmf.received"]
    assert keys == [KEY_MASK] * len(PIN)  # every key was heard, none recorded
    variables = [e.data for e in envelopes if e.type == "ivr.variable_set"]
    assert [(v["variable"], v["value"], v["sensitive"]) for v in variables] == [("pin", SENSITIVE_MASK, True)]
    assert [e.data["to"] for e in envelopes if e.type == "ivr.left"] == ["pin_accepted"]
    story = call_story(envelopes, envelopes[-1].ts_ms)  # what the agent's screen pop shows
    assert [(i.variable, i.value, i.sensitive) for i in story.ivr_inputs] == [("pin", SENSITIVE_MASK, True)]
    assert [(k.digit, k.node) for k in story.key_presses] == [(KEY_MASK, "pin")] * len(PIN)
