"""Flow validation: every kind of error names its node and says why."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flowkit import ALL_TYPES, HANGUP, flow, say
from jsonschema import Draft202012Validator

from duplex.ivr import FlowError, InvalidFlow, demo_flow, flow_schema, load_flow, validate_flow
from duplex.ivr.demo import DEMO_QUEUES


def errors_of(definition: Any, **known: Any) -> list[tuple[str | None, str, str]]:
    return [(e.node, e.field, e.reason) for e in validate_flow(definition, **known)]


def test_the_schema_is_a_valid_json_schema_and_the_examples_pass() -> None:
    Draft202012Validator.check_schema(flow_schema())
    assert validate_flow(ALL_TYPES, known_queues={"sales"}, known_prompts={"welcome.wav"}) == []


def test_the_demo_flow_validates_against_the_demo_queues() -> None:
    definition = demo_flow()
    assert validate_flow(definition, known_queues=DEMO_QUEUES, known_prompts=set()) == []
    menu = definition["nodes"]["main_menu"]
    assert set(menu["options"]) == {"1", "2", "3", "9"} and set(menu["prompt"]["say"]) == {
        "en",
        "ro",
        "pt",
        "it",
        "hu",
        "ru",
    }
    assert load_flow(definition).timezone == "Europe/Bucharest"
    for node_id, node in definition["nodes"].items():  # every spoken text exists in all six languages
        text = node.get("text") or node.get("prompt", {}).get("say")
        if isinstance(text, dict):
            assert set(text) == {"en", "ro", "pt", "it", "hu", "ru"}, node_id


def test_schema_errors_name_the_node_and_the_field() -> None:
    definition = flow(
        {"m": {"type": "menu", "prompt": {"say": "x"}, "timeout_seconds": -1}, "n": {"type": "teleport"}}
    )
    found = errors_of(definition)
    assert ("m", "", "'options' is a required property") in found
    assert ("m", "timeout_seconds", "-1 is less than or equal to the minimum of 0") in found
    assert any(node == "n" and field == "type" and "teleport" in reason for node, field, reason in found)


def test_schema_errors_outside_nodes_name_the_flow() -> None:
    found = errors_of({"start": "a", "nodes": {"a": HANGUP}, "colour": "blue"})
    assert found == [(None, "", "Additional properties are not allowed ('colour' was unexpected)")]
    assert errors_of({"nodes": {}})[0][0] is None


def test_missing_target_and_missing_start() -> None:
    definition = flow(
        {
            "m": {"type": "menu", "prompt": {"say": "x"}, "options": {"1": "sales", "2": "nowhere"}},
            "sales": HANGUP,
        }
    )
    assert errors_of(definition) == [("m", "options.2", "target 'nowhere' does not exist")]
    definition["start"] = "begin"
    assert (None, "start", "start node 'begin' does not exist") in errors_of(definition)


def test_unreachable_node() -> None:
    definition = flow({"a": say("hi"), "bye": HANGUP, "orphan": say("never")})
    assert errors_of(definition) == [("orphan", "", "unreachable from start node 'a'")]


def test_loop_with_no_exit_names_each_node_of_the_loop() -> None:
    loop = flow(
        {
            "a": {"type": "set", "variables": {"n": 1}, "next": "b"},
            "b": {
                "type": "branch",
                "rules": [{"if": [{"var": "n", "op": "gt", "value": 5}], "goto": "a"}],
                "default": "a",
            },
        }
    )
    found = validate_flow(loop)
    assert [e.node for e in found] == ["a", "b"]
    assert all("loop with no exit" in e.reason and "a, b" in e.reason for e in found)


def test_loops_that_wait_or_have_an_exit_are_fine() -> None:
    counter = flow(
        {
            "a": {"type": "set", "variables": {"n": "x"}, "next": "b"},
            "b": {
                "type": "branch",
                "rules": [{"if": [{"var": "n", "op": "eq", "value": "x"}], "goto": "bye"}],
                "default": "a",
            },
            "bye": HANGUP,
        }
    )
    assert validate_flow(counter) == []
    menu_loop = flow(
        {
            "m": {"type": "menu", "prompt": {"say": "again?"}, "options": {"1": "s"}, "on_timeout": "m"},
            "s": {"type": "set", "variables": {"a": 1}, "next": "m"},
        }
    )
    assert validate_flow(menu_loop) == []


def test_unknown_queue_and_prompt_files_are_named() -> None:
    found = errors_of(ALL_TYPES, known_queues={"support", 7}, known_prompts={"other.wav"})
    assert ("sales", "queue", "unknown queue 'sales'") in found
    assert ("callback", "queue", "unknown queue 'sales'") in found
    assert ("welcome", "file", "unknown prompt file 'welcome.wav'") in found
    definition = flow(
        {
            "m": {
                "type": "menu",
                "prompt": {"play": "menu.wav"},
                "retry_prompt": {"play": "sorry.wav"},
                "options": {"1": "q"},
            },
            "q": {"type": "queue", "queue": 7},
        }
    )
    assert errors_of(definition, known_queues={"support", 7}, known_prompts={"menu.wav"}) == [
        ("m", "retry_prompt.play", "unknown prompt file 'sorry.wav'")
    ]
    assert errors_of(definition) == []  # nothing known passed in: references are not checked


@pytest.mark.parametrize(
    ("node", "field", "reason"),
    [
        (
            {"type": "input", "prompt": {"say": "x"}, "variable": "v", "pattern": "([0-9]", "next": "bye"},
            "pattern",
            "invalid regular expression",
        ),
        (
            {
                "type": "input",
                "prompt": {"say": "x"},
                "variable": "v",
                "min_digits": 5,
                "max_digits": 3,
                "next": "bye",
            },
            "min_digits",
            "larger than max_digits",
        ),
        (
            {"type": "hours", "timezone": "Mars/Olympus", "schedule": {}, "open": "bye", "closed": "bye"},
            "timezone",
            "unknown time zone",
        ),
        (
            {"type": "hours", "schedule": {"mon": [["17:00", "09:00"]]}, "open": "bye", "closed": "bye"},
            "schedule.mon.0",
            "not before closing",
        ),
        (
            {"type": "hours", "schedule": {"mon": [["09:00", "24:30"]]}, "open": "bye", "closed": "bye"},
            "schedule.mon.0",
            "not a time of day",
        ),
        (
            {"type": "hours", "schedule": {}, "holidays": ["2026-02-30"], "open": "bye", "closed": "bye"},
            "holidays.0",
            "not a date",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": [{"var": "v", "op": "in", "value": "x"}], "goto": "bye"}],
                "default": "bye",
            },
            "rules.0.if.0",
            "needs a list",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": [{"var": "v", "op": "gt", "value": "x"}], "goto": "bye"}],
                "default": "bye",
            },
            "rules.0.if.0",
            "needs a number",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": [{"var": "v", "op": "eq"}], "goto": "bye"}],
                "default": "bye",
            },
            "rules.0.if.0",
            "needs a value",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": [{"var": "v", "op": "matches", "value": "(("}], "goto": "bye"}],
                "default": "bye",
            },
            "rules.0.if.0.value",
            "invalid regular expression",
        ),
        (
            {
                "type": "branch",
                "rules": [{"if": [{"var": "v", "op": "matches", "value": 7}], "goto": "bye"}],
                "default": "bye",
            },
            "rules.0.if.0",
            "needs a regular expression string",
        ),
    ],
)
def test_value_errors_name_node_and_field(node: dict[str, Any], field: str, reason: str) -> None:
    found = validate_flow(flow({"n": node, "bye": HANGUP}))
    assert len(found) == 1 and (found[0].node, found[0].field) == ("n", field) and reason in found[0].reason


def test_flow_time_zone_is_checked() -> None:
    assert errors_of(flow({"h": HANGUP}, timezone="Nowhere/Town")) == [
        (None, "timezone", "unknown time zone 'Nowhere/Town'")
    ]


def test_load_flow_raises_with_every_error() -> None:
    broken = copy.deepcopy(ALL_TYPES)
    broken["nodes"]["bye"]["next"] = "gone"
    broken["nodes"]["lonely"] = HANGUP
    with pytest.raises(InvalidFlow) as info:
        load_flow(broken)
    assert info.value.errors == (FlowError(node="bye", field="next", reason="target 'gone' does not exist"),)
    assert "node 'bye': next: target 'gone' does not exist" in str(info.value)


def test_transfer_needs_an_agent_or_a_number() -> None:
    found = errors_of(flow({"t": {"type": "transfer"}}))
    assert found == [("t", "", "the node matches none of the allowed forms")]
