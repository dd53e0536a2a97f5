"""Writing parsed lead rows into a list: duplicates, do-not-call flags, bulk insert and update.

Every data row is counted exactly once: imported + updated + skipped_duplicates + rejected = data rows.
A row is a duplicate when its E.164 number is already in the list (before the import, or from an earlier
row of the same file). With `skip` it is counted and left alone; with `update` the lead fields it has a value
for (and its custom columns, merged into the lead's `custom`) overwrite the lead's; empty cells change
nothing, and the lead's status and dialing history are kept - except that a number on the do-not-call list
is always flagged `status=dnc`, whether new or updated. DNC numbers are imported, not dropped, so the list
shows what was suppressed and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from duplex.api.lead_csv import LeadRow
from duplex.db.models import DncEntry, Lead
from duplex.dialer.types import LeadStatus

__all__ = ["ImportCounts", "OnDuplicate", "write_leads"]

LEADS: Table = Lead.__table__  # type: ignore[assignment]
CHUNK = 500  # numbers per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits
NEW_LEAD_DEFAULTS: dict[str, Any] = {
    "first_name": "",
    "last_name": "",
    "email": None,
    "company": None,
    "timezone": None,
    "priority": 0,
    "external_id": None,
}


class OnDuplicate(StrEnum):
    SKIP = "skip"
    UPDATE = "update"


@dataclass(slots=True, kw_only=True)
class ImportCounts:
    imported: int = 0
    updated: int = 0
    skipped_duplicates: int = 0
    rejected: int = 0
    dnc_flagged: int = 0  # leads (new or updated) now marked status=dnc because the number is on the DNC list
    duplicate_rows: list[int] = field(default_factory=list)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _existing(session: Session, list_id: int, phones: Sequence[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """phone -> (lead id, custom) of the list's leads among `phones`."""
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for chunk in _chunks(phones):
        stmt = select(Lead.id, Lead.phone, Lead.custom).where(Lead.list_id == list_id, Lead.phone.in_(chunk))
        for ident, phone, custom in session.execute(stmt):
            found[phone] = (ident, dict(custom or {}))
    return found


def _on_dnc(session: Session, phones: Sequence[str], now: dt.datetime) -> set[str]:
    """The numbers among `phones` with a do-not-call entry in force at `now`."""
    listed: set[str] = set()
    for chunk in _chunks(phones):
        stmt = select(DncEntry.phone).where(
            DncEntry.phone.in_(chunk), or_(DncEntry.expires_at.is_(None), DncEntry.expires_at > now)
        )
        listed.update(session.scalars(stmt))
    return listed


def _merge(target: dict[str, Any], row: LeadRow) -> None:
    target.update(row.values)
    if row.custom:
        target["custom"] = {**target.get("custom", {}), **row.custom}


def write_leads(
    session: Session,
    *,
    list_id: int,
    rows: Sequence[LeadRow],
    on_duplicate: OnDuplicate,
    now: dt.datetime,
    dry_run: bool = False,
) -> ImportCounts:
    """Insert and update the list's leads for `rows` in `session`'s transaction (nothing is written when
    `dry_run`); returns the counts (`rejected` is left for the caller)."""
    phones = sorted({r.phone for r in rows})
    existing = _existing(session, list_id, phones)
    dnc = _on_dnc(session, phones, now)
    counts = ImportCounts()
    new: dict[str, dict[str, Any]] = {}
    changes: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.phone not in new and row.phone not in existing:
            status = LeadStatus.DNC if row.phone in dnc else LeadStatus.NEW
            new[row.phone] = {**NEW_LEAD_DEFAULTS, "list_id": list_id, "phone": row.phone, "status": status,
                              "custom": {}}  # fmt: skip
            _merge(new[row.phone], row)
            counts.imported += 1
        elif on_duplicate is OnDuplicate.SKIP:
            counts.skipped_duplicates += 1
            counts.duplicate_rows.append(row.line)
        else:
            counts.updated += 1
            if row.phone in new:
                _merge(new[row.phone], row)
                continue
            ident, custom = existing[row.phone]
            target = changes.setdefault(ident, {"id": ident})
            target.setdefault("custom", custom)
            _merge(target, row)
            if row.phone in dnc:
                target["status"] = LeadStatus.DNC
    counts.dnc_flagged = sum(1 for v in new.values() if v["status"] is LeadStatus.DNC) + sum(
        1 for v in changes.values() if v.get("status") is LeadStatus.DNC
    )
    if not dry_run:
        session.flush()
        if new:  # ORM bulk INSERT (executemany); measured faster here than RETURNING or multi-row VALUES
            session.execute(insert(Lead), list(new.values()))
        _update_by_id(session, list(changes.values()))
    return counts


def _update_by_id(session: Session, changes: list[dict[str, Any]]) -> None:
    """UPDATE leads SET <columns> WHERE id = :lead_id, one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(sorted(k for k in change if k != "id"))
        groups.setdefault(columns, []).append({"lead_id": change["id"], **change})
    for columns, params in groups.items():
        stmt = (
            update(LEADS)
            .where(LEADS.c.id == bindparam("lead_id"))
            .values({name: bindparam(name) for name in columns})
        )
        session.execute(stmt, params)
