"""The declarative flow format: a validated flow value and the graph facts the validator and interpreter share.

A flow is JSON (or YAML) shaped by ``flow.schema.json`` beside this module::

    {"start": "welcome", "language": "en", "timezone": "Europe/Bucharest",
     "nodes": {"welcome": {"type": "menu", "prompt": {"say": "For sales press 1"},
                           "options": {"1": "sales"}}, "sales": {"type": "queue", "queue": "sales"}}}

Nodes are keyed by id, so errors can name them and the admin UI can point at them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from duplex.ivr.languages import DEFAULT_LANGUAGE

__all__ = [
    "NODE_TYPES",
    "PASS_THROUGH_TYPES",
    "Flow",
    "Scalar",
    "flow_schema",
    "node_targets",
]

Scalar = str | int | float | bool | None

NODE_TYPES = (
    "answer", "play", "say", "menu", "input", "branch", "hours", "set", "lookup",
    "queue", "voicemail", "transfer", "callback", "csat", "hangup",
)  # fmt: skip
# Nodes that go straight on without waiting for the caller, the network or the call layer. A cycle made only
# of these would spin forever, so the validator refuses one that has no way out.
PASS_THROUGH_TYPES = frozenset({"answer", "set", "branch", "hours", "callback"})
_SINGLE_TARGETS = ("next", "on_invalid", "on_timeout", "on_error", "default", "open", "closed", "holiday",
                   "on_overflow", "after_call")  # fmt: skip


@cache
def flow_schema() -> dict[str, Any]:
    """The published JSON Schema of the flow format (a fresh copy is not needed: callers must not mutate)."""
    text = resources.files("duplex.ivr").joinpath("flow.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def node_targets(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, target node id) for every edge leaving `node`, in a stable order."""
    for name in _SINGLE_TARGETS:
        target = node.get(name)
        if isinstance(target, str):
            yield name, target
    options = node.get("options")
    if isinstance(options, Mapping):
        for digit, target in sorted(options.items()):
            if isinstance(target, str):
                yield f"options.{digit}", target
    rules = node.get("rules")
    if isinstance(rules, list):
        for i, rule in enumerate(rules):
            if isinstance(rule, Mapping) and isinstance(rule.get("goto"), str):
                yield f"rules.{i}.goto", rule["goto"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """A flow that passed validation (build it with `duplex.ivr.load_flow`)."""

    start: str
    nodes: Mapping[str, Mapping[str, Any]]
    language: str = DEFAULT_LANGUAGE
    timezone: str = "UTC"
    variables: Mapping[str, Scalar] = field(default_factory=dict)

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Flow:
        """Wrap an already validated definition (no checks here: see `load_flow`).

        The nodes are copied: a run must not change when the caller later edits its dict.
        """
        return cls(
            start=definition["start"],
            nodes=copy.deepcopy(definition["nodes"]),
            language=definition.get("language", DEFAULT_LANGUAGE),
            timezone=definition.get("timezone", "UTC"),
            variables=dict(definition.get("variables", {})),
        )
