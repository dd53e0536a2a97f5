"""Call scripts: what an agent reads and asks on a campaign call (sans-IO: validation, templates, branching)."""

from duplex.callscript.script import (
    QUESTION_TYPES,
    AnswerError,
    Branch,
    CallScript,
    InvalidScript,
    Page,
    Question,
    ScriptError,
    check_answers,
    load_script,
    next_page,
    render,
    validate_script,
)

__all__ = [
    "QUESTION_TYPES", "AnswerError", "Branch", "CallScript", "InvalidScript", "Page", "Question", "ScriptError",
    "check_answers", "load_script", "next_page", "render", "validate_script",
]  # fmt: skip
