"""Lead list import (CSV upload) and export (streamed CSV). Mounted by `outbound.router`.

Events: one `lead.imported` per import, with the counts, the list and its campaign - never one `lead.created`
per row (an import of 200 000 leads would otherwise flood the event record, the WebSocket stream and every
webhook). Integrators that need the leads read them with `GET /leads?list_id=` or the export. The import is
also audited (`lead_list.import`), like the export (`lead_list.export`: it reads personal data).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from duplex.api.audit import audit, record_write
from duplex.api.db import DbSession, field_error, not_found
from duplex.api.lead_csv import CsvFileError, RowError, TooManyRows, export_header, export_row, valid_region
from duplex.api.lead_import import ImportCounts, ImportOptions, OnDuplicate, run_import
from duplex.api.lead_source import open_source
from duplex.api.routing import DuplexRoute
from duplex.auth.deps import Principal, clock, require_role
from duplex.db.models import Campaign, Lead, LeadList, Role
from duplex.dialer.types import LeadStatus

__all__ = ["ImportLimits", "Staff", "load_list", "preferred_zone", "read_upload", "record_import", "router"]

router = APIRouter(route_class=DuplexRoute)
Staff = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", XLSX_TYPE})
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file
MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportLimits:
    """Upload limits; a deployment (or a test) may set `app.state.lead_import_limits`."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 200_000
    max_job_bytes: int = 1024 * 1024 * 1024  # an import job (lead_jobs.py) streams from a temporary file
    max_job_rows: int = 5_000_000


def limits_of(app_state: Any) -> ImportLimits:
    limits = getattr(app_state, "lead_import_limits", None)
    return limits if isinstance(limits, ImportLimits) else ImportLimits()


class RowErrorOut(BaseModel):
    row: int
    field: str | None
    message: str


class ImportCountsOut(BaseModel):
    imported: int
    updated: int
    skipped_duplicates: int
    rejected: int
    dnc_flagged: int


class ImportReport(BaseModel):
    list_id: int
    dry_run: bool
    data_rows: int
    counts: ImportCountsOut
    errors: list[RowErrorOut]
    errors_truncated: bool
    duplicate_rows: list[int]


def too_large(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail)


def _size_message(limit: int) -> str:
    return (
        f"the upload is larger than {limit // (1024 * 1024)} MB ({limit} bytes); split it into smaller files"
    )


async def capped_body(request: Request, cap: int, message: str) -> AsyncGenerator[bytes, None]:
    """The request body, chunk by chunk; 413 as soon as it passes `cap` bytes."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > cap:
            raise too_large(message)
        yield chunk


async def _from_multipart(request: Request, limits: ImportLimits) -> tuple[bytes, str]:
    stream = capped_body(request, limits.max_bytes + MULTIPART_OVERHEAD, _size_message(limits.max_bytes))
    parser = MultiPartParser(request.headers, stream, max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad multipart body: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise field_error(("body", "file"), "a multipart upload needs a CSV file part named 'file'")
        data = await upload.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise too_large(_size_message(limits.max_bytes))
        return data, upload.filename or ""
    finally:
        await form.close()


async def read_upload(request: Request, limits: ImportLimits) -> tuple[bytes, str]:
    """The CSV bytes and the file name (empty for a plain body), within `limits.max_bytes`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    overhead = MULTIPART_OVERHEAD if content_type == "multipart/form-data" else 0
    if declared.isdigit() and int(declared) > limits.max_bytes + overhead:
        raise too_large(_size_message(limits.max_bytes))
    if content_type == "multipart/form-data":
        return await _from_multipart(request, limits)
    if content_type not in CSV_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "send the CSV as multipart/form-data (a part named 'file') or as a text/csv body",
        )
    chunks = [c async for c in capped_body(request, limits.max_bytes, _size_message(limits.max_bytes))]
    return b"".join(chunks), ""


def check_region(region: str | None) -> None:
    """The `region` query parameter of an import names a region phonenumbers knows, or the import is a 422."""
    if region is not None and not valid_region(region):
        raise field_error(
            ("query", "region"), f"unknown region {region!r} (ISO 3166 alpha-2, e.g. RO)", region
        )


def load_list(session: Session, list_id: int) -> LeadList:
    lead_list = session.get(LeadList, list_id)
    if lead_list is None:
        raise not_found("lead_list", list_id)
    return lead_list


def preferred_zone(session: Session, lead_list: LeadList) -> str | None:
    """The zone given to a number that spans several when it is one of them: the list's campaign's."""
    if lead_list.campaign_id is None:
        return None
    return session.scalar(select(Campaign.default_timezone).where(Campaign.id == lead_list.campaign_id))


def counts_out(counts: ImportCounts) -> ImportCountsOut:
    return ImportCountsOut(
        imported=counts.imported,
        updated=counts.updated,
        skipped_duplicates=counts.skipped_duplicates,
        rejected=counts.rejected,
        dnc_flagged=counts.dnc_flagged,
    )


def data_rows(counts: ImportCounts) -> int:
    return counts.imported + counts.updated + counts.skipped_duplicates + counts.rejected


def _report(list_id: int, counts: ImportCounts, errors: list[RowError], dry_run: bool) -> ImportReport:
    return ImportReport(
        list_id=list_id,
        dry_run=dry_run,
        data_rows=data_rows(counts),
        counts=counts_out(counts),
        errors=[
            RowErrorOut(row=e.row, field=e.field, message=e.message) for e in errors[:MAX_REPORTED_ERRORS]
        ],
        errors_truncated=len(errors) > MAX_REPORTED_ERRORS,
        duplicate_rows=counts.duplicate_rows,
    )


IMPORT_DESCRIPTION = """\
Import leads from a CSV file with a header row, or the first sheet of an XLSX workbook: `multipart/form-data`
with a part named `file`, or the file as the body (`text/csv`, or the XLSX media type). UTF-8 (BOM
accepted); `,` `;` tab or `|` as the delimiter. Larger files go to `POST /lead-lists/{id}/import-jobs`.

Columns: `phone` (required; normalised to E.164, national numbers read in `?region=`), `first_name`,
`last_name`, `email`, `company`, `timezone` (IANA name; when absent, derived from the number if its
numbering plan has one zone, or the campaign's default zone when that is one of several), `priority`
(integer), `external_id`; any other column is stored in the lead's `custom`. The read-only columns of an export (`id`, `status`, `attempts`, ...) are
ignored, so an export can be imported again.

A broken row (bad phone, unknown time zone, non-integer priority, wrong column count, invalid UTF-8) never
aborts the import: it is listed in `errors` as `{row, field, message}` (`row` is the 1-based line number, the
header being line 1, or the sheet's row number; at most 1000 errors and duplicate lines are listed, the
counts are exact) and the good rows are written
in one transaction. Numbers on the do-not-call list are imported with `status=dnc`. A duplicate number (already
in the list, or earlier in the file) is skipped (`on_duplicate=skip`) or updates the lead
(`on_duplicate=update`: non-empty cells overwrite, custom columns merge). `dry_run=true` validates and counts
without writing. One `lead.imported` event carries the counts; no per-lead events are emitted.

Limits: 20 MB and 200 000 data rows (413 beyond). Roles: admin, supervisor.
"""

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


@router.post(
    "/lead-lists/{list_id}/import",
    response_model=ImportReport,
    tags=["lead-lists"],
    summary="Import leads from CSV",
    description=IMPORT_DESCRIPTION,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def import_leads(
    list_id: int,
    request: Request,
    principal: Staff,
    session: DbSession,
    region: Annotated[str | None, Query(min_length=2, max_length=2, description="e.g. RO")] = None,
    on_duplicate: OnDuplicate = OnDuplicate.SKIP,
    dry_run: bool = False,
) -> ImportReport:
    check_region(region)
    lead_list = await run_in_threadpool(load_list, session, list_id)
    limits = limits_of(request.app.state)
    data, filename = await read_upload(request, limits)
    options = ImportOptions(
        list_id=list_id, region=region, on_duplicate=on_duplicate, dry_run=dry_run, max_rows=limits.max_rows
    )
    return await run_in_threadpool(_import, request, principal, session, lead_list, data, filename, options)


def _import(
    request: Request,
    principal: Principal,
    session: Session,
    lead_list: LeadList,
    data: bytes,
    filename: str,
    options: ImportOptions,
) -> ImportReport:
    errors: list[RowError] = []

    def keep(row_errors: list[RowError]) -> None:
        if len(errors) <= MAX_REPORTED_ERRORS:
            errors.extend(row_errors)

    options = replace(options, preferred_zone=preferred_zone(session, lead_list))
    now = clock(request.app.state)
    try:
        records = open_source(io.BytesIO(data), filename=filename).records
        if options.max_rows is not None and sum(1 for _ in records) - 1 > options.max_rows:
            raise TooManyRows(options.max_rows)  # counted first: records are cheap, validated rows are not
        source = open_source(io.BytesIO(data), filename=filename)
        counts = run_import(session, source, options, now=now, on_errors=keep)
    except TooManyRows as exc:
        raise too_large(str(exc)) from exc
    except CsvFileError as exc:
        raise field_error(("body", "file"), str(exc)) from exc
    report = _report(lead_list.id, counts, errors, options.dry_run)
    if not options.dry_run:
        record_import(request, principal, session, lead_list, report, options.on_duplicate, filename)
    return report


def record_import(
    request: Request,
    principal: Principal,
    session: Session,
    lead_list: LeadList,
    report: ImportReport,
    on_duplicate: OnDuplicate,
    filename: str,
) -> None:
    """One `lead.imported` event and the audit row, in the import's transaction."""
    summary = {
        "list_id": lead_list.id,
        **report.counts.model_dump(),
        "data_rows": report.data_rows,
        "on_duplicate": on_duplicate.value,
        "filename": filename[:255],
        "by_user_id": principal.user_id,
    }
    request.app.state.record.append(session, "lead.imported", campaign_id=lead_list.campaign_id, data=summary)
    record_write(
        session, request, principal, entity="lead_list", ident=lead_list.id, action="import", detail=summary
    )


# ---- export ---------------------------------------------------------------------------------------------


def _csv_chunks(
    sessions: sessionmaker[Session], list_id: int, lead_status: LeadStatus | None
) -> Iterator[str]:
    """The list's leads as CSV, about 64 KB at a time, read in its own session (the request's is closed
    before the body is streamed)."""
    where = [Lead.list_id == list_id]
    if lead_status is not None:
        where.append(Lead.status == lead_status)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with sessions() as session:
        keys: set[str] = set()
        for custom in session.scalars(select(Lead.custom).where(*where)):
            keys.update((custom or {}).keys())
        header = export_header(keys)
        writer.writerow(header)
        stmt = select(Lead).where(*where).order_by(Lead.id).execution_options(yield_per=1000)
        for lead in session.scalars(stmt):
            writer.writerow(export_row(header, lead))
            if buffer.tell() >= 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/lead-lists/{list_id}/export",
    tags=["lead-lists"],
    summary="Export a lead list as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_leads(
    list_id: int,
    request: Request,
    principal: Staff,
    session: DbSession,
    lead_status: Annotated[LeadStatus | None, Query(alias="status")] = None,
) -> StreamingResponse:
    """Streams the list's leads (optionally only those with `?status=`) as UTF-8 CSV, sorted by id: the lead
    fields, then one column per custom key. The export can be imported again. Roles: admin, supervisor."""
    load_list(session, list_id)
    audit(session, request, principal, "lead_list.export", target_type="lead_list", target_id=list_id,
          detail={"status": lead_status.value if lead_status else None})  # fmt: skip
    return StreamingResponse(
        _csv_chunks(request.app.state.sessions, list_id, lead_status),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="lead-list-{list_id}.csv"'},
    )
