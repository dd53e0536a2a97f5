"""Each node type of the flow interpreter, driven with events and `now` only."""

from __future__ import annotations

import pytest
from flowkit import ALL_TYPES, CALLER, HANGUP, MONDAY_10, commands, entered, flow, run, say

from duplex.ivr import (
    AgentHungUp,
    Answer,
    CollectDigits,
    Digit,
    Enqueue,
    FlowEnded,
    Hangup,
    HttpLookup,
    LookupResult,
    NodeEntered,
    OfferCallback,
    Play,
    PromptDone,
    QueueOutcome,
    QueueResult,
    RecordingDone,
    RunState,
    Say,
    StopPrompt,
    SurveyAnswered,
    Transfer,
    VariableSet,
    Voicemail,
)

T = MONDAY_10


def test_answer_say_hangup_in_order() -> None:
    r, out = run(
        flow({"a": {"type": "answer", "next": "hi"}, "hi": say("Hello ${caller_id}"), "bye": HANGUP})
    )
    assert out == [
        NodeEntered(node_id="a", node_type="answer", at=T),
        Answer(),
        NodeEntered(node_id="hi", node_type="say", at=T),
        Say(text=f"Hello {CALLER}", language="en", voice="en-gb"),
    ]
    assert r.state is RunState.PROMPT
    done = r.handle(PromptDone(), T + 2)
    assert done == [
        NodeEntered(node_id="bye", node_type="hangup", at=T + 2),
        Hangup(reason="flow_hangup"),
        FlowEnded(reason="flow_hangup", node_id="bye"),
    ]
    assert r.finished and r.get_timer() is None


def test_media_before_an_answer_node_answers_first() -> None:
    _, out = run(flow({"p": {"type": "play", "file": "x.wav", "next": "bye"}, "bye": HANGUP}))
    assert commands(out) == [Answer(), Play(file="x.wav")]


def test_say_picks_the_callers_language_and_its_voice() -> None:
    text = {"en": "Hello", "ro": "Bună ziua", "hu": "Jó napot"}
    definition = flow({"s": {"type": "say", "text": text, "next": "bye"}, "bye": HANGUP})
    _, out = run(definition, variables={"language": "ro"})
    assert commands(out)[-1] == Say(text="Bună ziua", language="ro", voice="ro")
    _, out = run(definition, variables={"language": "ru"})  # no Russian text: the flow's language
    assert commands(out)[-1] == Say(text="Hello", language="en", voice="en-gb")
    explicit = flow(
        {
            "s": {"type": "say", "text": "Szia", "language": "hu", "voice": "hu+f2", "next": "bye"},
            "bye": HANGUP,
        }
    )
    assert commands(run(explicit)[1])[-1] == Say(text="Szia", language="hu", voice="hu+f2")


MENU = flow(
    {
        "m": {
            "type": "menu",
            "prompt": {"say": "Press 1 or 2"},
            "retry_prompt": {"say": "Sorry. Press 1 or 2"},
            "options": {"1": "one", "2": "two"},
            "timeout_seconds": 4,
            "max_retries": 2,
            "on_invalid": "bad",
            "on_timeout": "quiet",
        },
        "one": say("one"),
        "two": say("two"),
        "bad": say("bad"),
        "quiet": say("quiet"),
        "bye": HANGUP,
    }
)


def test_menu_digit_after_the_prompt_goes_to_its_target() -> None:
    r, out = run(MENU)
    assert commands(out) == [Answer(), Say(text="Press 1 or 2", language="en", voice="en-gb"),
                             CollectDigits(max_digits=1, terminator="", timeout_seconds=4.0)]  # fmt: skip
    assert r.get_timer() is not None and r.handle(PromptDone(), T + 3) == []
    assert r.get_timer() == T + 7
    assert entered(r.handle(Digit(digit="2"), T + 4)) == ["two"]


def test_menu_barge_in_stops_the_prompt() -> None:
    r, _ = run(MENU)
    out = r.handle(Digit(digit="1"), T + 1)
    assert out[0] == StopPrompt() and entered(out) == ["one"]


def test_menu_garbage_is_retried_then_goes_to_on_invalid() -> None:
    r, _ = run(MENU)
    r.handle(PromptDone(), T + 1)
    for attempt in range(2):
        out = r.handle(Digit(digit="9"), T + 2 + attempt)
        assert commands(out)[0] == Say(text="Sorry. Press 1 or 2", language="en", voice="en-gb")
        r.handle(PromptDone(), T + 2.5 + attempt)
    assert entered(r.handle(Digit(digit="#"), T + 5)) == ["bad"]


def test_menu_silence_is_retried_then_goes_to_on_timeout() -> None:
    r, _ = run(MENU)
    seen: list[str] = []
    while not seen:
        r.handle(PromptDone(), r.get_timer() or 0)  # the prompt ends at once
        deadline = r.get_timer()
        assert deadline is not None
        seen = entered(r.handle_timer(deadline))
    assert seen == ["quiet"] and r.node_id == "quiet"


def test_menu_without_targets_hangs_up_after_retries() -> None:
    definition = flow(
        {
            "m": {"type": "menu", "prompt": {"play": "menu.wav"}, "options": {"1": "bye"}, "max_retries": 0},
            "bye": HANGUP,
        }
    )
    r, _ = run(definition)
    r.handle(PromptDone(), T)
    out = r.handle_timer(T + 5)
    assert out == [Hangup(reason="no_input"), FlowEnded(reason="no_input", node_id="m")]
    r2, _ = run(definition)
    assert r2.handle(Digit(digit="7"), T)[1:] == [
        Hangup(reason="invalid_input"),
        FlowEnded(reason="invalid_input", node_id="m"),
    ]


INPUT = flow(
    {
        "acct": {
            "type": "input",
            "prompt": {"say": "Account number then hash"},
            "variable": "account",
            "pattern": "4[0-9]*",
            "min_digits": 3,
            "max_digits": 6,
            "timeout_seconds": 3,
            "max_retries": 1,
            "next": "ok",
            "on_invalid": "bad",
            "on_timeout": "quiet",
        },
        "ok": say("Account ${account}"),
        "bad": say("bad"),
        "quiet": say("quiet"),
        "bye": HANGUP,
    }
)


def feed(r: object, digits: str, now: float) -> list[object]:
    out: list[object] = []
    for d in digits:
        out += r.handle(Digit(digit=d), now)  # type: ignore[attr-defined]
    return out


def test_input_collects_until_the_terminator_into_a_variable() -> None:
    r, out = run(INPUT)
    assert CollectDigits(max_digits=6, terminator="#", timeout_seconds=3.0) in out
    r.handle(PromptDone(), T)
    out = feed(r, "4123#", T + 1)
    assert VariableSet(variable="account", value="4123", node_id="acct") in out
    assert Say(text="Account 4123", language="en", voice="en-gb") in out
    assert r.variables["account"] == "4123"


def test_input_ends_at_max_digits_and_after_the_inter_digit_timeout() -> None:
    r, _ = run(INPUT)
    assert entered(feed(r, "412345", T)) == ["ok"]
    r, _ = run(INPUT)
    feed(r, "4123", T + 1)
    assert r.get_timer() == T + 4
    assert entered(r.handle_timer(T + 4)) == ["ok"] and r.variables["account"] == "4123"


def test_input_pattern_and_minimum_are_enforced_with_retries() -> None:
    r, _ = run(INPUT)
    out = feed(r, "12#", T)  # too short
    assert entered(out) == [] and any(isinstance(o, Say) for o in out)
    assert entered(feed(r, "5123#", T + 1)) == ["bad"]  # wrong pattern, retries used up
    assert "account" not in r.variables


def test_input_silence_goes_to_on_timeout() -> None:
    r, _ = run(INPUT)
    r.handle(PromptDone(), T)
    r.handle_timer(T + 3)
    r.handle(PromptDone(), T + 4)
    assert entered(r.handle_timer(T + 7)) == ["quiet"]


def branch_flow(*rules: dict[str, object]) -> dict[str, object]:
    return flow(
        {
            "b": {"type": "branch", "rules": list(rules), "default": "other"},
            "hit": say("hit"),
            "other": say("other"),
            "bye": HANGUP,
        }
    )


@pytest.mark.parametrize(
    ("condition", "context", "hit"),
    [
        ({"var": "caller_id", "op": "prefix", "value": "+4072"}, {}, True),
        ({"var": "caller_id", "op": "prefix", "value": "+4073"}, {}, False),
        ({"var": "called_number", "op": "eq", "value": 1000}, {}, True),
        (
            {"var": "tracking_source", "op": "in", "value": ["google-ads", "web"]},
            {"tracking_source": "web"},
            True,
        ),
        ({"var": "tracking_source", "op": "not_in", "value": ["web"]}, {"tracking_source": "web"}, False),
        ({"var": "tracking_source", "op": "missing"}, {}, True),
        ({"var": "tier", "op": "exists"}, {"variables": {"tier": "gold"}}, True),
        ({"var": "score", "op": "gt", "value": 3}, {"variables": {"score": "4"}}, True),
        ({"var": "score", "op": "le", "value": 3}, {"variables": {"score": "x"}}, False),
        ({"var": "caller_id", "op": "matches", "value": r"\+40[0-9]+"}, {}, True),
        ({"var": "tier", "op": "ne", "value": "gold"}, {"variables": {"tier": "gold"}}, False),
        ({"time_from": "09:00", "time_to": "12:00"}, {}, True),  # 10:00 local
        ({"time_from": "22:00", "time_to": "09:00"}, {}, False),  # wraps past midnight
        ({"weekdays": ["mon", "tue"]}, {}, True),
        ({"weekdays": ["sat", "sun"]}, {}, False),
    ],
)
def test_branch_conditions(condition: dict[str, object], context: dict[str, object], hit: bool) -> None:
    _, out = run(branch_flow({"if": [condition], "goto": "hit"}), **context)
    assert entered(out)[1] == ("hit" if hit else "other")


def test_branch_rule_needs_all_its_conditions_and_first_match_wins() -> None:
    both = {
        "if": [{"weekdays": ["mon"]}, {"var": "caller_id", "op": "prefix", "value": "+1"}],
        "goto": "other",
    }
    first = {"if": [{"weekdays": ["mon"]}], "goto": "hit"}
    assert entered(run(branch_flow(both, first))[1])[1] == "hit"


def test_set_renders_templates_and_keeps_constants() -> None:
    definition = flow(
        {
            "s": {
                "type": "set",
                "variables": {"who": "caller ${caller_id}", "n": 3, "vip": True},
                "next": "bye",
            },
            "bye": HANGUP,
        }
    )
    r, out = run(definition)
    assert r.variables["who"] == f"caller {CALLER}" and r.variables["n"] == 3 and r.variables["vip"] is True
    assert [o.variable for o in out if isinstance(o, VariableSet)] == ["who", "n", "vip"]


LOOKUP = flow(
    {
        "l": {
            "type": "lookup",
            "url": "https://crm.example/find?phone=${caller_id}",
            "timeout_seconds": 2,
            "map": {"tier": "customer.tier", "first": "orders.0.id", "nothing": "customer.absent"},
            "next": "found",
            "on_error": "fallback",
        },
        "found": say("${tier}"),
        "fallback": say("fallback"),
        "bye": HANGUP,
    }
)


def test_lookup_maps_json_fields_to_variables() -> None:
    r, out = run(LOOKUP)
    request = next(o for o in out if isinstance(o, HttpLookup))
    assert request.url == "https://crm.example/find?phone=%2B40721000001" and request.timeout_seconds == 2
    body = {"customer": {"tier": "gold"}, "orders": [{"id": 17}]}
    out = r.handle(LookupResult(request_id=request.request_id, status=200, body=body), T + 1)
    assert entered(out) == ["found"] and (r.variables["tier"], r.variables["first"]) == ("gold", 17)
    assert "nothing" not in r.variables


@pytest.mark.parametrize(
    "result",
    [
        LookupResult(request_id="l#1", status=500, body={"customer": {}}),
        LookupResult(request_id="l#1", error="connection refused"),
        LookupResult(request_id="l#1", status=200, body="not json"),
    ],
)
def test_lookup_error_goes_to_the_fallback(result: LookupResult) -> None:
    r, _ = run(LOOKUP)
    assert r.handle(LookupResult(request_id="stale", status=200, body={}), T) == []  # not ours: ignored
    assert entered(r.handle(result, T + 1)) == ["fallback"]


def test_lookup_timeout_goes_to_the_fallback() -> None:
    r, _ = run(LOOKUP)
    assert r.get_timer() == T + 2
    assert r.handle_timer(T + 1.9) == []
    assert entered(r.handle_timer(T + 2)) == ["fallback"]


def test_queue_enqueues_with_skills_and_priority_then_survey_after_the_agent() -> None:
    r, out = run(ALL_TYPES, validate=False)
    r.handle(LookupResult(request_id="lookup#1", status=200, body={"customer": {"tier": "gold"}}), T)
    r.handle(PromptDone(), T + 1)  # welcome.wav
    out = r.handle(Digit(digit="1"), T + 2)
    assert (
        Enqueue(queue="sales", skills=(("sales", None), ("english", 50)), priority=9, max_wait_seconds=None)
        in out
    )
    assert (
        r.handle(Digit(digit="5"), T + 3) == [] and r.ignored == 1
    )  # digits in the queue are not menu choices
    r.handle(QueueResult(outcome=QueueOutcome.ANSWERED, agent="alice"), T + 10)
    assert r.state is RunState.AGENT and r.get_timer() is None
    assert entered(r.handle(AgentHungUp(), T + 100)) == ["survey"]
    out = r.handle(Digit(digit="4"), T + 101)
    assert SurveyAnswered(score=4, node_id="survey") in out and r.variables["csat"] == 4


def queue_flow(**extra: object) -> dict[str, object]:
    return flow(
        {"q": {"type": "queue", "queue": 3, "max_wait_seconds": 30, **extra}, "vm": {"type": "voicemail"}}
    )


@pytest.mark.parametrize("outcome", [QueueOutcome.OVERFLOW, QueueOutcome.TIMEOUT])
def test_queue_overflow_and_timeout_go_to_their_targets_or_hang_up(outcome: QueueOutcome) -> None:
    r, _ = run(queue_flow(on_overflow="vm", on_timeout="vm"))
    assert entered(r.handle(QueueResult(outcome=outcome), T + 30)) == ["vm"]
    r, _ = run(queue_flow(), validate=False)
    out = r.handle(QueueResult(outcome=outcome), T + 30)
    assert out[0] == Hangup(reason=f"queue_{outcome.value}") and r.finished


def test_queue_abandon_ends_without_a_hangup_and_a_silent_acd_times_out() -> None:
    r, _ = run(queue_flow(on_timeout="vm"))
    assert r.handle(QueueResult(outcome=QueueOutcome.ABANDONED), T + 5) == [
        FlowEnded(reason="abandoned", node_id="q")
    ]
    r, _ = run(queue_flow(on_timeout="vm"))
    deadline = r.get_timer()
    assert deadline is not None and deadline > T + 30
    assert entered(r.handle_timer(deadline)) == ["vm"]


def test_agent_hangup_without_after_call_hangs_up() -> None:
    r, _ = run(queue_flow(), validate=False)
    r.handle(QueueResult(outcome=QueueOutcome.ANSWERED), T)
    assert r.handle(AgentHungUp(), T + 60) == [
        Hangup(reason="agent_hung_up"),
        FlowEnded(reason="agent_hung_up", node_id="q"),
    ]


def test_voicemail_records_then_hangs_up() -> None:
    definition = flow(
        {
            "vm": {
                "type": "voicemail",
                "prompt": {"say": "Leave a message"},
                "max_seconds": 90,
                "webhook": "https://hooks.example/vm",
            }
        }
    )
    r, out = run(definition)
    assert commands(out)[-1] == Voicemail(max_seconds=90, webhook="https://hooks.example/vm", mailbox=None)
    assert r.handle(PromptDone(), T + 2) == []
    assert r.handle(RecordingDone(), T + 40)[0] == Hangup(reason="voicemail_done")
    r, _ = run(definition)
    assert r.handle_timer(r.get_timer() or 0)[0] == Hangup(reason="voicemail_timeout")


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ({"agent": "alice"}, Transfer(agent="alice")),
        ({"number": "+40215550199"}, Transfer(number="+40215550199")),
    ],
)
def test_transfer_leaves_the_flow_without_hanging_up(target: dict[str, str], command: Transfer) -> None:
    r, out = run(flow({"t": {"type": "transfer", **target}}))
    assert commands(out) == [command] and r.finished and r.end_reason == "transferred"


def test_callback_offers_the_caller_id_or_a_collected_number() -> None:
    definition = flow({"c": {"type": "callback", "queue": "support", "next": "bye"}, "bye": HANGUP})
    assert OfferCallback(queue="support", number=CALLER) in run(definition)[1]
    definition["nodes"]["c"]["number_variable"] = "phone"
    assert OfferCallback(queue="support", number="0722") in run(definition, variables={"phone": "0722"})[1]


def test_csat_retries_garbage_and_skips_after_silence() -> None:
    definition = flow(
        {"s": {"type": "csat", "prompt": {"say": "1 to 5"}, "max_retries": 1, "next": "bye"}, "bye": HANGUP}
    )
    r, _ = run(definition)
    out = r.handle(Digit(digit="9"), T)
    assert not any(isinstance(o, SurveyAnswered) for o in out) and r.node_id == "s"
    out = r.handle(Digit(digit="5"), T + 1)
    assert SurveyAnswered(score=5, node_id="s") in out
    r, _ = run(definition)
    for _ in range(2):
        r.handle(PromptDone(), T)
        out = r.handle_timer(r.get_timer() or 0)
    assert entered(out) == ["bye"] and "csat" not in r.variables


def test_hangup_node_reason() -> None:
    r, out = run(flow({"h": {"type": "hangup", "reason": "closed"}}))
    assert commands(out) == [Hangup(reason="closed")] and r.end_reason == "closed"


def test_hours_holiday_and_closed_targets() -> None:
    nodes = {
        "h": {"type": "hours", "schedule": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-07"], "open": "o", "closed": "c", "holiday": "x"},
        "o": say("open"), "c": say("closed"), "x": say("holiday"), "bye": HANGUP,
    }  # fmt: skip
    assert entered(run(flow(nodes))[1])[1] == "x"
    nodes["h"]["holidays"] = []
    assert entered(run(flow(nodes))[1])[1] == "o"
    assert entered(run(flow(nodes), now=T + 8 * 3600)[1])[1] == "c"  # 18:00


def test_queue_announcements_speak_the_callers_language_unless_the_queue_node_names_one() -> None:
    nodes = {
        "menu": {
            "type": "menu",
            "prompt": {"say": "For Romanian press 2"},
            "options": {"2": "ro", "3": "hu_q"},
        },
        "ro": {"type": "set", "variables": {"language": "ro"}, "next": "queue"},
        "queue": {"type": "queue", "queue": "support"},
        "hu_q": {"type": "queue", "queue": "support", "language": "hu"},
    }
    r, _ = run(flow(nodes, language="en"))
    enqueued = [o for o in r.handle(Digit(digit="2"), T) if isinstance(o, Enqueue)]
    assert [e.language for e in enqueued] == ["ro"]
    r, _ = run(flow(nodes, language="pt"))
    enqueued = [o for o in r.handle(Digit(digit="3"), T) if isinstance(o, Enqueue)]
    assert [e.language for e in enqueued] == ["hu"]
    _, out = run(flow({"q": {"type": "queue", "queue": "support"}}, language="it"))
    assert [o.language for o in out if isinstance(o, Enqueue)] == ["it"]  # nobody chose: the flow's language


def test_queue_announcements_speak_the_language_the_flow_last_spoke() -> None:
    nodes = {
        "hello": {"type": "say", "text": "Bună ziua", "language": "ro", "next": "queue"},
        "queue": {"type": "queue", "queue": "support"},
    }
    r, _ = run(flow(nodes, language="en"))  # an English flow whose say node speaks Romanian
    assert r.spoken_language == "ro"
    enqueued = [o for o in r.handle(PromptDone(), T) if isinstance(o, Enqueue)]
    assert [e.language for e in enqueued] == ["ro"]
    nodes["queue"]["language"] = "it"  # the queue node's own language wins
    r, _ = run(flow(nodes, language="en"))
    assert [o.language for o in r.handle(PromptDone(), T) if isinstance(o, Enqueue)] == ["it"]
    ro_flow = {
        "hello": {"type": "say", "text": "Bună ziua", "next": "queue"},
        "queue": {"type": "queue", "queue": "s"},
    }
    r, _ = run(flow(ro_flow, language="ro"))  # a Romanian flow: its say nodes speak its language
    assert [o.language for o in r.handle(PromptDone(), T) if isinstance(o, Enqueue)] == ["ro"]
