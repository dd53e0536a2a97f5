"""The call script core: validation naming the page, answers checked and normalised, branches, templates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from duplex.callscript import (
    AnswerError,
    InvalidScript,
    ScriptError,
    check_answers,
    load_script,
    next_page,
    render,
    validate_script,
)

SURVEY: dict[str, Any] = {
    "start": "greet",
    "pages": {
        "greet": {
            "title": "Hello",
            "text": "Good day {{lead.first_name}} from {{ lead.custom.city }}, I am {{agent.name}}.",
            "questions": [
                {
                    "key": "interested",
                    "label": "Interested in {{lead.interest}}?",
                    "type": "yes_no",
                    "required": True,
                }
            ],
            "branches": [{"if": "interested", "equals": "yes", "goto": "order"}],
            "next": "bye",
        },
        "order": {
            "text": "Let us take the order.",
            "questions": [
                {
                    "key": "panels",
                    "label": "How many panels",
                    "type": "number",
                    "min": 1,
                    "max": 40,
                    "required": True,
                },
                {"key": "colour", "label": "Colour", "type": "choice", "options": ["black", "blue"]},
                {"key": "delivery_date", "label": "Delivery", "type": "date"},
                {"key": "address", "label": "Delivery address", "type": "text"},
            ],
            "next": "bye",
        },
        "bye": {"text": "Thank you, goodbye."},
    },
}


def test_a_valid_script_loads_with_its_pages_and_questions() -> None:
    assert validate_script(SURVEY) == []
    script = load_script(SURVEY)
    assert script.start == "greet"
    assert [q.key for q in script.pages["order"].questions] == [
        "panels",
        "colour",
        "delivery_date",
        "address",
    ]
    assert script.question("colour") is not None and script.question("colour").options == ("black", "blue")  # type: ignore[union-attr]


def broken(change: Any) -> list[ScriptError]:
    definition = copy.deepcopy(SURVEY)
    change(definition)
    return validate_script(definition)


@pytest.mark.parametrize(
    ("change", "page", "field", "reason"),
    [
        (lambda d: d.update(start="nowhere"), None, "start", "no page 'nowhere'"),
        (lambda d: d["pages"]["greet"].update(next="gone"), "greet", "next", "no page 'gone'"),
        (
            lambda d: d["pages"]["greet"]["branches"][0].update(goto="gone"),
            "greet",
            "branches.0.goto",
            "no page",
        ),
        (
            lambda d: d["pages"]["greet"]["branches"][0].update({"if": "panels"}),
            "greet",
            "branches.0.if",
            "must name a question of this page",
        ),
        (
            lambda d: d["pages"]["greet"]["branches"][0].update(equals="maybe"),
            "greet",
            "branches.0.equals",
            "not an answer",
        ),
        (
            lambda d: d["pages"]["order"]["questions"][1].update(options=[]),
            "order",
            "questions.1.options",
            "distinct, non-empty options",
        ),
        (
            lambda d: d["pages"]["order"]["questions"][0].update(type="slider"),
            "order",
            "questions.0.type",
            "one of",
        ),
        (
            lambda d: d["pages"]["order"]["questions"][0].update(min=50),
            "order",
            "questions.0.min",
            "above max",
        ),
        (
            lambda d: d["pages"]["order"]["questions"][3].update(key="panels"),
            "order",
            "questions.3.key",
            "asked twice",
        ),
        (
            lambda d: d["pages"]["order"]["questions"][3].update(key="Address!"),
            "order",
            "questions.3.key",
            "lowercase",
        ),
        (
            lambda d: d["pages"]["order"]["questions"][3].update(key="phone"),
            "order",
            "questions.3.key",
            "reserved",
        ),
        (lambda d: d["pages"]["bye"].update(text="Bye {{lead.first_name}"), "bye", "text", "unclosed"),
        (lambda d: d["pages"]["bye"].update(text="Bye {{password}}"), "bye", "text", "unknown field"),
        (lambda d: d["pages"]["bye"].update(colour="red"), "bye", "colour", "unknown field"),
        (lambda d: d["pages"].update(orphan={"text": "never shown"}), "orphan", "", "no page leads here"),
    ],
)
def test_each_error_names_its_page_and_field(change: Any, page: str | None, field: str, reason: str) -> None:
    errors = broken(change)
    assert any(e.page == page and e.field == field and reason in e.reason for e in errors), errors


def test_load_refuses_an_invalid_script_listing_every_error() -> None:
    definition = copy.deepcopy(SURVEY)
    definition["start"] = "x"
    definition["pages"]["bye"]["next"] = "y"
    with pytest.raises(InvalidScript) as caught:
        load_script(definition)
    assert {(e.page, e.field) for e in caught.value.errors} >= {(None, "start"), ("bye", "next")}
    assert validate_script([]) and validate_script({"start": "a", "pages": {}})


def test_answers_are_normalised_and_branch() -> None:
    script = load_script(SURVEY)
    values, errors = check_answers(script.pages["greet"], {"interested": "Yes"})
    assert (values, errors) == ({"interested": True}, [])
    assert next_page(script, "greet", values) == "order"
    assert next_page(script, "greet", {"interested": False}) == "bye"
    values, errors = check_answers(
        script.pages["order"],
        {"panels": "12", "colour": "blue", "delivery_date": "2026-12-24", "address": " 1 Main St "},
    )
    assert errors == []
    assert values == {"panels": 12, "colour": "blue", "delivery_date": "2026-12-24", "address": "1 Main St"}
    assert next_page(script, "order", values) == "bye"
    assert next_page(script, "bye", {}) is None


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, [AnswerError(key="panels", reason="an answer is required")]),
        ({"panels": 0}, [AnswerError(key="panels", reason="must be between 1 and 40")]),
        ({"panels": "many"}, [AnswerError(key="panels", reason="must be a number")]),
        ({"panels": 2, "colour": "red"}, [AnswerError(key="colour", reason="one of black, blue")]),
        (
            {"panels": 2, "delivery_date": "24/12"},
            [AnswerError(key="delivery_date", reason="a date as YYYY-MM-DD")],
        ),
        ({"panels": 2, "mood": "ok"}, [AnswerError(key="mood", reason="this page does not ask it")]),
        ({"panels": True}, [AnswerError(key="panels", reason="must be a number")]),
    ],
)
def test_bad_answers_are_refused_by_key(answers: dict[str, Any], expected: list[AnswerError]) -> None:
    assert check_answers(load_script(SURVEY).pages["order"], answers)[1] == expected


def test_templates_fill_lead_columns_custom_fields_and_leave_unknown_fields_empty() -> None:
    context = {
        "lead": {"first_name": "Ana", "custom": {"city": "Cluj", "interest": "solar"}},
        "agent": {"name": "Bo"},
    }
    page = load_script(SURVEY).pages["greet"]
    assert render(page.text, context) == "Good day Ana from Cluj, I am Bo."
    assert render(page.questions[0].label, context) == "Interested in solar?"
    assert render("{{lead.last_name}}|{{campaign.name}}|{{lead.custom}}", context) == "||"
