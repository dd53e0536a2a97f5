"""The engine's database side: a cached directory (agents, numbers, trunks) and ordered event/row writes.

All database work runs on one worker thread, so the event loop never blocks on SQL and writes stay in the
order the engine made them (call.created before call.answered before call.ended).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models import Agent, Call, CallLeg, PhoneNumber, Recording, Trunk
from duplex.events.record import EventRecord
from duplex.telephony.trunks import TrunkConfig

__all__ = ["AgentInfo", "Directory", "NumberInfo", "TelephonyStore"]

log = logging.getLogger("duplex.telephony.store")
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
    """Ordered, non-blocking writes (events, call/leg/recording rows) and directory loads."""

    def __init__(self, sessions: sessionmaker[Session], record: EventRecord) -> None:
        self.sessions = sessions
        self.record = record
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duplex-telephony-db")
        self._last: Future[Any] | None = None
        self.errors = 0

    def _submit(self, fn: Callable[[], T]) -> Future[T]:
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
        return await asyncio.wrap_future(self._submit(lambda: _load(self.sessions, now)))

    async def flush(self) -> None:
        """Wait until everything submitted so far is written."""
        await asyncio.wrap_future(self._submit(lambda: None))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- writes (fire and forget, ordered) --------------------------------------------------------------
    def emit(self, type: str, **fields: Any) -> None:
        self._submit(lambda: self.record.emit(type, **fields))

    def save_call(self, call_id: str, **values: Any) -> None:
        def write() -> None:
            with self.sessions() as session, session.begin():
                row = session.get(Call, call_id)
                if row is None:
                    row = Call(id=call_id, direction=values.pop("direction", "inbound"))
                    session.add(row)
                for name, value in values.items():
                    setattr(row, name, value)

        self._submit(write)

    def save_leg(self, leg_id: str, call_id: str, **values: Any) -> None:
        def write() -> None:
            with self.sessions() as session, session.begin():
                row = session.get(CallLeg, leg_id)
                if row is None:
                    row = CallLeg(id=leg_id, call_id=call_id, kind=values.pop("kind", "caller"))
                    session.add(row)
                row.call_id = call_id  # a leg may move to another call (attended transfer)
                for name, value in values.items():
                    setattr(row, name, value)

        self._submit(write)

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


def utcnow() -> dt.datetime:
    """Wall clock for row timestamps."""
    return _utcnow()
