"""Lead CSV: parsing an upload into validated rows plus per-row errors, and writing an export. No I/O, no DB.

Input rules (the import route documents them to integrators too):
- UTF-8 (a BOM is accepted), a header row, delimiter `,` (or `;`, tab or `|` when the header row uses that
  instead). Header names are matched case-insensitively, spaces read as `_` ("First Name" = first_name).
- `phone` is required; `first_name, last_name, email, company, timezone, priority, external_id` are lead
  fields; the read-only fields of an export (`id, list_id, status, attempts, ...`) are ignored so an export can
  be imported again; any other named column goes to `custom` (empty cells are left out).
- Row numbers are 1-based physical line numbers (the header is line 1; a quoted field spanning lines counts
  each line), so they match what an editor shows. Blank lines are skipped.
- A broken row is rejected with one error per broken field and never stops the others.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

import phonenumbers

__all__ = [
    "EXPORT_FIELDS",
    "CsvFileError",
    "LeadRow",
    "ParsedCsv",
    "RowError",
    "TooManyRows",
    "export_header",
    "export_row",
    "parse_leads",
    "valid_region",
]

TEXT_FIELDS: dict[str, int] = {  # lead field -> maximum length (the model's column sizes)
    "first_name": 64,
    "last_name": 64,
    "email": 255,
    "company": 128,
    "external_id": 64,
}
LEAD_FIELDS = frozenset({"phone", "timezone", "priority", *TEXT_FIELDS})
READ_ONLY_FIELDS = frozenset(
    {"id", "list_id", "status", "attempts", "last_attempt_at", "next_attempt_at", "callback_agent_id",
     "created_at"}
)  # fmt: skip
EXPORT_FIELDS: tuple[str, ...] = (
    "id", "phone", "first_name", "last_name", "email", "company", "timezone", "priority", "external_id",
    "status", "attempts", "last_attempt_at", "next_attempt_at", "created_at",
)  # fmt: skip
PRIORITY_RANGE = (-(2**31), 2**31 - 1)
DELIMITERS = ",;\t|"
_SURROGATE = re.compile("[\udc80-\udcff]")


class CsvFileError(ValueError):
    """The file as a whole cannot be imported (no header, no phone column, duplicate columns...)."""


class TooManyRows(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit} data rows; split it into smaller files")
        self.limit = limit


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    row: int
    field: str | None
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadRow:
    """A valid row: `phone` in E.164, `values` the lead fields that had a value, `custom` the other columns."""

    line: int
    phone: str
    values: dict[str, Any]
    custom: dict[str, str]


@dataclass(slots=True, kw_only=True)
class ParsedCsv:
    columns: list[str]
    rows: list[LeadRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rejected: int = 0  # rows with at least one error

    @property
    def data_rows(self) -> int:
        return len(self.rows) + self.rejected


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def _e164(value: str, region: str | None) -> str:
    """The number in E.164, or ValueError with the reason."""
    try:
        parsed = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or value.startswith("+") else " (national numbers need ?region=)"
        raise ValueError(f"not a phone number: {exc}{hint}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"not a valid phone number: {value!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _column_key(name: str) -> str:
    """The key a header cell stands for: a lead field name if it matches one, else the stripped text."""
    normal = "_".join(name.strip().lower().split())
    return normal if normal in LEAD_FIELDS or normal in READ_ONLY_FIELDS else name.strip()


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(first line number, cells, CSV syntax error or None) of every record; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader resets and goes on with the next line
            yield start, [], f"malformed CSV: {exc}"
            continue
        if any(c.strip() for c in cells):
            yield start, cells, None


def _header(first: list[str]) -> list[str]:
    if any(_SURROGATE.search(c) for c in first):
        raise CsvFileError("the header row is not valid UTF-8")
    if any("\x00" in c for c in first):
        raise CsvFileError("the header row contains a NUL character")
    columns = [_column_key(c) for c in first]
    named = [c for c in columns if c]
    duplicates = sorted({c for c in named if named.count(c) > 1})
    if duplicates:
        raise CsvFileError(f"duplicate column(s) in the header row: {', '.join(duplicates)}")
    if "phone" not in columns:
        raise CsvFileError(f"the header row has no 'phone' column (found: {', '.join(named) or 'nothing'})")
    return columns


def _check_value(key: str, value: str, region: str | None) -> Any:
    """The stored value of lead field `key`, or ValueError with the reason."""
    if key == "phone":
        return _e164(value, region)
    if key == "timezone":
        if value not in _zones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value
    if key == "priority":
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"priority must be an integer, got {value!r}") from None
        if not PRIORITY_RANGE[0] <= number <= PRIORITY_RANGE[1]:
            raise ValueError(f"priority must be between {PRIORITY_RANGE[0]} and {PRIORITY_RANGE[1]}")
        return number
    if len(value) > TEXT_FIELDS[key]:
        raise ValueError(f"longer than {TEXT_FIELDS[key]} characters")
    return value


def _row(line: int, columns: list[str], cells: list[str], region: str | None) -> LeadRow | list[RowError]:
    if len(cells) != len(columns):
        message = f"expected {len(columns)} columns, got {len(cells)}"
        return [RowError(row=line, field=None, message=message)]
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for key, raw in zip(columns, cells, strict=True):
        value = raw.strip()
        if _SURROGATE.search(value):
            errors.append(RowError(row=line, field=key or None, message="not valid UTF-8"))
        elif "\x00" in value:  # PostgreSQL text cannot hold it
            errors.append(RowError(row=line, field=key or None, message="contains a NUL character"))
        elif not key or key in READ_ONLY_FIELDS or (not value and key != "phone"):
            continue
        elif key not in LEAD_FIELDS:
            custom[key] = value
        elif not value:
            errors.append(RowError(row=line, field="phone", message="phone is required"))
        else:
            try:
                values[key] = _check_value(key, value, region)
            except ValueError as exc:
                errors.append(RowError(row=line, field=key, message=str(exc)))
    if errors:
        return errors
    return LeadRow(line=line, phone=values.pop("phone"), values=values, custom=custom)


def parse_leads(data: bytes, *, region: str | None, max_rows: int) -> ParsedCsv:
    """Parse and validate a lead CSV. Raises CsvFileError for a file-level problem, TooManyRows when it has
    more than `max_rows` data rows (checked before any row is validated)."""
    text = data.decode("utf-8-sig", errors="surrogateescape")
    newline = text.find("\n")
    records = list(_records(text, _delimiter(text[: newline if newline >= 0 else len(text)])))
    if not records:
        raise CsvFileError("the file is empty: a header row with a 'phone' column is needed")
    if len(records) - 1 > max_rows:
        raise TooManyRows(max_rows)
    line, first, syntax = records[0]
    if syntax is not None:
        raise CsvFileError(f"the header row (line {line}) is not valid CSV: {syntax}")
    parsed = ParsedCsv(columns=_header(first))
    for line, cells, syntax in records[1:]:
        result = (
            [RowError(row=line, field=None, message=syntax)]
            if syntax
            else _row(line, parsed.columns, cells, region)
        )
        if isinstance(result, LeadRow):
            parsed.rows.append(result)
        else:
            parsed.errors.extend(result)
            parsed.rejected += 1
    return parsed


# ---- export ---------------------------------------------------------------------------------------------


def export_header(custom_keys: Iterable[str]) -> list[str]:
    """The export's columns: the lead fields, then the custom keys that do not collide with them."""
    reserved = LEAD_FIELDS | READ_ONLY_FIELDS
    return [*EXPORT_FIELDS, *sorted({k for k in custom_keys if _column_key(k) not in reserved and k})]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_row(header: list[str], lead: Any) -> list[str]:
    """One CSV row for an ORM Lead (or any object with the lead attributes)."""
    custom: dict[str, Any] = lead.custom or {}
    cells = [_cell(getattr(lead, name)) for name in EXPORT_FIELDS]
    return cells + [_cell(custom.get(key)) for key in header[len(EXPORT_FIELDS) :]]
