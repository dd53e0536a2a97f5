"""Flow validation: the JSON Schema first, then what a schema cannot say, every error naming its node.

Checks, in order: the schema (field types, required fields, node types); then values (time zones, regular
expressions, times and dates); then the graph (missing targets, unreachable nodes, loops with no exit); then
references to things outside the flow (queues and prompt files), against sets the caller passes in so this
module never needs a database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from duplex.ivr.calendar import minutes_of, valid_timezone
from duplex.ivr.flow import PASS_THROUGH_TYPES, Flow, flow_schema, node_targets

__all__ = ["FlowError", "InvalidFlow", "load_flow", "validate_flow"]

QueueRef = str | int


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowError:
    """One reason a flow is refused. `node` is None for the flow as a whole (e.g. a bad `start`)."""

    node: str | None
    field: str  # dotted path inside the node (or the flow), "" for the node itself
    reason: str

    def __str__(self) -> str:
        where = f"node {self.node!r}" if self.node is not None else "flow"
        return f"{where}: {self.field + ': ' if self.field else ''}{self.reason}"


class InvalidFlow(ValueError):
    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = tuple(errors)


@cache
def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(flow_schema())


def load_flow(
    definition: Mapping[str, Any],
    *,
    known_queues: Collection[QueueRef] | None = None,
    known_prompts: Collection[str] | None = None,
) -> Flow:
    """The validated `Flow`, or `InvalidFlow` listing every error."""
    errors = validate_flow(definition, known_queues=known_queues, known_prompts=known_prompts)
    if errors:
        raise InvalidFlow(errors)
    return Flow.from_definition(definition)


def validate_flow(
    definition: Any,
    *,
    known_queues: Collection[QueueRef] | None = None,
    known_prompts: Collection[str] | None = None,
) -> list[FlowError]:
    """Every error of `definition`; empty when valid. None for `known_*` skips that reference check."""
    errors = [_from_schema(e) for e in _schema_validator().iter_errors(definition)]
    if errors:  # the checks below trust the structure the schema guarantees
        return sorted(set(errors), key=_order)
    nodes: Mapping[str, Mapping[str, Any]] = definition["nodes"]
    errors += _flow_values(definition)
    for node_id, node in nodes.items():
        errors += [FlowError(node=node_id, field=f, reason=r) for f, r in _node_values(node)]
    errors += _graph(definition["start"], nodes)
    errors += _references(nodes, known_queues, known_prompts)
    return errors


def _order(error: FlowError) -> tuple[str, str, str]:
    return (error.node or "", error.field, error.reason)


def _from_schema(error: ValidationError) -> FlowError:
    path = [str(p) for p in error.absolute_path]
    node = path[1] if len(path) >= 2 and path[0] == "nodes" else None
    inside = path[2:] if node is not None else path
    field = ".".join(inside)
    if error.validator in ("oneOf", "anyOf"):
        reason = f"{field or 'the node'} matches none of the allowed forms"
    elif error.validator == "additionalProperties" and node is None and path == ["nodes"]:
        reason = error.message
    else:
        reason = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return FlowError(node=node, field=field, reason=reason)


def _flow_values(definition: Mapping[str, Any]) -> list[FlowError]:
    timezone = definition.get("timezone")
    if timezone is not None and not valid_timezone(timezone):
        return [FlowError(node=None, field="timezone", reason=f"unknown time zone {timezone!r}")]
    return []


def _node_values(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    kind = node["type"]
    if kind == "input":
        yield from _regex("pattern", node.get("pattern"))
        if node.get("min_digits", 1) > node.get("max_digits", 20):
            yield "min_digits", "min_digits is larger than max_digits"
    elif kind == "branch":
        for i, rule in enumerate(node["rules"]):
            for j, condition in enumerate(rule["if"]):
                yield from _condition(f"rules.{i}.if.{j}", condition)
    elif kind == "hours":
        yield from _hours(node)


def _regex(field: str, pattern: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(pattern, str):
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        yield field, f"invalid regular expression: {exc}"


def _condition(field: str, condition: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    op, value = condition.get("op"), condition.get("value")
    if "var" in condition:
        if op in ("exists", "missing"):
            return
        if "value" not in condition:
            yield field, f"operator {op!r} needs a value"
        elif op in ("in", "not_in") and not isinstance(value, list):
            yield field, f"operator {op!r} needs a list value"
        elif op in ("lt", "le", "gt", "ge") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            yield field, f"operator {op!r} needs a number value"
        elif op == "matches" and not isinstance(value, str):
            yield field, "operator 'matches' needs a regular expression string"
        elif op == "matches":
            yield from _regex(f"{field}.value", value)
    for key in ("time_from", "time_to"):
        if key in condition:
            yield from _time(f"{field}.{key}", condition[key])


def _time(field: str, value: str) -> Iterator[tuple[str, str]]:
    try:
        minutes_of(value)
    except ValueError as exc:
        yield field, str(exc)


def _hours(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    timezone = node.get("timezone")
    if timezone is not None and not valid_timezone(timezone):
        yield "timezone", f"unknown time zone {timezone!r}"
    for day, ranges in node["schedule"].items():
        for i, (start, end) in enumerate(ranges):
            try:
                if minutes_of(start) >= minutes_of(end):
                    yield f"schedule.{day}.{i}", f"opening {start} is not before closing {end}"
            except ValueError as exc:
                yield f"schedule.{day}.{i}", str(exc)
    for i, day in enumerate(node.get("holidays", ())):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            yield f"holidays.{i}", f"{day!r} is not a date YYYY-MM-DD"


def _graph(start: str, nodes: Mapping[str, Mapping[str, Any]]) -> list[FlowError]:
    errors: list[FlowError] = []
    if start not in nodes:
        errors.append(FlowError(node=None, field="start", reason=f"start node {start!r} does not exist"))
    for node_id, node in nodes.items():
        for field, target in node_targets(node):
            if target not in nodes:
                errors.append(
                    FlowError(node=node_id, field=field, reason=f"target {target!r} does not exist")
                )
    if errors:
        return errors
    reached = _reachable(start, nodes)
    for node_id in nodes:
        if node_id not in reached:
            errors.append(FlowError(node=node_id, field="", reason=f"unreachable from start node {start!r}"))
    errors += _loops(nodes)
    return errors


def _reachable(start: str, nodes: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for _, target in node_targets(nodes[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _loops(nodes: Mapping[str, Mapping[str, Any]]) -> list[FlowError]:
    """Pass-through nodes from which no path ever reaches a node that waits or ends.

    Every pass-through node has at least one target, so such a node can only go round a cycle of
    pass-through nodes forever: a loop with no exit.
    """
    can_settle = {n for n, node in nodes.items() if node["type"] not in PASS_THROUGH_TYPES}
    changed = True
    while changed:
        changed = False
        for node_id, node in nodes.items():
            if node_id not in can_settle and any(t in can_settle for _, t in node_targets(node)):
                can_settle.add(node_id)
                changed = True
    stuck = sorted(n for n in nodes if n not in can_settle)
    cycle = ", ".join(stuck)
    return [
        FlowError(
            node=n,
            field="",
            reason=f"loop with no exit: it only cycles through {cycle} and never waits for the caller or ends",
        )
        for n in stuck
    ]


def _references(
    nodes: Mapping[str, Mapping[str, Any]],
    known_queues: Collection[QueueRef] | None,
    known_prompts: Collection[str] | None,
) -> list[FlowError]:
    errors: list[FlowError] = []
    for node_id, node in nodes.items():
        queue = node.get("queue")
        if known_queues is not None and queue is not None and queue not in known_queues:
            errors.append(FlowError(node=node_id, field="queue", reason=f"unknown queue {queue!r}"))
        if known_prompts is None:
            continue
        for field, file in _prompt_files(node):
            if file not in known_prompts:
                errors.append(FlowError(node=node_id, field=field, reason=f"unknown prompt file {file!r}"))
    return errors


def _prompt_files(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if node["type"] == "play":
        yield "file", node["file"]
    for key in ("prompt", "retry_prompt"):
        prompt = node.get(key)
        if isinstance(prompt, Mapping) and "play" in prompt:
            yield f"{key}.play", prompt["play"]
