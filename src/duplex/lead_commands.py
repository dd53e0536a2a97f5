"""What `duplex leads import` and `duplex leads recycle` do, against the configured database, outside the
server: the same reader, writer and recycling rules as the API, the same `lead.imported` / `lead.recycled`
events (written under this node's id with a `-cli` suffix, so their sequence never collides with a running
server's)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session, sessionmaker

from duplex.api.lead_csv import RowError
from duplex.api.lead_import import ImportCounts, ImportOptions, run_import
from duplex.api.lead_recycle import RecycleRule, recycle_leads
from duplex.api.lead_source import LeadSource, open_source
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory, utcnow
from duplex.db.models import Campaign, LeadList
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection

__all__ = ["ImportOutcome", "MissingList", "import_file", "recycle_list"]

SHOWN_ERRORS = 20


class MissingList(LookupError):
    pass


@dataclass(slots=True, kw_only=True)
class ImportOutcome:
    counts: ImportCounts
    error_count: int = 0  # one per bad field (a row may have several)
    first_errors: list[RowError] = field(default_factory=list)


@contextmanager
def _database(settings: Settings) -> Iterator[tuple[sessionmaker[Session], EventRecord]]:
    engine = make_engine(settings.effective_database_url)
    try:
        sessions = make_session_factory(engine)
        yield (
            sessions,
            EventRecord(sessions, node_id=f"{settings.node_id}-cli", projectors=[LiveProjection()]),
        )
    finally:
        engine.dispose()


def _list(session: Session, list_id: int) -> LeadList:
    lead_list = session.get(LeadList, list_id)
    if lead_list is None:
        raise MissingList(f"lead list {list_id} not found")
    return lead_list


def import_file(
    settings: Settings,
    path: Path,
    options: ImportOptions,
    *,
    progress: Callable[[LeadSource, ImportCounts], None] = lambda source, counts: None,
    errors_to: IO[str] | None = None,
) -> ImportOutcome:
    """Import `path` (CSV or XLSX) into `options.list_id` in one transaction. `progress` is called after every
    batch; every row error goes to `errors_to` as CSV (row, field, message) when given."""
    outcome = ImportOutcome(counts=ImportCounts())
    writer = csv.writer(errors_to, lineterminator="\n") if errors_to is not None else None
    if writer is not None:
        writer.writerow(["row", "field", "message"])

    def on_errors(row_errors: list[RowError]) -> None:
        outcome.error_count += len(row_errors)
        room = SHOWN_ERRORS - len(outcome.first_errors)
        outcome.first_errors.extend(row_errors[: max(room, 0)])
        if writer is not None:
            writer.writerows((e.row, e.field or "", e.message) for e in row_errors)

    with _database(settings) as (sessions, record), sessions() as session, session.begin():
        lead_list = _list(session, options.list_id)
        campaign = session.get(Campaign, lead_list.campaign_id) if lead_list.campaign_id else None
        options = replace(options, preferred_zone=campaign.default_timezone if campaign else None)
        with path.open("rb") as stream:
            source = open_source(stream, filename=path.name)
            outcome.counts = run_import(
                session, source, options, now=utcnow(), on_errors=on_errors,
                on_batch=lambda counts: progress(source, counts),
            )  # fmt: skip
        if not options.dry_run:
            summary = _summary(lead_list.id, outcome.counts, options, path.name)
            record.append(session, "lead.imported", campaign_id=lead_list.campaign_id, data=summary)
    return outcome


def _summary(list_id: int, counts: ImportCounts, options: ImportOptions, filename: str) -> dict[str, object]:
    return {
        "list_id": list_id,
        "imported": counts.imported,
        "updated": counts.updated,
        "skipped_duplicates": counts.skipped_duplicates,
        "rejected": counts.rejected,
        "dnc_flagged": counts.dnc_flagged,
        "data_rows": counts.imported + counts.updated + counts.skipped_duplicates + counts.rejected,
        "on_duplicate": options.on_duplicate.value,
        "filename": filename[:255],
        "by_user_id": None,
        "via": "cli",
    }


def recycle_list(
    settings: Settings, list_id: int, rule: RecycleRule, *, dry_run: bool, now: dt.datetime | None = None
) -> int:
    """Recycle the list's leads matching `rule`; returns how many (would be, when `dry_run`)."""
    with _database(settings) as (sessions, record), sessions() as session, session.begin():
        lead_list = _list(session, list_id)
        count = recycle_leads(session, list_id=list_id, rule=rule, now=now or utcnow(), dry_run=dry_run)
        if not dry_run:
            detail = {
                "list_id": list_id, "recycled": count, "statuses": sorted(rule.statuses),
                "outcomes": sorted(rule.outcomes), "after_days": rule.after_days, "filter": rule.lead_filter,
                "via": "cli",
            }  # fmt: skip
            record.append(session, "lead.recycled", campaign_id=lead_list.campaign_id, data=detail)
    return count
