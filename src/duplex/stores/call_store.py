"""The engine's database side: a cached directory (agents, numbers, trunks) and ordered event/row writes.

All database work runs on one worker thread, so the event loop never blocks on SQL and writes stay in the
order the engine made them (call.created before call.answered before call.ended).

Events are group-committed: `emit` appends to an open batch, and the writer thread records every event of
the batch in one transaction (one multi-row INSERT, one commit, one CDR projection for all the calls it
touches, applied incrementally to their rows: `duplex.reports.live`). Any other job
(directory load, recording row, flush) closes the open batch first, so the order of all writes is kept.
An event is still published only after its commit (the record's after-commit hook).

Nothing is acknowledged that is not recorded: the engine awaits `committed()` before a final response that
tells a peer a call was answered or ended. A batch that fails on the database's side (locked, down,
connection lost) is retried until it commits, in order; meanwhile, and while the writer is behind by more
than `max_backlog` events or `max_commit_delay` seconds, `accepting` is False and new calls are refused
(503) rather than answered unrecorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models import Agent, PhoneNumber, Recording, Trunk
from duplex.events.record import EventRecord
from duplex.telephony.trunks import TrunkConfig

__all__ = ["AgentInfo", "Directory", "NumberInfo", "TelephonyStore"]

log = logging.getLogger("duplex.stores.call_store")
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInfo:
    id: int
    extension: str
    sip_username: str
    sip_password: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberInfo:
    id: int
    number: str
    application: str | None
    flow_id: int | None
    queue_id: int | None
    tracking_source: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Directory:
    """An immutable snapshot; the engine swaps in a fresh one on refresh."""

    agents: tuple[AgentInfo, ...] = ()
    numbers: tuple[NumberInfo, ...] = ()
    trunks: tuple[TrunkConfig, ...] = ()
    loaded_at: float = 0.0

    def agent(self, agent_id: int) -> AgentInfo | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def agent_by_user(self, username: str) -> AgentInfo | None:
        return next((a for a in self.agents if a.sip_username == username), None)

    def agent_by_target(self, user: str) -> AgentInfo | None:
        """An agent dialled by extension (2001) or SIP user name (alice)."""
        return next((a for a in self.agents if user in (a.extension, a.sip_username)), None)

    def number(self, user: str) -> NumberInfo | None:
        return next((n for n in self.numbers if n.number == user), None)


def _load(sessions: sessionmaker[Session], now: float) -> Directory:
    with sessions() as session:
        agents = tuple(
            AgentInfo(
                id=a.id, extension=a.extension, sip_username=a.sip_username, sip_password=a.sip_password
            )
            for a in session.scalars(select(Agent))
        )
        numbers = tuple(
            NumberInfo(
                id=n.id,
                number=n.number,
                application=n.application,
                flow_id=n.flow_id,
                queue_id=n.queue_id,
                tracking_source=n.tracking_source,
            )  # fmt: skip
            for n in session.scalars(select(PhoneNumber).where(PhoneNumber.enabled.is_(True)))
        )
        trunks = tuple(TrunkConfig.from_model(t) for t in session.scalars(select(Trunk)))
    return Directory(agents=agents, numbers=numbers, trunks=trunks, loaded_at=now)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TelephonyStore:
    """Ordered, non-blocking writes (events, recording rows) and directory loads.

    There is no call or leg row writer: `calls` and `call_legs` are the CDR projection of the events
    (`duplex.reports.projections`), kept up to date inside each event batch's transaction."""

    def __init__(self, sessions: sessionmaker[Session], record: EventRecord, *, max_backlog: int = 5000,
                 max_commit_delay: float = 2.0, retry_delays: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)) -> None:  # fmt: skip
        self.sessions = sessions
        self.record = record
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duplex-telephony-db")
        # directory reads do not wait behind queued event batches (SQLite WAL / PostgreSQL: readers run
        # alongside the writer)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duplex-telephony-read")
        self._last: Future[Any] | None = None
        self._batch: list[tuple[str, dict[str, Any]]] | None = None  # events not yet taken by the writer
        self._batch_lock = threading.Lock()
        self.errors = 0
        self.batches = 0  # transactions that recorded events (for tests and the benchmark)
        self.max_backlog = max_backlog  # new calls are refused beyond this many uncommitted events
        self.max_commit_delay = max_commit_delay  # ... or while a batch takes longer than this (seconds)
        self.retry_delays = retry_delays  # between attempts at a batch the database refused
        self._last_batch: Future[bool] | None = None  # the batch holding the latest event
        self._backlog = 0  # events emitted and not yet committed (or given up)
        self._writing_since: float | None = None  # monotonic start of the batch being written
        self._retrying = False  # the database refused the current batch; it is being retried
        self._closing = False
        self.retries = 0  # batch attempts that failed on the database's side and were retried

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run the write ``fn`` on the writer thread, after the events emitted so far."""
        return self._submit(fn)

    def _submit(self, fn: Callable[[], T]) -> Future[T]:
        with self._batch_lock:
            self._batch = None  # later events go after this job
        return self._submit_job(fn)

    def _submit_job(self, fn: Callable[[], T]) -> Future[T]:
        def run() -> T:
            try:
                return fn()
            except Exception:
                self.errors += 1
                log.exception("telephony database write failed")
                raise

        fut = self._pool.submit(run)
        self._last = fut
        return fut

    async def load_directory(self, now: float) -> Directory:
        return await asyncio.get_running_loop().run_in_executor(self._reader, _load, self.sessions, now)

    async def flush(self) -> None:
        """Wait until everything submitted so far is written."""
        await asyncio.wrap_future(self._submit(lambda: None))

    async def committed(self) -> bool:
        """Wait until every event emitted so far is committed; False if one of them could not be recorded.

        Cheap when nothing is pending; otherwise the caller shares the commit of the open batch (group
        commit), so a burst of answers waits for one transaction, not one each."""
        last = self._last_batch
        if last is None:
            return True
        try:
            return await asyncio.wrap_future(last)
        except Exception:
            return False

    @property
    def accepting(self) -> bool:
        """Whether new calls may be taken: the database commits, and the writer keeps up."""
        since = self._writing_since
        return not (
            self._retrying
            or self._backlog > self.max_backlog
            or (since is not None and time.monotonic() - since > self.max_commit_delay)
        )

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the writer thread after everything submitted so far."""
        return await asyncio.wrap_future(self._submit(fn))

    def close(self) -> None:
        self._closing = True  # a batch being retried gives up after its next attempt
        self._pool.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    # -- writes (fire and forget, ordered) --------------------------------------------------------------
    def emit(self, type: str, **fields: Any) -> None:
        """Queue an event; it joins the batch the writer thread has not started yet, or opens a new one."""
        with self._batch_lock:
            self._backlog += 1
            if self._batch is not None:
                self._batch.append((type, fields))
                return
            batch = self._batch = [(type, fields)]
            # under the lock, so `_last_batch` always holds the batch of the latest event
            self._last_batch = self._submit_job(lambda: self._write_batch(batch))

    def _write_batch(self, batch: list[tuple[str, dict[str, Any]]]) -> bool:
        """Record the batch; True when every event of it is committed."""
        with self._batch_lock:
            if self._batch is batch:
                self._batch = None  # closed: events emitted from now on open the next batch
        self.batches += 1
        self._writing_since = time.monotonic()
        try:
            return self._write_until_committed(batch)
        finally:
            self._writing_since = None
            self._retrying = False
            with self._batch_lock:
                self._backlog -= len(batch)

    def _write_until_committed(self, batch: list[tuple[str, dict[str, Any]]]) -> bool:
        failure: Exception | None = None
        for attempt in itertools.count():
            try:
                with self.sessions() as session, session.begin():
                    self.record.append_many(session, batch)  # one INSERT; the CDR rows follow before commit
                return True
            except DBAPIError as exc:
                failure = exc
                if not _unavailable(exc) or self._closing:
                    break
                self._retrying = True  # new calls are refused until this batch commits
                self.retries += 1
                delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                log.warning("event batch of %d not committed (%s); retrying in %.2f s", len(batch),
                            exc.orig, delay)  # fmt: skip
                time.sleep(delay)
            except Exception as exc:
                failure = exc
                break
        if len(batch) == 1 or (isinstance(failure, DBAPIError) and _unavailable(failure)):
            self.errors += len(batch)  # one by one would fail the same way (closing, the database down)
            log.error("%d events could not be recorded", len(batch), exc_info=failure)
            return False
        log.error("event batch of %d failed; recording its events one by one", len(batch), exc_info=failure)
        recorded = True
        for type, fields in batch:  # one bad event must not take the others with it
            try:
                self.record.emit(type, **fields)
            except Exception:
                self.errors += 1
                recorded = False
                log.exception("event %s could not be recorded", type)
        return recorded

    def add_recording(self, call_id: str, leg_id: str | None, path: str, duration_ms: int, size: int) -> None:
        def write() -> None:
            with self.sessions() as session, session.begin():
                rec = Recording(call_id=call_id, leg_id=leg_id, path=path, duration_ms=duration_ms,
                                size_bytes=size)  # fmt: skip
                session.add(rec)
                session.flush()
                self.record.append(session, "recording.saved", call_id=call_id, leg_id=leg_id,
                                   data={"path": path, "duration_ms": duration_ms, "recording_id": rec.id})  # fmt: skip

        self._submit(write)


def _unavailable(exc: DBAPIError) -> bool:
    """The database could not take the write now (locked, down, connection lost), as opposed to a write
    it refuses (a constraint, bad data): the first kind is retried, the second is not."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):  # sqlite3 also says OperationalError for bad SQL
        return any(word in str(exc.orig) for word in ("locked", "busy", "unable to open", "disk I/O"))
    return True


def utcnow() -> dt.datetime:
    """Wall clock for row timestamps."""
    return _utcnow()
