"""One validation layer for what a client sends, before any route sees it: a value that the database or a
JSON encoder cannot hold is a 422 naming the field, never a 500.

- JSON bodies are parsed strictly, as I-JSON (RFC 7493): no NaN or Infinity (not JSON at all, RFC 8259
  section 6), no number that overflows a double (1e999), no lone surrogate ("MUST NOT include code points
  that identify Surrogates", RFC 7493 section 2.1).
- No string may hold U+0000: PostgreSQL text columns cannot store it.
- Every integer fits a signed 64-bit column (BigInteger on PostgreSQL, INTEGER on SQLite).
- Path and query parameters follow the same rules: integer parameters are bounded, no value holds U+0000.
- The 422 body itself is always serialisable (`validation_error_response`), whatever the input was.

`StrictRequest` is the request class `DuplexRoute` hands to FastAPI, so `await request.json()` is strict in
every route, also in those that read the body themselves (login); a route that reads a form itself checks
it with `document_errors`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any, get_args

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette import status

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Loc = tuple[str | int, ...]
ErrorDict = dict[str, Any]


class _NotJsonNumber:
    """What the strict parser puts where a NaN, Infinity or overflowing number stood, so the walk that
    follows can name the field instead of a byte offset."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> float | _NotJsonNumber:
    value = float(text)
    return value if math.isfinite(value) else _NotJsonNumber(text)


def _error(loc: Loc, msg: str, value: Any) -> ErrorDict:
    return {"type": "value_error", "loc": loc, "msg": msg, "input": value}


def value_problem(value: object) -> str | None:
    """Why a parsed value cannot be stored or echoed, or None when it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain the NUL character (U+0000)"
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return "must not contain a lone surrogate (RFC 7493 section 2.1)"
    elif isinstance(value, _NotJsonNumber):
        return f"{value.text} is not a JSON number (NaN, Infinity and overflowing numbers are refused)"
    elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        return "must be a 64-bit integer (between -2^63 and 2^63-1)"
    return None


def _walk(document: Any) -> Iterator[tuple[Loc, Any]]:
    """Every key and leaf of a parsed JSON document with its path; iterative, since the parser allows
    nesting as deep as the interpreter's recursion limit."""
    stack: list[tuple[Loc, Any]] = [((), document)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                yield (*loc, key), key
                stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(((*loc, i), item) for i, item in enumerate(value))
        else:
            yield loc, value


def document_errors(document: Any, prefix: Loc) -> list[ErrorDict]:
    """422 entries for every value of a parsed document that `value_problem` refuses."""
    errors = []
    for loc, value in _walk(document):
        problem = value_problem(value)
        if problem is not None:
            shown = value.text if isinstance(value, _NotJsonNumber) else value
            errors.append(_error((*prefix, *loc), problem, shown))
    return errors


def strict_json(body: bytes) -> Any:
    """The parsed body, or a RequestValidationError naming the offset (syntax) or the field (content)."""
    try:
        document = json.loads(body, parse_constant=_NotJsonNumber, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}]
        ) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
        raise RequestValidationError([_error(("body",), f"JSON decode error: {reason}", {})]) from exc
    errors = document_errors(document, ("body",))
    if errors:
        raise RequestValidationError(errors)
    return document


class StrictRequest(Request):
    """A request whose JSON body passes the checks above."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


# ---- path and query parameters --------------------------------------------------------------------------


def _accepts_int(annotation: Any) -> bool:
    return annotation is int or any(_accepts_int(arg) for arg in get_args(annotation))


def integer_parameters(dependant: Dependant) -> frozenset[tuple[str, str]]:
    """("path" | "query", name) of every integer parameter of a route, its dependencies included, and the
    integer fields of query-parameter models (`Annotated[Filters, Query()]`)."""
    found: set[tuple[str, str]] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        pending.extend(current.dependencies)
        found.update(_integer_fields("path", current.path_params))
        found.update(_integer_fields("query", current.query_params))
    return frozenset(found)


def _integer_fields(where: str, fields: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for field in fields:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                if _accepts_int(info.annotation):
                    yield where, info.alias or name
        elif _accepts_int(annotation):
            yield where, field.alias


def _as_int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:  # not an integer (or too many digits): FastAPI's own validation answers
        return None


def parameter_errors(
    path_params: Iterable[tuple[str, Any]],
    query_params: Iterable[tuple[str, str]],
    integers: frozenset[tuple[str, str]],
) -> list[ErrorDict]:
    """422 entries for path and query values holding NUL, and integer parameters out of the 64-bit range."""
    errors = []
    for where, items in (("path", path_params), ("query", query_params)):
        for name, raw in items:
            if not isinstance(raw, str):
                continue
            problem = value_problem(name) or value_problem(raw)
            if problem is None and (where, name) in integers:
                number = _as_int(raw)
                problem = value_problem(number) if number is not None else None
            if problem is not None:
                errors.append(_error((where, name), problem, raw))
    return errors


# ---- the 422 answer -------------------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """`value` made encodable as strict JSON in UTF-8: non-finite floats become their names, lone
    surrogates and undecodable bytes become backslash escapes; anything else goes through FastAPI's
    encoder, and what that cannot encode becomes its repr."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, _NotJsonNumber):
        return value.text
    try:
        encoded = jsonable_encoder(value)
    except Exception:  # an encoder failure must not turn a 422 into a 500
        return json_safe(repr(value))
    return json_safe(encoded) if encoded is not value else json_safe(repr(value))


async def validation_error_response(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body `{"detail": [...]}`, serialisable whatever the input held."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(
        {"detail": json_safe(list(errors))}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def definition_errors(
    errors: Iterable[Any], loc: Loc, *, kind: str, part: str, parts: str
) -> list[ErrorDict]:
    """FastAPI's 422 shape for errors found inside a stored definition (an IVR flow, a call script), one entry
    per error: each error names its `part` (a node, a page; None for the definition as a whole), a dotted
    `field` inside it and a `reason`; `loc` continues into ``parts`` (e.g. "nodes") and the part's name, and
    `ctx` carries all three, so the console can show the error on its node or page."""
    out: list[ErrorDict] = []
    for e in errors:
        name = getattr(e, part)
        where = (parts, name) if name is not None else ()
        out.append({
            "type": kind,
            "loc": [*loc, *where, *filter(None, e.field.split("."))],
            "msg": str(e),
            "ctx": {part: name, "field": e.field, "reason": e.reason},
        })  # fmt: skip
    return out
