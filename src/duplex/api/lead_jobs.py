"""Lead import jobs: a large CSV/XLSX upload is spooled to a temporary file and imported in a worker thread,
while `GET /lead-imports/{id}` reports its progress and `GET /lead-imports/{id}/errors` the rejected rows.

The jobs live in an in-memory registry of the node that received the upload, not in a table:
- the upload itself exists only on that node (a temporary file), so the job cannot run anywhere else;
- progress changes every batch, and the import writes all its rows in one transaction: a progress row in a
  table would need a second transaction per batch, which SQLite's single writer would block behind the
  import's own;
- what must last is written durably anyway, in the import's transaction: the `lead.imported` event with the
  counts, and the audit row. A restart loses only the progress of unfinished jobs (their transaction rolls
  back, so nothing is half-imported) and the error report of finished ones.
The registry keeps the last `KEEP_JOBS` jobs; the error report is a CSV in a temporary file (spilled to disk
past 1 MB), so neither grows memory with the file.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import itertools
import logging
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import IO, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from duplex.api.db import DbSession, field_error, not_found
from duplex.api.lead_csv import CsvFileError, RowError
from duplex.api.lead_import import ImportCounts, ImportOptions, OnDuplicate, run_import
from duplex.api.lead_io import (
    CSV_TYPES,
    MULTIPART_OVERHEAD,
    ImportCountsOut,
    ImportReport,
    Staff,
    capped_body,
    check_region,
    counts_out,
    data_rows,
    limits_of,
    load_list,
    preferred_zone,
    record_import,
    too_large,
)
from duplex.api.lead_source import open_source
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Output
from duplex.auth.deps import Principal, clock

__all__ = ["ImportJob", "JobState", "jobs_of", "parse_mapping", "router"]

router = APIRouter(route_class=DuplexRoute)
log = logging.getLogger(__name__)
KEEP_JOBS = 100
SPOOL_BYTES = 1024 * 1024  # in memory up to this, then a temporary file on disk


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True, kw_only=True)
class ImportJob:
    id: int
    list_id: int
    filename: str
    options: ImportOptions
    total_bytes: int
    created_at: dt.datetime
    state: JobState = JobState.RUNNING
    rows_done: int = 0
    progress: float = 0.0  # of the file's bytes (CSV) or of the sheet's rows (XLSX)
    counts: ImportCounts = field(default_factory=ImportCounts)
    error: str | None = None
    finished_at: dt.datetime | None = None
    errors_csv: IO[str] = field(
        default_factory=lambda: tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+", newline="")
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_errors(self, row_errors: list[RowError]) -> None:
        writer = csv.writer(self.errors_csv, lineterminator="\r\n")
        with self.lock:
            writer.writerows((e.row, e.field or "", e.message) for e in row_errors)


class Jobs:
    """The registry: ids from 1, the newest `KEEP_JOBS` kept."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._jobs: OrderedDict[int, ImportJob] = OrderedDict()
        self._lock = threading.Lock()
        self.tasks: set[asyncio.Future[None]] = set()  # running workers, referenced until they end

    def add(self, **fields: Any) -> ImportJob:
        with self._lock:
            job = ImportJob(id=next(self._ids), **fields)
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state is not JobState.RUNNING]
            for old in finished[: max(len(self._jobs) - KEEP_JOBS, 0)]:
                del self._jobs[old.id]
                old.errors_csv.close()
            return job

    def get(self, job_id: int) -> ImportJob | None:
        return self._jobs.get(job_id)


def jobs_of(app_state: Any) -> Jobs:
    jobs = getattr(app_state, "lead_import_jobs", None)
    if not isinstance(jobs, Jobs):
        jobs = app_state.lead_import_jobs = Jobs()
    return jobs


def parse_mapping(items: list[str]) -> dict[str, str]:
    """`["Mobile=phone", "Interest=custom.interest"]` -> {"Mobile": "phone", ...}; ValueError naming the bad
    item."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, target = item.partition("=")
        if not sep or not column.strip():
            raise ValueError(f"{item!r}: write file column=lead field (e.g. Mobile=phone)")
        mapping[column.strip()] = target.strip()
    return mapping


class ImportJobOut(Output):
    id: int
    list_id: int
    state: JobState
    filename: str
    dry_run: bool
    on_duplicate: OnDuplicate
    rows_done: int
    total_bytes: int
    progress: float
    data_rows: int
    counts: ImportCountsOut
    error: str | None
    errors_url: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


def _out(job: ImportJob) -> ImportJobOut:
    return ImportJobOut(
        id=job.id,
        list_id=job.list_id,
        state=job.state,
        filename=job.filename,
        dry_run=job.options.dry_run,
        on_duplicate=job.options.on_duplicate,
        rows_done=job.rows_done,
        total_bytes=job.total_bytes,
        progress=round(job.progress, 4),
        data_rows=data_rows(job.counts),
        counts=counts_out(job.counts),
        error=job.error,
        errors_url=f"/api/v1/lead-imports/{job.id}/errors",
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


async def _spool(chunks: Any, cap: int, target: IO[bytes]) -> None:
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > cap:
            raise too_large(f"the upload is larger than {cap} bytes; split it into smaller files")
        await run_in_threadpool(target.write, chunk)


async def _spool_upload(request: Request, cap: int) -> tuple[IO[bytes], str]:
    """The upload copied into a temporary file (multipart part `file`, or the body), and its name."""
    target: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "multipart/form-data":
            return target, await _spool_part(request, cap, target)
        if content_type not in CSV_TYPES:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "send the file as multipart/form-data (a part named 'file') or as a text/csv or XLSX body",
            )
        await _spool(request.stream(), cap, target)
        return target, ""
    except BaseException:
        target.close()
        raise


async def _spool_part(request: Request, cap: int, target: IO[bytes]) -> str:
    message = f"the upload is larger than {cap} bytes; split it into smaller files"
    body = capped_body(request, cap + MULTIPART_OVERHEAD, message)  # the parser spools parts without a cap
    parser = MultiPartParser(request.headers, body, max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad multipart body: {exc.message}") from exc
    try:
        upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise field_error(("body", "file"), "a multipart upload needs a file part named 'file'")

        async def chunks() -> Any:
            while chunk := await upload.read(1024 * 1024):
                yield chunk

        await _spool(chunks(), cap, target)
        return upload.filename or ""
    finally:
        await form.close()


def _run(request: Request, principal: Principal, job: ImportJob, upload: IO[bytes]) -> None:
    """The worker: the whole import in one transaction of its own session."""
    sessions = request.app.state.sessions
    try:
        with sessions() as session, session.begin():
            lead_list = load_list(session, job.list_id)
            options = replace(job.options, preferred_zone=preferred_zone(session, lead_list))
            source = open_source(upload, filename=job.filename)

            def on_batch(counts: ImportCounts) -> None:
                job.rows_done = data_rows(counts)
                job.progress = source.done() / source.total if source.total else 0.0

            job.counts = run_import(
                session, source, options, now=clock(request.app.state), on_errors=job.add_errors,
                on_batch=on_batch,
            )  # fmt: skip
            if not options.dry_run:
                report = ImportReport(list_id=job.list_id, dry_run=False, data_rows=data_rows(job.counts),
                                      counts=counts_out(job.counts), errors=[], errors_truncated=False,
                                      duplicate_rows=[])  # fmt: skip
                record_import(
                    request, principal, session, lead_list, report, options.on_duplicate, job.filename
                )
        job.state, job.progress = JobState.DONE, 1.0
    except (CsvFileError, ValueError) as exc:  # TooManyRows is a ValueError too
        job.state, job.error = JobState.FAILED, str(exc)
    except Exception as exc:  # the job reports it; the transaction was rolled back
        job.state, job.error = JobState.FAILED, f"the import failed: {type(exc).__name__}"
        log.exception("lead import job %d failed", job.id)
    finally:
        job.finished_at = clock(request.app.state)
        upload.close()


JOB_DESCRIPTION = """\
Start importing a large CSV or XLSX file (the same columns and rules as `POST /lead-lists/{id}/import`) and
return at once (202) with the job; poll `GET /api/v1/lead-imports/{id}` for `rows_done`, `progress` (share of
the file's bytes, or of an XLSX sheet's rows), the running `counts` and `state` (`running`, `done`,
`failed` with `error`), and download the rejected rows with `GET /api/v1/lead-imports/{id}/errors`.
`map` renames columns: `map=Mobile=phone&map=Interest=custom.interest&map=Notes=-`. All rows are written in
one transaction when the job is done, so a failed job imports nothing. Roles: admin, supervisor.
"""


@router.post(
    "/lead-lists/{list_id}/import-jobs",
    response_model=ImportJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["lead-lists"],
    summary="Import a large lead file in the background",
    description=JOB_DESCRIPTION,
)
async def start_import_job(
    list_id: int,
    request: Request,
    principal: Staff,
    session: DbSession,
    region: Annotated[str | None, Query(min_length=2, max_length=2, description="e.g. RO")] = None,
    on_duplicate: OnDuplicate = OnDuplicate.SKIP,
    dry_run: bool = False,
    mapping: Annotated[list[str], Query(alias="map", max_length=64)] = [],  # noqa: B006 - FastAPI copies it
) -> ImportJobOut:
    check_region(region)
    try:
        columns = parse_mapping(mapping)
    except ValueError as exc:
        raise field_error(("query", "map"), str(exc)) from exc
    await run_in_threadpool(load_list, session, list_id)
    limits = limits_of(request.app.state)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_job_bytes + MULTIPART_OVERHEAD:
        raise too_large(
            f"the upload is larger than {limits.max_job_bytes} bytes; split it into smaller files"
        )
    upload, filename = await _spool_upload(request, limits.max_job_bytes)
    total = upload.seek(0, io.SEEK_END)
    upload.seek(0)
    options = ImportOptions(list_id=list_id, region=region, mapping=columns, on_duplicate=on_duplicate,
                            dry_run=dry_run, max_rows=limits.max_job_rows)  # fmt: skip
    jobs = jobs_of(request.app.state)
    job = jobs.add(list_id=list_id, filename=filename[:255], options=options, total_bytes=total,
                   created_at=clock(request.app.state))  # fmt: skip
    worker = asyncio.get_running_loop().run_in_executor(None, _run, request, principal, job, upload)
    jobs.tasks.add(worker)
    worker.add_done_callback(jobs.tasks.discard)
    return _out(job)


def _job(request: Request, job_id: int) -> ImportJob:
    job = jobs_of(request.app.state).get(job_id)
    if job is None:
        raise not_found("lead import", job_id)
    return job


@router.get("/lead-imports/{job_id}", response_model=ImportJobOut, tags=["lead-lists"])
def get_import_job(job_id: int, request: Request, principal: Staff) -> ImportJobOut:
    """An import job's state, progress and running counts. Roles: admin, supervisor."""
    return _out(_job(request, job_id))


def _error_lines(job: ImportJob) -> Iterator[str]:
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow(["row", "field", "message"])
    yield header.getvalue()
    position = 0
    while True:
        with job.lock:
            job.errors_csv.seek(position)
            chunk = job.errors_csv.read(64 * 1024)
            position = job.errors_csv.tell()
            job.errors_csv.seek(0, io.SEEK_END)
        if not chunk:
            return
        yield chunk


@router.get(
    "/lead-imports/{job_id}/errors",
    tags=["lead-lists"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def get_import_errors(job_id: int, request: Request, principal: Staff) -> StreamingResponse:
    """The rejected rows of an import job as CSV: `row` (line number, or sheet row), `field` (empty for a
    whole-row problem), `message`; one line per error, so a row with two bad fields has two. Available while
    the job runs (the errors so far) and after. Roles: admin, supervisor."""
    job = _job(request, job_id)
    return StreamingResponse(
        _error_lines(job),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="lead-import-{job.id}-errors.csv"'},
    )
