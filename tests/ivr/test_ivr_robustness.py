"""Hangups at every node, time zones across daylight saving, and random event sequences."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flowkit import ALL_TYPES, MONDAY_10, entered, flow, run, say
from hypothesis import given, settings
from hypothesis import strategies as st

from duplex.ivr import (
    AgentHungUp,
    Answered,
    CallContext,
    CallerHungUp,
    Digit,
    Flow,
    FlowEnded,
    FlowRun,
    Hangup,
    InputEvent,
    LookupResult,
    NodeEntered,
    Output,
    PromptDone,
    QueueOutcome,
    QueueResult,
    RecordingDone,
    RunState,
    demo_flow,
)

T = MONDAY_10
WAITING_STATES = [s for s in RunState if s not in (RunState.READY, RunState.DONE)]


def started_at(node_id: str, definition: dict[str, Any]) -> FlowRun:
    r, _ = run({**definition, "start": node_id}, validate=False)
    return r


@pytest.mark.parametrize("node_id", sorted(ALL_TYPES["nodes"]))
@pytest.mark.parametrize("after_prompt", [False, True])
def test_caller_hangup_at_every_node_ends_cleanly(node_id: str, after_prompt: bool) -> None:
    r = started_at(node_id, ALL_TYPES)
    if after_prompt:
        r.handle(PromptDone(), T + 1)
    if r.finished:  # transfer and hangup nodes end by themselves
        assert r.end_reason in ("transferred", "flow_hangup")
        return
    where = r.node_id
    out = r.handle(CallerHungUp(), T + 2)
    assert out == [FlowEnded(reason="caller_hung_up", node_id=where)]
    assert r.finished and r.get_timer() is None
    for late in (Digit(digit="1"), PromptDone(), CallerHungUp(), AgentHungUp(), RecordingDone()):
        assert r.handle(late, T + 3) == []
    assert r.handle_timer(T + 10_000) == []


def test_caller_hangup_while_with_an_agent_and_before_start() -> None:
    r, _ = run(
        flow(
            {
                "q": {"type": "queue", "queue": "sales", "after_call": "s"},
                "s": {"type": "csat", "prompt": {"say": "rate"}, "next": "bye"},
                "bye": {"type": "hangup"},
            }
        )
    )
    r.handle(QueueResult(outcome=QueueOutcome.ANSWERED), T)
    assert r.handle(CallerHungUp(), T + 30) == [FlowEnded(reason="caller_hung_up", node_id="q")]
    fresh = FlowRun(Flow.from_definition(ALL_TYPES), CallContext(caller_id="+40721000001"))
    assert fresh.handle(Digit(digit="1"), T) == [] and fresh.state is RunState.READY
    assert fresh.handle(CallerHungUp(), T) == [FlowEnded(reason="caller_hung_up", node_id=None)]
    assert fresh.start(T) == []


# ---- business hours across daylight saving ---------------------------------------------------------------

OFFICE = {
    "h": {"type": "hours", "schedule": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}, "open": "o", "closed": "c"},
    "o": say("open"),
    "c": say("closed"),
    "bye": {"type": "hangup"},
}  # fmt: skip


def at_utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("zone", "utc", "expected"),
    [
        # Bucharest: EET (UTC+2) until Sunday 2027-03-28, then EEST (UTC+3).
        ("Europe/Bucharest", (2027, 3, 26, 6, 30), "c"),  # Friday 08:30 local
        ("Europe/Bucharest", (2027, 3, 29, 6, 30), "o"),  # Monday 09:30 local: same UTC time, opened by DST
        ("Europe/Bucharest", (2027, 3, 26, 14, 30), "o"),  # Friday 16:30 local
        ("Europe/Bucharest", (2027, 3, 29, 14, 30), "c"),  # Monday 17:30 local
        # Back to EET on Sunday 2026-10-25.
        ("Europe/Bucharest", (2026, 10, 23, 6, 30), "o"),  # Friday 09:30 EEST
        ("Europe/Bucharest", (2026, 10, 26, 6, 30), "c"),  # Monday 08:30 EET
        # New York switches on another date (2027-03-14): the flow's own zone decides.
        ("America/New_York", (2027, 3, 12, 13, 30), "c"),  # Friday 08:30 EST
        ("America/New_York", (2027, 3, 15, 13, 30), "o"),  # Monday 09:30 EDT
    ],
)
def test_business_hours_follow_the_flows_time_zone_across_dst(
    zone: str, utc: tuple[int, ...], expected: str
) -> None:
    _, out = run({"start": "h", "timezone": zone, "nodes": OFFICE}, now=at_utc(*utc))
    assert entered(out) == ["h", expected]


def test_node_time_zone_overrides_the_flows() -> None:
    nodes = {**OFFICE, "h": {**OFFICE["h"], "timezone": "Asia/Tokyo"}}
    monday_10_tokyo = dt.datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    assert (
        entered(run({"start": "h", "timezone": "Europe/Bucharest", "nodes": nodes}, now=monday_10_tokyo)[1])[
            1
        ]
        == "o"
    )


# ---- random event sequences ------------------------------------------------------------------------------

EVENTS: st.SearchStrategy[InputEvent | str] = st.one_of(
    st.sampled_from("0123456789*#").map(lambda d: Digit(digit=d)),
    st.just(PromptDone()),
    st.just(Answered()),
    st.just(AgentHungUp()),
    st.just(RecordingDone()),
    st.sampled_from(list(QueueOutcome)).map(lambda o: QueueResult(outcome=o)),
    st.builds(
        LookupResult,
        request_id=st.sampled_from(["lookup#1", "lookup#2", "other"]),
        status=st.none() | st.sampled_from([200, 404, 500]),
        body=st.none() | st.just({"customer": {"tier": "gold"}}) | st.just([1, 2]) | st.text(max_size=5),
        error=st.none() | st.just("timeout"),
    ),
    st.just("timer"),  # let time run to the next timer
    st.floats(min_value=0, max_value=30).map(lambda s: f"wait {s}"),
)
FLOWS = {"demo": demo_flow(), "all-types": ALL_TYPES}


def drive(r: FlowRun, items: list[InputEvent | str], now: float, seen: list[Output]) -> float:
    """Feed `items` ("timer": jump to the next timer, "wait S": let S seconds pass), collecting outputs."""
    for item in items:
        if item == "timer":
            now = max(now, r.get_timer() or now)
            seen += r.handle_timer(now)
        elif isinstance(item, str):
            now += float(item.split()[1])
            seen += r.handle_timer(now)
        else:
            seen += r.handle(item, now)
        assert r.get_timer() is None or r.state in WAITING_STATES
    return now


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(FLOWS)),
    items=st.lists(EVENTS, max_size=60),
    start=st.integers(0, 7 * 24 * 3600),
)
def test_random_events_never_raise_and_a_hangup_always_ends_the_run(
    name: str, items: list[InputEvent | str], start: int
) -> None:
    r, seen = run(FLOWS[name], now=T + start)
    now = drive(r, items, T + start, seen)
    seen += r.handle(CallerHungUp(), now + 1)
    assert r.finished and r.get_timer() is None
    assert r.handle(Digit(digit="1"), now + 2) == [] and r.handle_timer(now + 1e6) == []
    ends = [i for i, o in enumerate(seen) if isinstance(o, FlowEnded)]
    assert len(ends) == 1 and ends[0] == len(seen) - 1  # ended once, and nothing came after
    assert sum(isinstance(o, Hangup) for o in seen) <= 1
    assert all(o.node_id in FLOWS[name]["nodes"] for o in seen if isinstance(o, NodeEntered))


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(sorted(FLOWS)),
    items=st.lists(EVENTS, max_size=40),
    start=st.integers(0, 7 * 24 * 3600),
)
def test_a_silent_caller_always_reaches_the_end(name: str, items: list[InputEvent | str], start: int) -> None:
    """After any prefix, a caller who never presses a key nor hangs up still leaves the flow: the timers (and an
    agent who hangs up) carry every run to its end, with exactly one FlowEnded."""
    r, seen = run(FLOWS[name], now=T + start)
    now = drive(r, items, T + start, seen)
    ended: list[FlowEnded] = []
    for _ in range(200):
        if r.finished:
            break
        if r.state is RunState.AGENT:
            out = r.handle(AgentHungUp(), now)
        else:
            deadline = r.get_timer()
            assert deadline is not None, f"waiting in {r.state} at {r.node_id} with no timer"
            now = max(now, deadline)
            out = r.handle_timer(now)
        ended += [o for o in out if isinstance(o, FlowEnded)]
    assert r.finished
    assert len(ended) <= 1 and (ended or r.end_reason is not None)
    if ended and ended[0].reason not in ("transferred", "abandoned", "caller_hung_up"):
        assert r.end_reason == ended[0].reason


def test_hangup_reason_reaches_the_call_layer_once() -> None:
    r, out = run(flow({"h": {"type": "hangup", "reason": "closed"}}))
    assert [o for o in out if isinstance(o, Hangup)] == [Hangup(reason="closed")]
    assert r.handle(CallerHungUp(), T) == []
