"""Lead files: reading a CSV (or the records of an XLSX sheet) into validated rows plus per-row errors, as a
stream, and writing an export. No I/O beyond the file object it is handed, no DB.

Input rules (the import route and the CLI document them to integrators too):
- UTF-8 (a BOM is accepted), a header row, delimiter `,` (or `;`, tab or `|` when the header row uses that
  instead). Header names are matched case-insensitively, spaces read as `_` ("First Name" = first_name).
- `phone` is required; `first_name, last_name, email, company, timezone, priority, external_id` are lead
  fields; the read-only fields of an export (`id, list_id, status, attempts, ...`) are ignored so an export can
  be imported again; any other named column goes to `custom` (empty cells are left out). A column mapping
  (`{"Mobile": "phone", "Interest": "custom.interest", "Notes": "-"}`) renames or drops columns first.
- Row numbers are 1-based physical line numbers (the header is line 1; a quoted field spanning lines counts
  each line), so they match what an editor shows. Blank lines are skipped.
- A broken row is rejected with one error per broken field and never stops the others.
- The callee's time zone: the `timezone` cell when given; else the zone of the number when the numbering plan
  maps it to one zone; when it maps to several, the one its postcode or state/province column settles
  (`lead_zone`: US, Canada, Australia), else the preferred zone (the campaign's default) if it is one of
  them, else none - the dialer then skips the lead with reason `no_timezone` rather than guess.

The reader holds one record at a time (plus the csv module's 128 KB field limit), so a file of any size is
read in bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import timezone as phone_zones

from duplex.api.lead_zone import Address, address_zone

__all__ = [
    "EXPORT_FIELDS",
    "Column",
    "CsvFileError",
    "LeadRow",
    "LeadStream",
    "ParsedCsv",
    "Record",
    "RowError",
    "TooManyRows",
    "csv_records",
    "export_header",
    "export_row",
    "parse_leads",
    "read_leads",
    "valid_region",
    "zone_of",
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
     "created_at", "last_outcome"}
)  # fmt: skip
EXPORT_FIELDS: tuple[str, ...] = (
    "id", "phone", "first_name", "last_name", "email", "company", "timezone", "priority", "external_id",
    "status", "attempts", "last_attempt_at", "next_attempt_at", "created_at",
)  # fmt: skip
PRIORITY_RANGE = (-(2**31), 2**31 - 1)
DELIMITERS = ",;\t|"
CUSTOM_PREFIX = "custom."
IGNORE = "-"
UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a number it has no zone for
_SURROGATE = re.compile("[\udc80-\udcff]")

Record = tuple[int, list[str], str | None]  # (first line number, cells, syntax error or None)


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
    """A valid row: `phone` in E.164, `values` the lead fields that had a value, `custom` the other columns,
    `zone` the time zone derived from the number (None when a `timezone` cell was given or none is known)."""

    line: int
    phone: str
    values: dict[str, Any]
    custom: dict[str, str]
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Column:
    """Where a file column goes: `kind` is "lead" (a lead field), "custom" (a custom key) or "ignore"."""

    kind: str
    key: str
    label: str  # the header cell, as row errors name it


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


def _parse_number(value: str, region: str | None) -> phonenumbers.PhoneNumber:
    """The parsed valid number, or ValueError with the reason."""
    try:
        parsed = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or value.startswith("+") else " (national numbers need ?region=)"
        raise ValueError(f"not a phone number: {exc}{hint}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"not a valid phone number: {value!r}")
    return parsed


def zone_of(
    number: phonenumbers.PhoneNumber, preferred: str | None = None, address: Address | None = None
) -> str | None:
    """The callee's IANA zone from the numbering plan: its only zone; when the number maps to several, the one
    the lead's postcode or state/province gives (`lead_zone`), else `preferred` when it is one of them, else
    None (the dialer skips such a lead: `no_timezone`)."""
    zones = [z for z in phone_zones.time_zones_for_number(number) if z != UNKNOWN_ZONE]
    if len(zones) == 1:
        return zones[0]
    if address is not None:
        country = phonenumbers.region_code_for_number(number)
        found = address_zone(country, zones, address, year=dt.datetime.now(dt.UTC).year)
        if found is not None:
            return found
    return preferred if preferred in zones else None


def _column_key(name: str) -> str:
    """The key a header cell stands for: a lead field name if it matches one, else the stripped text."""
    normal = "_".join(name.strip().lower().split())
    return normal if normal in LEAD_FIELDS or normal in READ_ONLY_FIELDS else name.strip()


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def csv_records(stream: IO[bytes]) -> Iterator[Record]:
    """The records of a CSV byte stream, read as it goes; blank lines are skipped. The stream is wrapped,
    not copied: a file, an upload or a socket-backed reader all work, in whatever pieces they return."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    first = text.readline()
    delimiter = _delimiter(first.split("\n", 1)[0])
    lines = itertools.chain([first], text) if first else iter(())
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
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


def _target(label: str, target: str) -> Column:
    if target == IGNORE or target == "":
        return Column("ignore", "", label)
    if target.startswith(CUSTOM_PREFIX) and len(target) > len(CUSTOM_PREFIX):
        return Column("custom", target[len(CUSTOM_PREFIX) :], label)
    if target in LEAD_FIELDS:
        return Column("lead", target, label)
    fields = ", ".join(sorted(LEAD_FIELDS))
    raise CsvFileError(f"column {label!r} is mapped to {target!r}: use one of {fields}, custom.<name> or -")


def _column(cell: str, mapping: Mapping[str, str]) -> Column:
    label = cell.strip()
    mapped = mapping.get(label.lower())
    if mapped is not None:
        return _target(label, mapped)
    key = _column_key(cell)
    if not key or key in READ_ONLY_FIELDS:
        return Column("ignore", key, label)
    return Column("lead" if key in LEAD_FIELDS else "custom", key, label)


def _header(first: list[str], mapping: Mapping[str, str]) -> list[Column]:
    if any(_SURROGATE.search(c) for c in first):
        raise CsvFileError("the header row is not valid UTF-8")
    if any("\x00" in c for c in first):
        raise CsvFileError("the header row contains a NUL character")
    labels = {c.strip().lower() for c in first}
    missing = sorted(k for k in mapping if k not in labels)
    if missing:
        raise CsvFileError(f"mapped column(s) not in the header row: {', '.join(missing)}")
    columns = [_column(c, mapping) for c in first]
    named = [f"{c.kind}:{c.key}" for c in columns if c.key and c.kind != "ignore"]
    duplicates = sorted({n.split(":", 1)[1] for n in named if named.count(n) > 1})
    if duplicates:
        raise CsvFileError(f"duplicate column(s) in the header row: {', '.join(duplicates)}")
    if not any(c.kind == "lead" and c.key == "phone" for c in columns):
        found = ", ".join(c.label for c in columns if c.label) or "nothing"
        raise CsvFileError(f"the header row has no 'phone' column (found: {found})")
    return columns


def _check_value(key: str, value: str) -> Any:
    """The stored value of lead field `key` (not phone), or ValueError with the reason."""
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


@dataclass(frozen=True, slots=True, kw_only=True)
class _RowRules:
    columns: list[Column]
    region: str | None
    preferred_zone: str | None


def _row(line: int, rules: _RowRules, cells: list[str]) -> LeadRow | list[RowError]:
    if len(cells) != len(rules.columns):
        message = f"expected {len(rules.columns)} columns, got {len(cells)}"
        return [RowError(row=line, field=None, message=message)]
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    custom: dict[str, str] = {}
    number: phonenumbers.PhoneNumber | None = None
    for column, raw in zip(rules.columns, cells, strict=True):
        value, key = raw.strip(), column.key
        if _SURROGATE.search(value):
            errors.append(RowError(row=line, field=key or None, message="not valid UTF-8"))
        elif "\x00" in value:  # PostgreSQL text cannot hold it
            errors.append(RowError(row=line, field=key or None, message="contains a NUL character"))
        elif column.kind == "ignore" or (not value and key != "phone"):
            continue
        elif column.kind == "custom":
            custom[key] = value
        elif not value:
            errors.append(RowError(row=line, field="phone", message="phone is required"))
        else:
            try:
                if key == "phone":
                    number = _parse_number(value, rules.region)
                else:
                    values[key] = _check_value(key, value)
            except ValueError as exc:
                errors.append(RowError(row=line, field=key, message=str(exc)))
    if errors or number is None:
        return errors
    phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    zone = (
        None if "timezone" in values else zone_of(number, rules.preferred_zone, Address.from_fields(custom))
    )
    return LeadRow(line=line, phone=phone, values=values, custom=custom, zone=zone)


@dataclass(slots=True)
class LeadStream:
    """The header's columns and, lazily, every data row: a LeadRow or the row's errors."""

    columns: list[Column]
    rows: Iterator[LeadRow | list[RowError]]


def read_leads(
    records: Iterable[Record],
    *,
    region: str | None,
    mapping: Mapping[str, str] | None = None,
    preferred_zone: str | None = None,
) -> LeadStream:
    """Read the header now (CsvFileError for a file-level problem) and the rows as they are iterated.
    `mapping` maps header cells (case-insensitive) to a lead field, `custom.<key>` or `-` (drop)."""
    source = iter(records)
    first = next(source, None)
    if first is None:
        raise CsvFileError("the file is empty: a header row with a 'phone' column is needed")
    line, cells, syntax = first
    if syntax is not None:
        raise CsvFileError(f"the header row (line {line}) is not valid CSV: {syntax}")
    lowered = {k.strip().lower(): v.strip() for k, v in (mapping or {}).items()}
    rules = _RowRules(columns=_header(cells, lowered), region=region, preferred_zone=preferred_zone)

    def rows() -> Iterator[LeadRow | list[RowError]]:
        for line, cells, syntax in source:
            yield [RowError(row=line, field=None, message=syntax)] if syntax else _row(line, rules, cells)

    return LeadStream(columns=rules.columns, rows=rows())


def parse_leads(data: bytes, *, region: str | None, max_rows: int) -> ParsedCsv:
    """Parse and validate a whole lead CSV held in memory (the streaming reader, collected). Raises
    CsvFileError for a file-level problem, TooManyRows when it has more than `max_rows` data rows."""
    stream = read_leads(csv_records(io.BytesIO(data)), region=region)
    parsed = ParsedCsv(columns=[c.key for c in stream.columns])
    for result in stream.rows:
        if parsed.data_rows >= max_rows:
            raise TooManyRows(max_rows)
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
