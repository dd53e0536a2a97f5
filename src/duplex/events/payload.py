"""What every event payload is: a frozen dataclass whose fields are checked against their type hints.

A payload class names its event type (`event_type`) and declares its fields with ordinary type hints; the
hints are the contract, checked when the payload is built, whether by an emitter constructing it directly
or by `from_data` from a JSON-shaped dict (the name + dict form). The JSON name of a field is its Python
name unless it says otherwise (`from_` is "from": `field(metadata=json_name("from"))`).

In the JSON, a required field is always present (null if its type allows None), and an optional field
(default None) is left out while it is None: what an emitter sends only sometimes (an inbound call's
trunk) stays absent otherwise, as it always was, and readers take a missing key as None.

Standard library only: the IVR, ACD and dialer cores and the simulator build payloads without loading a
database or an event loop.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Self, Union

__all__ = ["EventPayload", "InvalidEventPayload", "UnknownEventType", "json_name"]

_JSON_NAME = "duplex.json_name"


def json_name(name: str) -> dict[str, str]:
    """Field metadata for a field whose JSON name is not a Python identifier (`from`)."""
    return {_JSON_NAME: name}


class UnknownEventType(ValueError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}; known types are listed in duplex.events.types")
        self.event_type = event_type


class InvalidEventPayload(ValueError):
    """A payload that does not match its type: an unknown field, a missing required field or a wrong type.
    `field` is the JSON name of the offending field."""

    def __init__(self, event_type: str, field: str, problem: str) -> None:
        super().__init__(f"{event_type} payload, field {field!r}: {problem}")
        self.event_type = event_type
        self.field = field
        self.problem = problem


class _Field(typing.NamedTuple):
    name: str  # the attribute
    json: str  # the key in the event's data
    hint: Any
    required: bool
    conforms: Callable[[Any], bool]  # the hint as a check (built once per class)
    wants_tuple: bool  # a JSON list becomes a tuple
    omitted_when_none: bool  # an optional field (default None): absent from the JSON while None


class EventPayload:
    """Base of the catalogue's payloads. Subclasses are `@dataclass(frozen=True, slots=True, kw_only=True)`
    and set `event_type`; they are never subclassed further."""

    __slots__ = ()
    event_type: ClassVar[str]

    def __post_init__(self) -> None:
        for f in _fields(type(self)):
            value = getattr(self, f.name)
            if not f.conforms(value):
                raise InvalidEventPayload(self.event_type, f.json, _wrong(value, f.hint))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        """Build the payload from an event's JSON-shaped data, refusing unknown and missing fields."""
        fields = _fields(cls)
        if not _NAMES[cls].issuperset(data):
            unknown = sorted(data.keys() - _NAMES[cls])[0]
            known = ", ".join(f.json for f in fields) or "none"
            raise InvalidEventPayload(cls.event_type, unknown, f"unknown field (fields: {known})")
        kwargs: dict[str, Any] = {}
        for f in fields:
            if f.json in data:
                value = data[f.json]
                kwargs[f.name] = tuple(value) if f.wants_tuple and isinstance(value, list) else value
            elif f.required:
                raise InvalidEventPayload(cls.event_type, f.json, "missing required field")
        return cls(**kwargs)

    def to_data(self) -> dict[str, Any]:
        """The event's `data` as stored and sent (WebSocket, webhooks): the fields by their JSON names,
        optional ones only when set."""
        data: dict[str, Any] = {}
        for f in _fields(type(self)):
            value = getattr(self, f.name)
            if value is None and f.omitted_when_none:
                continue
            data[f.json] = _to_json(value) if isinstance(value, tuple | dict) else value
        return data


_FIELDS: dict[type[EventPayload], tuple[_Field, ...]] = {}  # per class, from its resolved type hints
_NAMES: dict[type[EventPayload], frozenset[str]] = {}  # per class, its fields' JSON names


def _fields(cls: type[EventPayload]) -> tuple[_Field, ...]:
    cached = _FIELDS.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = tuple(
            _Field(
                name=f.name,
                json=f.metadata.get(_JSON_NAME, f.name),
                hint=hints[f.name],
                required=f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
                conforms=_checker(hints[f.name]),
                wants_tuple=_wants_tuple(hints[f.name]),
                omitted_when_none=f.default is None,
            )
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]  # subclasses are dataclasses
        )
        _NAMES[cls] = frozenset(f.json for f in cached)  # first: a class in _FIELDS has its names
        _FIELDS[cls] = cached
    return cached


def _checker(hint: Any) -> Callable[[Any], bool]:
    """A test of whether a value is of the type `hint`, for the few forms payloads use: scalars, None,
    unions, Literal, tuple[X, ...], dict[str, X] and Any. Values of exactly a named scalar type (the
    common case) pass on one set lookup; the full test catches subclasses (a StrEnum) and containers."""
    exact = _exact_types(hint)
    full = _full_checker(hint)
    if not exact:
        return full
    return lambda value: type(value) in exact or full(value)


def _exact_types(hint: Any) -> frozenset[type]:
    if hint is type(None) or hint is None:
        return frozenset({type(None)})
    if hint is float:
        return frozenset({float, int})
    if isinstance(hint, type) and not typing.get_args(hint):
        return frozenset({hint})
    if typing.get_origin(hint) in (Union, types.UnionType):
        return frozenset().union(*(_exact_types(arg) for arg in typing.get_args(hint)))
    return frozenset()


def _full_checker(hint: Any) -> Callable[[Any], bool]:
    if hint is Any:
        return lambda value: True
    if hint is type(None) or hint is None:
        return lambda value: value is None
    if hint is float:  # JSON does not tell 2 from 2.0
        return lambda value: isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and not args:
        return lambda value: isinstance(value, hint)
    if origin is Literal:
        allowed = frozenset(args)
        return lambda value: isinstance(value, str | int) and not isinstance(value, bool) and value in allowed
    if origin in (Union, types.UnionType):
        alternatives = tuple(_full_checker(arg) for arg in args)
        return lambda value: any(check(value) for check in alternatives)
    if origin is tuple:
        item = _checker(args[0] if args else Any)
        return lambda value: isinstance(value, tuple) and all(item(v) for v in value)
    if origin is dict:
        key, item = (_checker(a) for a in (args if args else (Any, Any)))
        return lambda value: isinstance(value, dict) and all(key(k) and item(v) for k, v in value.items())
    raise TypeError(f"payload fields cannot be of type {hint!r}")


def _describe(hint: Any) -> str:
    if hint is type(None) or hint is None:
        return "null"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        return f"a list of {_describe(args[0])}"
    if origin is dict:
        return "an object"
    return getattr(hint, "__name__", str(hint))


def _wrong(value: Any, hint: Any) -> str:
    return f"expected {_describe(hint)}, got {type(value).__name__} {value!r:.60}"


def _wants_tuple(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is tuple:
        return True
    return origin in (Union, types.UnionType) and any(_wants_tuple(a) for a in typing.get_args(hint))


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value
