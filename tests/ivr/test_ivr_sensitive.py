"""Sensitive inputs: an input node marked `sensitive` (a PIN, a card number) gives the flow the digits, while
its record event (and that of any variable a set node makes from it) holds only the mask."""

from __future__ import annotations

from typing import Any

from flowkit import HANGUP, MONDAY_10, entered, flow, run

from duplex.ivr import SENSITIVE_MASK, Digit, FlowRun, HttpLookup, PromptDone, VariableSet, validate_flow

T = MONDAY_10


def pin_flow(**pin: Any) -> dict[str, Any]:
    return flow({
        "pin": {"type": "input", "prompt": {"say": "Your PIN, please."}, "variable": "pin", "max_digits": 4,
                "sensitive": True, "next": "check", **pin},
        "check": {"type": "branch", "default": "wrong",
                  "rules": [{"if": [{"var": "pin", "op": "eq", "value": "4321"}], "goto": "copy"}]},
        "copy": {"type": "set", "variables": {"said": "PIN ${pin}", "greeting": "hello"},
                 "next": "verify"},
        "verify": {"type": "lookup", "url": "https://crm.example/verify?pin=${pin}", "map": {"ok": "ok"},
                   "next": "right", "on_error": "wrong"},
        "right": HANGUP, "wrong": HANGUP,
    })  # fmt: skip


def key_in(r: FlowRun, digits: str) -> list[Any]:
    out = r.handle(PromptDone(), T)
    for digit in digits:
        out += r.handle(Digit(digit=digit), T)
    return out


def recorded(out: list[Any]) -> list[tuple[str, Any, bool]]:
    return [(o.variable, o.value, o.sensitive) for o in out if isinstance(o, VariableSet)]


def test_the_record_holds_the_mask_while_the_flow_branches_and_looks_up_with_the_digits() -> None:
    r, _ = run(pin_flow())
    assert r.collecting_secret  # the prompt plays: keys already count
    out = key_in(r, "4321")
    assert recorded(out) == [("pin", SENSITIVE_MASK, True), ("said", SENSITIVE_MASK, True),
                             ("greeting", "hello", False)]  # fmt: skip
    assert r.variables["pin"] == "4321" and r.variables["said"] == "PIN 4321"
    assert entered(out) == ["check", "copy", "verify"]  # the branch compared the real digits
    lookups = [o.url for o in out if isinstance(o, HttpLookup)]
    assert lookups == ["https://crm.example/verify?pin=4321"]
    assert not r.collecting_secret and r.sensitive == {"pin", "said"}


def test_wrong_digits_take_the_other_branch_and_are_not_recorded_either() -> None:
    r, _ = run(pin_flow())
    out = key_in(r, "1111")
    assert recorded(out) == [("pin", SENSITIVE_MASK, True)] and entered(out) == ["check", "wrong"]


def test_an_input_without_the_flag_is_recorded_as_keyed_and_a_variable_set_again_is_no_secret() -> None:
    r, _ = run(pin_flow(sensitive=False))
    assert not r.collecting_secret
    assert recorded(key_in(r, "1111")) == [("pin", "1111", False)]
    definition = pin_flow()
    definition["nodes"]["check"]["default"] = "reset"
    definition["nodes"]["reset"] = {"type": "set", "variables": {"pin": "none"}, "next": "wrong"}
    r, _ = run(definition)
    assert recorded(key_in(r, "1111"))[-1] == ("pin", "none", False) and r.sensitive == set()


def test_sensitive_is_validated_like_the_other_node_fields() -> None:
    assert validate_flow(pin_flow()) == []
    wrong = pin_flow(sensitive="yes")
    assert [(e.node, e.field) for e in validate_flow(wrong)] == [("pin", "sensitive")]
    menu = {"type": "menu", "prompt": {"say": "x"}, "options": {"1": "bye"}, "sensitive": True}
    on_a_menu = flow({"m": menu, "bye": HANGUP})
    assert [e.node for e in validate_flow(on_a_menu)] == ["m"]  # a menu keeps no digits to hide
