"""Schema building blocks shared by every resource: strict input, ORM output, derived partial updates,
E.164 phone normalisation."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from typing import Annotated, Any, ClassVar, cast

import phonenumbers
from pydantic import BaseModel, ConfigDict, ValidationInfo, create_model, field_validator

from duplex.api.db import field_error


class Input(BaseModel):
    """Request bodies: unknown fields are an error (422 naming the field), not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_time(cls, value: Any) -> Any:
        # PostgreSQL stores timestamptz in UTC: 0001-01-01T00:00+05:00 is before year 1 there (a 500 before).
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            try:
                value.astimezone(dt.UTC)
            except OverflowError:
                raise ValueError("out of range once converted to UTC") from None
        return value


class Output(BaseModel):
    """Responses, read from ORM rows. Times are UTC (SQLite returns them without a zone)."""

    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class _PartialBase(Input):
    non_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.non_null:
            raise ValueError("may not be null")
        return value


@functools.cache
def partial(create: type[BaseModel]) -> type[BaseModel]:
    """The update schema of a create schema: the same fields and constraints, every one optional.
    Routes use `model_dump(exclude_unset=True)`, so only the fields sent are changed."""
    fields: dict[str, Any] = {}
    non_null: set[str] = set()
    for name, info in create.model_fields.items():
        relaxed = copy.copy(info)
        relaxed.default = None
        relaxed.default_factory = None
        # Constraints and validators apply to a value, not to the None that now means "absent" (an
        # AfterValidator got None and raised: a 500). None itself is refused below if the field is not nullable.
        relaxed.metadata = []
        inner: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (inner | None, relaxed)
        if not _allows_none(info.annotation):
            non_null.add(name)
    name = create.__name__.removesuffix("Create") + "Update"
    bases: tuple[type[_PartialBase], ...] = (_PartialBase, create)  # type: ignore[assignment]
    model = cast(type[_PartialBase], create_model(name, __base__=bases, **fields))
    model.non_null = frozenset(non_null)
    return model


def _allows_none(annotation: Any) -> bool:
    return annotation is None or type(None) in getattr(annotation, "__args__", ())


def to_e164(value: str, *, region: str | None, loc: tuple[str | int, ...]) -> str:
    """`value` as E.164 (+40712345678). A national number needs `region` (ISO 3166 alpha-2, e.g. "RO").
    Raises a 422 naming `loc` when the number cannot be parsed or is not a valid number."""
    try:
        parsed = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or value.strip().startswith("+") else " (national numbers need a region)"
        raise field_error(loc, f"not a phone number: {exc}{hint}", value) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise field_error(loc, "not a valid phone number", value)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
