"""Hostile HTTP requests generated from the API's own OpenAPI document (used by test_http_fuzz.py and
bench/fuzz_http.py).

schemathesis turns every operation into a Hypothesis strategy of requests that fit the schema (positive) or
break it (negative). On top of that, `hostile()` puts one value the schema cannot express into a path or
query parameter or a body field: NaN, Infinity, 1e999, integers past 64 bits, NUL, a lone surrogate. Bodies
are sent as JSON text written with `allow_nan=True, ensure_ascii=True`, so those values reach the server
exactly as an attacker would write them.

Webhook URLs in bodies are replaced by a loopback address: a created webhook must never send a delivery
or a ping off this machine. Logout is left out: it would revoke the token the run uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

T = TypeVar("T")

SKIPPED = frozenset({("POST", "/api/v1/auth/logout")})
LOOPBACK_HOOK = "http://127.0.0.1:9/hook"  # the discard port: a delivery fails at once, locally
WEBHOOK_PATHS = ("/api/v1/webhooks",)

# Raw JSON text for body values; query and path values are sent as text.
HOSTILE_JSON = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    str(2**63),
    str(-(2**63) - 1),
    '"\\u0000"',
    '"\\ud800"',
]
HOSTILE_TEXT = [str(2**63), str(-(2**63) - 1), "1" * 40, "\x00", "a\x00b", "NaN", "1e999", "-0", " "]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """One request, ready for httpx: `client.request(method, path, params=..., headers=..., content=...)`."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    def describe(self) -> str:
        body = self.content[:300] if self.content is not None else b""
        return f"{self.method} {self.path} params={self.params!r} headers={self.headers!r} body={body!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """A request as schemathesis generated it, before `hostile()` writes it out."""

    method: str
    path: str  # with {placeholders}
    path_parameters: dict[str, Any]
    params: dict[str, Any]
    headers: dict[str, str]
    body: Any = None
    has_json: bool = False
    raw: bytes | None = None  # a body schemathesis wrote as bytes (a negative case's bad encoding)


Pick = Callable[[Sequence[Any]], Any]  # chooses one element: a Hypothesis draw or random.Random.choice


def operations(openapi: dict[str, Any]) -> list[Any]:
    """The schema's operations less SKIPPED, as schemathesis APIOperation objects."""
    schema = schemathesis.openapi.from_dict(openapi)
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if (op.method.upper(), op.path) not in SKIPPED]


def _replace_leaf(value: Any, target: int, replacement: Any, counter: list[int]) -> Any:
    """`value` with its `target`-th leaf (depth first) replaced; `counter` counts the leaves seen."""
    if isinstance(value, dict):
        return {k: _replace_leaf(v, target, replacement, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_leaf(v, target, replacement, counter) for v in value]
    counter[0] += 1
    return replacement if counter[0] - 1 == target else value


def _leaves(value: Any) -> int:
    counter = [0]
    _replace_leaf(value, -1, None, counter)
    return counter[0]


def _loopback_hooks(path: str, body: Any) -> Any:
    if path.startswith(WEBHOOK_PATHS) and isinstance(body, dict) and "url" in body:
        return {**body, "url": LOOPBACK_HOOK}
    return body


def template(case: Any) -> Template:
    kwargs = case.as_transport_kwargs(base_url="")
    headers = {
        k: str(v) for k, v in kwargs.get("headers", {}).items() if k.lower().startswith(("content-", "auth"))
    }
    return Template(
        method=case.method.upper(),
        path=case.operation.path,
        path_parameters=dict(case.path_parameters or {}),
        params={k: v for k, v in kwargs.get("params", {}).items() if v is not None},
        headers=headers,
        body=_loopback_hooks(case.operation.path, kwargs.get("json")),
        has_json="json" in kwargs,
        raw=kwargs.get("data") if isinstance(kwargs.get("data"), bytes) else None,
    )


def hostile(t: Template, pick: Pick) -> HttpRequest:
    """`t` written out, with one value of a body field, query or path parameter (picked) made hostile, or
    none."""
    where = pick(["none", "body", "query", "path"])
    params = dict(t.params)
    path_values = dict(t.path_parameters)
    content = t.raw
    if t.has_json:
        body = t.body
        marker = "__hostile__"
        if where == "body" and _leaves(body):
            body = _replace_leaf(body, pick(range(_leaves(body))), marker, [0])
        text = json.dumps(body, allow_nan=True, ensure_ascii=True)
        content = text.replace(json.dumps(marker), pick(HOSTILE_JSON)).encode()
    if where == "query" and params:
        params[pick(sorted(params))] = pick(HOSTILE_TEXT)
    if where == "path" and path_values:
        path_values[pick(sorted(path_values))] = pick(HOSTILE_TEXT)
    path = t.path.format(**{k: quote(str(v), safe="") for k, v in path_values.items()})
    return HttpRequest(method=t.method, path=path, params=params, headers=dict(t.headers), content=content)


def generate(openapi: dict[str, Any], count: int, *, random_seed: int) -> list[HttpRequest]:
    """About `count` requests, the same number for each operation (so every one is reached), valid by the
    schema or not, each possibly carrying one hostile value; the same list for the same document and seed."""
    requests: list[HttpRequest] = []
    ops = operations(openapi)
    for index, op in enumerate(ops):
        requests.extend(_generate_for(op, max(1, count // len(ops)), random_seed + index, hostile))
    return requests


def templates(openapi: dict[str, Any], count: int, *, random_seed: int) -> list[Template]:
    """Like `generate`, but the templates, for a caller that writes each out many times (bench)."""
    found: list[Template] = []
    ops = operations(openapi)
    for index, op in enumerate(ops):
        found.extend(_generate_for(op, max(1, count // len(ops)), random_seed + index, lambda t, _: t))
    return found


def _generate_for(op: Any, count: int, random_seed: int, finish: Callable[[Template, Pick], T]) -> list[T]:
    found: list[T] = []

    @seed(random_seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def collect(data: Any) -> None:
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
        case = data.draw(op.as_strategy(generation_mode=mode))
        found.append(finish(template(case), lambda options: data.draw(st.sampled_from(list(options)))))

    collect()
    return found
