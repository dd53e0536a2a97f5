"""A call script: pages of text an agent reads, with lead fields filled in, questions whose answers are kept,
and branches on those answers.

A definition (JSON) is `{"start": page id, "pages": {id: page}}`; a page is
`{"title", "text", "questions": [...], "branches": [...], "next": page id or null}`. A question is
`{"key", "label", "type": text|number|choice|yes_no|date, "required", "options" (choice), "min"/"max" (number)}`;
a branch is `{"if": a question key of the page, "equals": a value of that question, "goto": page id}`; the
first branch whose answer matches wins, else `next` (null: the script ends). Text, titles and labels may hold
`{{lead.first_name}}`, `{{lead.custom.interest}}` (or `{{lead.interest}}`), `{{agent.name}}`,
`{{campaign.name}}`.

`validate_script` lists every error with the page it is on (like the IVR flow validator), `check_answers`
checks and normalises a page's answers, `next_page` picks where the script goes, `render` fills templates.
Standard library only: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "QUESTION_TYPES", "AnswerError", "Branch", "CallScript", "InvalidScript", "Page", "Question", "ScriptError",
    "check_answers", "load_script", "next_page", "render", "validate_script",
]  # fmt: skip

QUESTION_TYPES = ("text", "number", "choice", "yes_no", "date")
TEMPLATE_ROOTS = ("lead", "agent", "campaign")
MAX_TEXT_ANSWER = 2000
# Columns the answers export puts before the questions: a question may not take their names.
RESERVED_KEYS = frozenset({"call_id", "lead_id", "phone", "agent_id", "answered_at"})
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PAGE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FIELD = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_PATH = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_-]+)+$")
_PAGE_KEYS = frozenset({"title", "text", "questions", "branches", "next"})
_QUESTION_KEYS = frozenset({"key", "label", "type", "required", "options", "min", "max"})
_BRANCH_KEYS = frozenset({"if", "equals", "goto"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptError:
    """One reason a script is refused. `page` is None for the script as a whole (e.g. a bad `start`)."""

    page: str | None
    field: str  # dotted path inside the page (or the script), "" for the page itself
    reason: str

    def __str__(self) -> str:
        where = f"page {self.page!r}" if self.page is not None else "script"
        return f"{where}: {self.field + ': ' if self.field else ''}{self.reason}"


class InvalidScript(ValueError):
    def __init__(self, errors: list[ScriptError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = tuple(errors)


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    key: str  # the answer's name on the call and the lead (a lead custom field)
    label: str
    type: str
    required: bool = False
    options: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch:
    question: str
    equals: Any
    goto: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    id: str
    title: str
    text: str
    questions: tuple[Question, ...]
    branches: tuple[Branch, ...]
    next: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallScript:
    start: str
    pages: Mapping[str, Page]

    def question(self, key: str) -> Question | None:
        return next((q for p in self.pages.values() for q in p.questions if q.key == key), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerError:
    key: str
    reason: str


# -- validation -------------------------------------------------------------------------------------------


def _templates(page: str | None, field: str, text: Any) -> list[ScriptError]:
    if not isinstance(text, str):
        return [ScriptError(page=page, field=field, reason="must be text")]
    errors = []
    for match in _FIELD.finditer(text):
        path = match.group(1)
        if not _PATH.match(path) or path.split(".")[0] not in TEMPLATE_ROOTS:
            reason = f"unknown field {{{{{path}}}}}: use lead.<field>, lead.custom.<key>, agent.name or campaign.name"
            errors.append(ScriptError(page=page, field=field, reason=reason))
    leftover = _FIELD.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        errors.append(ScriptError(page=page, field=field, reason="an unclosed {{ or a stray }}"))
    return errors


def _question_errors(page: str, where: str, q: Any, keys_seen: set[str]) -> list[ScriptError]:
    if not isinstance(q, dict):
        return [ScriptError(page=page, field=where, reason="a question must be an object")]
    errors = [
        ScriptError(page=page, field=f"{where}.{k}", reason="unknown field")
        for k in q
        if k not in _QUESTION_KEYS
    ]
    key = q.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        errors.append(ScriptError(page=page, field=f"{where}.key",
                                  reason="a key of lowercase letters, digits and _ (starting with a letter)"))  # fmt: skip
    elif key in RESERVED_KEYS:
        errors.append(
            ScriptError(page=page, field=f"{where}.key", reason=f"{key!r} is reserved for the answers export")
        )
    elif key in keys_seen:
        errors.append(
            ScriptError(page=page, field=f"{where}.key", reason=f"{key!r} is asked twice in the script")
        )
    else:
        keys_seen.add(key)
    label = q.get("label")
    if not isinstance(label, str) or not label.strip():
        errors.append(ScriptError(page=page, field=f"{where}.label", reason="a question needs a label"))
    else:
        errors += _templates(page, f"{where}.label", label)
    kind = q.get("type")
    if kind not in QUESTION_TYPES:
        errors.append(
            ScriptError(page=page, field=f"{where}.type", reason=f"one of {', '.join(QUESTION_TYPES)}")
        )
    if not isinstance(q.get("required", False), bool):
        errors.append(ScriptError(page=page, field=f"{where}.required", reason="true or false"))
    options = q.get("options")
    if kind == "choice":
        if (not isinstance(options, list) or not options or not all(isinstance(o, str) and o for o in options)
                or len(set(options)) != len(options)):  # fmt: skip
            errors.append(ScriptError(page=page, field=f"{where}.options",
                                      reason="a choice needs a list of distinct, non-empty options"))  # fmt: skip
    elif options is not None:
        errors.append(ScriptError(page=page, field=f"{where}.options", reason="only a choice has options"))
    for bound in ("min", "max"):
        value = q.get(bound)
        if value is None:
            continue
        if kind != "number":
            errors.append(ScriptError(page=page, field=f"{where}.{bound}", reason="only a number has bounds"))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(ScriptError(page=page, field=f"{where}.{bound}", reason="must be a number"))
    low, high = q.get("min"), q.get("max")
    if kind == "number" and isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        errors.append(ScriptError(page=page, field=f"{where}.min", reason="min is above max"))
    return errors


def _branch_errors(
    page: str, where: str, b: Any, asked: Mapping[str, Any], pages: Mapping[str, Any]
) -> list[ScriptError]:
    if not isinstance(b, dict):
        return [ScriptError(page=page, field=where, reason="a branch must be an object")]
    errors = [
        ScriptError(page=page, field=f"{where}.{k}", reason="unknown field")
        for k in b
        if k not in _BRANCH_KEYS
    ]
    named = b.get("if")
    question = asked.get(named) if isinstance(named, str) else None
    if question is None:
        errors.append(ScriptError(page=page, field=f"{where}.if", reason="must name a question of this page"))
    elif "equals" not in b:
        errors.append(ScriptError(page=page, field=f"{where}.equals", reason="the answer this branch is for"))
    else:
        q = Question(key=str(question.get("key")), label="", type=str(question.get("type")),
                     options=tuple(question.get("options") or ()))  # fmt: skip
        if q.type in QUESTION_TYPES and _normalise(q, b["equals"])[1] is not None:
            errors.append(ScriptError(page=page, field=f"{where}.equals",
                                      reason=f"not an answer question {q.key!r} can have"))  # fmt: skip
    goto = b.get("goto")
    if not isinstance(goto, str) or goto not in pages:
        errors.append(ScriptError(page=page, field=f"{where}.goto", reason=f"no page {goto!r}"))
    return errors


def _page_errors(page_id: str, page: Any, pages: Mapping[str, Any], keys_seen: set[str]) -> list[ScriptError]:
    if not _PAGE_ID.match(page_id):
        return [ScriptError(page=page_id, field="", reason="a page id of letters, digits, _ . - (up to 64)")]
    if not isinstance(page, dict):
        return [ScriptError(page=page_id, field="", reason="a page must be an object")]
    errors = [ScriptError(page=page_id, field=k, reason="unknown field") for k in page if k not in _PAGE_KEYS]
    for key in ("title", "text"):
        errors += _templates(page_id, key, page.get(key, ""))
    questions = page.get("questions", [])
    asked: dict[str, Any] = {}
    if not isinstance(questions, list):
        errors.append(ScriptError(page=page_id, field="questions", reason="must be a list"))
        questions = []
    for i, q in enumerate(questions):
        errors += _question_errors(page_id, f"questions.{i}", q, keys_seen)
        if isinstance(q, dict) and isinstance(q.get("key"), str):
            asked[q["key"]] = q
    branches = page.get("branches", [])
    if not isinstance(branches, list):
        errors.append(ScriptError(page=page_id, field="branches", reason="must be a list"))
        branches = []
    for i, b in enumerate(branches):
        errors += _branch_errors(page_id, f"branches.{i}", b, asked, pages)
    nxt = page.get("next")
    if nxt is not None and (not isinstance(nxt, str) or nxt not in pages):
        errors.append(ScriptError(page=page_id, field="next", reason=f"no page {nxt!r}"))
    return errors


def _targets(page: Mapping[str, Any]) -> list[str]:
    found = [b.get("goto") for b in page.get("branches", []) if isinstance(b, dict)]
    found.append(page.get("next"))
    return [t for t in found if isinstance(t, str)]


def validate_script(definition: Any) -> list[ScriptError]:
    """Every error of `definition`, each naming its page; empty when the script is valid."""
    if not isinstance(definition, dict):
        return [ScriptError(page=None, field="", reason="a script is an object with start and pages")]
    errors = [
        ScriptError(page=None, field=k, reason="unknown field")
        for k in definition
        if k not in ("start", "pages")
    ]
    pages = definition.get("pages")
    if not isinstance(pages, dict) or not pages:
        return [*errors, ScriptError(page=None, field="pages", reason="at least one page")]
    start = definition.get("start")
    if not isinstance(start, str) or start not in pages:
        errors.append(ScriptError(page=None, field="start", reason=f"no page {start!r}"))
    keys_seen: set[str] = set()
    for page_id, page in pages.items():
        errors += _page_errors(page_id, page, pages, keys_seen)
    if isinstance(start, str) and start in pages:
        reached, todo = {start}, [start]
        while todo:
            page = pages[todo.pop()]
            for target in _targets(page) if isinstance(page, dict) else []:
                if target in pages and target not in reached:
                    reached.add(target)
                    todo.append(target)
        errors += [
            ScriptError(page=p, field="", reason="no page leads here from start")
            for p in pages
            if p not in reached
        ]
    return errors


def load_script(definition: Any) -> CallScript:
    """The validated script, or `InvalidScript` listing every error."""
    errors = validate_script(definition)
    if errors:
        raise InvalidScript(errors)
    pages = {}
    for page_id, page in definition["pages"].items():
        questions = tuple(
            Question(
                key=q["key"],
                label=q["label"],
                type=q["type"],
                required=q.get("required", False),
                options=tuple(q.get("options") or ()),
                min=q.get("min"),
                max=q.get("max"),
            )  # fmt: skip
            for q in page.get("questions", [])
        )
        branches = tuple(
            Branch(question=b["if"], equals=b["equals"], goto=b["goto"]) for b in page.get("branches", [])
        )
        pages[page_id] = Page(id=page_id, title=page.get("title", ""), text=page.get("text", ""),
                              questions=questions, branches=branches, next=page.get("next"))  # fmt: skip
    return CallScript(start=definition["start"], pages=pages)


# -- answers ----------------------------------------------------------------------------------------------

_YES = {"yes": True, "true": True, "y": True, "no": False, "false": False, "n": False}


def _normalise(q: Question, raw: Any) -> tuple[Any, str | None]:
    """(the stored value, None) or (None, why the answer is refused)."""
    if q.type == "text":
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            return None, "must be text"
        text = str(raw).strip()
        return (
            (text, None) if len(text) <= MAX_TEXT_ANSWER else (None, f"at most {MAX_TEXT_ANSWER} characters")
        )
    if q.type == "number":
        try:
            value = float(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            return None, "must be a number"
        if (q.min is not None and value < q.min) or (q.max is not None and value > q.max):
            return None, f"must be between {q.min} and {q.max}"
        return (int(value) if value.is_integer() else value), None
    if q.type == "choice":
        return (raw, None) if raw in q.options else (None, f"one of {', '.join(q.options)}")
    if q.type == "yes_no":
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, str) and raw.strip().lower() in _YES:
            return _YES[raw.strip().lower()], None
        return None, "yes or no"
    try:  # date
        return dt.date.fromisoformat(str(raw)).isoformat(), None
    except ValueError:
        return None, "a date as YYYY-MM-DD"


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def check_answers(page: Page, answers: Mapping[str, Any]) -> tuple[dict[str, Any], list[AnswerError]]:
    """The page's answers normalised (numbers as numbers, yes/no as booleans, dates ISO), and every error:
    a required question left blank, a value the question cannot take, a key the page does not ask."""
    asked = {q.key: q for q in page.questions}
    errors = [AnswerError(key=k, reason="this page does not ask it") for k in answers if k not in asked]
    values: dict[str, Any] = {}
    for q in page.questions:
        raw = answers.get(q.key)
        if _blank(raw):
            if q.required:
                errors.append(AnswerError(key=q.key, reason="an answer is required"))
            continue
        value, problem = _normalise(q, raw)
        if problem is not None:
            errors.append(AnswerError(key=q.key, reason=problem))
        else:
            values[q.key] = value
    return values, errors


def next_page(script: CallScript, page_id: str, answers: Mapping[str, Any]) -> str | None:
    """Where the script goes after `page_id` given the (normalised) answers: the first matching branch, else
    the page's `next`; None when the script ends."""
    page = script.pages[page_id]
    for branch in page.branches:
        question = next(q for q in page.questions if q.key == branch.question)
        wanted, _ = _normalise(question, branch.equals)
        if branch.question in answers and answers[branch.question] == wanted:
            return branch.goto
    return page.next


# -- templates --------------------------------------------------------------------------------------------


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    root, *rest = path.split(".")
    value: Any = context.get(root)
    for i, part in enumerate(rest):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif root == "lead" and i == 0 and isinstance(value, Mapping) and part in (value.get("custom") or {}):
            value = value["custom"][part]  # {{lead.interest}}: a custom field by its own name
        else:
            return None
    return value


def render(text: str, context: Mapping[str, Any]) -> str:
    """`text` with each `{{path}}` replaced by its value in `context` ({"lead": {...}, "agent": {...}, ...});
    a field the lead does not have renders empty."""

    def field(match: re.Match[str]) -> str:
        value = _lookup(context, match.group(1))
        return "" if value is None or isinstance(value, Mapping | list) else str(value)

    return _FIELD.sub(field, text)
