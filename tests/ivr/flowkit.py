"""Small builders for IVR tests: flows, runs and views of their outputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from duplex.ivr import CallContext, Flow, FlowRun, NodeEntered, Output, RecordEvent, load_flow
from duplex.ivr.events import FlowEnded, SurveyAnswered, VariableSet

BUCHAREST = ZoneInfo("Europe/Bucharest")
# Monday 2026-12-07 10:00 in Bucharest (EET, UTC+2): inside any office hours.
MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=BUCHAREST).timestamp()
CALLER = "+40721000001"


def flow(nodes: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"start": start or next(iter(nodes)), "timezone": "Europe/Bucharest", "nodes": nodes, **extra}


def run(
    definition: dict[str, Any], *, now: float = MONDAY_10, validate: bool = True, **context: Any
) -> tuple[FlowRun, list[Output]]:
    loaded = load_flow(definition) if validate else Flow.from_definition(definition)
    context.setdefault("caller_id", CALLER)
    context.setdefault("called_number", "1000")
    flow_run = FlowRun(loaded, CallContext(**context))
    return flow_run, flow_run.start(now)


def commands(outputs: Iterable[Output]) -> list[Output]:
    record = (NodeEntered, VariableSet, SurveyAnswered, FlowEnded)
    return [o for o in outputs if not isinstance(o, record)]


def entered(outputs: Iterable[Output]) -> list[str]:
    return [o.node_id for o in outputs if isinstance(o, NodeEntered)]


def records(outputs: Iterable[Output]) -> list[RecordEvent]:
    return [o for o in outputs if isinstance(o, NodeEntered | VariableSet | SurveyAnswered | FlowEnded)]


def say(text: str, *, nxt: str = "bye") -> dict[str, Any]:
    return {"type": "say", "text": text, "next": nxt}


HANGUP = {"type": "hangup"}

# One node of every type, every node reachable, so a test can visit each of them.
ALL_TYPES: dict[str, Any] = flow(
    {
        "answer": {"type": "answer", "next": "hours"},
        "hours": {
            "type": "hours",
            "schedule": {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": ["2026-12-25"],
            "open": "lookup",
            "closed": "closed",
        },
        "closed": {"type": "voicemail", "prompt": {"say": "We are closed."}, "max_seconds": 60},
        "lookup": {
            "type": "lookup",
            "url": "https://crm.example/customers?phone=${caller_id}",
            "map": {"tier": "customer.tier"},
            "next": "vip",
            "on_error": "welcome",
        },
        "vip": {
            "type": "branch",
            "rules": [{"if": [{"var": "tier", "op": "eq", "value": "gold"}], "goto": "set_vip"}],
            "default": "welcome",
        },
        "set_vip": {"type": "set", "variables": {"priority": 9}, "next": "welcome"},
        "welcome": {"type": "play", "file": "welcome.wav", "next": "menu"},
        "menu": {
            "type": "menu",
            "prompt": {
                "say": {"en": "Press 1 for sales, 2 for an account, 3 for a callback, 4 for an operator."}
            },
            "options": {"1": "sales", "2": "account", "3": "callback", "4": "operator", "5": "external"},
            "on_invalid": "bye",
            "on_timeout": "sales",
        },
        "account": {
            "type": "input",
            "prompt": {"say": "Enter your account number, then hash."},
            "variable": "account",
            "pattern": "[0-9]{4,8}",
            "min_digits": 4,
            "max_digits": 8,
            "next": "sales",
            "on_invalid": "bye",
            "on_timeout": "bye",
        },
        "sales": {
            "type": "queue",
            "queue": "sales",
            "skills": ["sales", {"name": "english", "min_proficiency": 50}],
            "priority": "${priority}",
            "on_overflow": "closed",
            "on_timeout": "closed",
            "after_call": "survey",
        },
        "survey": {"type": "csat", "prompt": {"say": "Rate us from 1 to 5."}, "next": "bye"},
        "callback": {"type": "callback", "queue": "sales", "next": "bye"},
        "operator": {"type": "transfer", "agent": "alice"},
        "external": {"type": "transfer", "number": "+40215550199"},
        "bye": {"type": "say", "text": "Goodbye.", "next": "end"},
        "end": HANGUP,
    },
    variables={"priority": 1},
)
