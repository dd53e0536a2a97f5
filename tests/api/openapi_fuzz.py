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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

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
    """One request, ready for httpx: `client.request(method, url, params=..., headers=..., content=...)`."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    def describe(self) -> str:
        body = self.content[:300] if self.content is not None else b""
        return f"{self.method} {self.path} params={self.params!r} headers={self.headers!r} body={body!r}"


def operations(openapi: dict[str, Any]) -> list[Any]:
    """The schema's operations less SKIPPED, as schemathesis APIOperation objects."""
    schema = schemathesis.openapi.from_dict(openapi)
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if (op.method.upper(), op.path) not in SKIPPED]


def _marker(index: int) -> str:
    return f"__hostile_{index}__"


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


def _from_case(case: Any, draw: Any) -> HttpRequest:
    kwargs = case.as_transport_kwargs(base_url="")
    path = case.formatted_path
    params = {k: v for k, v in kwargs.get("params", {}).items() if v is not None}
    headers = {
        k: str(v) for k, v in kwargs.get("headers", {}).items() if k.lower().startswith(("content-", "auth"))
    }
    content: bytes | None = kwargs.get("data") if isinstance(kwargs.get("data"), bytes) else None
    body = _loopback_hooks(case.operation.path, kwargs["json"]) if "json" in kwargs else None
    where = draw(st.sampled_from(["none", "body", "query", "path"]))
    if where == "body" and "json" in kwargs and _leaves(body):
        marker = _marker(0)
        body = _replace_leaf(body, draw(st.integers(0, _leaves(body) - 1)), marker, [0])
        text = json.dumps(body, allow_nan=True, ensure_ascii=True)
        content = text.replace(json.dumps(marker), draw(st.sampled_from(HOSTILE_JSON))).encode()
    elif "json" in kwargs:
        content = json.dumps(body, allow_nan=True, ensure_ascii=True).encode()
    if where == "query" and params:
        params[draw(st.sampled_from(sorted(params)))] = draw(st.sampled_from(HOSTILE_TEXT))
    if where == "path" and case.path_parameters:
        name = draw(st.sampled_from(sorted(case.path_parameters)))
        values = {**case.path_parameters, name: draw(st.sampled_from(HOSTILE_TEXT))}
        path = case.operation.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
    return HttpRequest(method=case.method.upper(), path=path, params=params, headers=headers, content=content)


def generate(openapi: dict[str, Any], count: int, *, random_seed: int) -> list[HttpRequest]:
    """About `count` requests, the same number for each operation (so every one is reached), valid by the
    schema or not, each possibly carrying one hostile value; the same list for the same document and seed."""
    requests: list[HttpRequest] = []
    ops = operations(openapi)
    for index, op in enumerate(ops):
        requests.extend(_generate_for(op, max(1, count // len(ops)), random_seed + index))
    return requests


def _generate_for(op: Any, count: int, random_seed: int) -> list[HttpRequest]:
    requests: list[HttpRequest] = []

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
        requests.append(_from_case(case, data.draw))

    collect()
    return requests
