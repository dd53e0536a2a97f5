"""`${variable}` templates in prompt texts, variable values and lookup URLs, and JSON field paths."""

from __future__ import annotations

import string
from collections.abc import Mapping
from urllib.parse import quote

from duplex.ivr.flow import Scalar

__all__ = ["json_field", "referenced", "render", "render_url"]


def _as_text(variables: Mapping[str, Scalar]) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in variables.items()}


def render(template: str, variables: Mapping[str, Scalar]) -> str:
    """Fill `${name}` from `variables`; unknown names stay as written (a flow bug shows, it does not crash)."""
    if "$" not in template:  # most prompts: skip building the text view of every variable
        return template
    return string.Template(template).safe_substitute(_as_text(variables))


def referenced(template: str) -> set[str]:
    """The variable names `template` fills in (``${pin}`` and ``$pin``)."""
    return set(string.Template(template).get_identifiers()) if "$" in template else set()


def render_url(template: str, variables: Mapping[str, Scalar]) -> str:
    """Like `render`, with every value percent-encoded so a caller ID cannot change the URL's shape."""
    encoded = {k: quote(v, safe="") for k, v in _as_text(variables).items()}
    return string.Template(template).safe_substitute(encoded)


def json_field(document: object, path: str) -> tuple[bool, Scalar]:
    """(found, value) for a dotted path ("customer.tier", "items.0.id") to a scalar in a JSON document."""
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    if current is None or isinstance(current, str | int | float | bool):
        return True, current
    return False, None
