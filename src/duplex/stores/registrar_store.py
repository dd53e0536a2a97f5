"""Persist registrar bindings in `sip_registrations`, so a restart keeps agents' phones reachable.

The registrar's clock (`now`) may be monotonic; the table holds wall-clock datetimes. Every call therefore takes
both `now` and `wall_now` and converts a deadline as `wall_now + (expires_at - now)` (and back on load).

The table has no columns for q, Call-ID or CSeq: restored bindings get q=1.0, an empty Call-ID and CSeq 0, so the
phone's next refresh (whatever its Call-ID) updates them normally.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models.routing import SipRegistration
from duplex.telephony.registrar import Binding, BindingChange, ChangeKind, Source

__all__ = ["RegistrarStore"]

_USER_AGENT_MAX = 255


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class RegistrarStore:
    """Load and save bindings through a synchronous SQLAlchemy session factory."""

    def __init__(self, session_factory: sessionmaker[Session], *, node_id: str = "node1") -> None:
        self._factory = session_factory
        self.node_id = node_id

    def apply(self, changes: Iterable[BindingChange], now: float, wall_now: dt.datetime) -> None:
        """Write `Registrar.pop_changes()` in one transaction: upsert ADDED/REFRESHED, delete REMOVED."""
        with self._factory() as session, session.begin():
            for change in changes:
                if change.kind is ChangeKind.REMOVED:
                    self._delete(session, change.binding)
                else:
                    self._upsert(session, change.binding, now, wall_now)

    def save_all(self, bindings: Iterable[Binding], now: float, wall_now: dt.datetime) -> None:
        """Replace this node's rows with `bindings` (a full snapshot)."""
        with self._factory() as session, session.begin():
            session.execute(delete(SipRegistration).where(SipRegistration.node_id == self.node_id))
            session.flush()
            for binding in bindings:
                session.add(self._row(binding, now, wall_now))

    def load(self, now: float, wall_now: dt.datetime) -> list[Binding]:
        """This node's unexpired bindings, with deadlines in the registrar's clock; expired rows are deleted."""
        with self._factory() as session, session.begin():
            session.execute(
                delete(SipRegistration).where(
                    SipRegistration.node_id == self.node_id, SipRegistration.expires_at <= wall_now
                )
            )
            rows = session.scalars(
                select(SipRegistration)
                .where(SipRegistration.node_id == self.node_id)
                .order_by(SipRegistration.id)
            ).all()
            return [self._binding(row, now, wall_now) for row in rows]

    # -- internals -------------------------------------------------------------------------------------

    def _row(self, binding: Binding, now: float, wall_now: dt.datetime) -> SipRegistration:
        row = SipRegistration(aor=binding.aor, contact=binding.contact, node_id=self.node_id)
        self._fill(row, binding, now, wall_now)
        return row

    def _fill(self, row: SipRegistration, binding: Binding, now: float, wall_now: dt.datetime) -> None:
        row.source = str(binding.source)
        row.user_agent = binding.user_agent[:_USER_AGENT_MAX]
        row.expires_at = wall_now + dt.timedelta(seconds=binding.expires_at - now)
        row.agent_id = binding.agent_id
        row.node_id = self.node_id

    def _upsert(self, session: Session, binding: Binding, now: float, wall_now: dt.datetime) -> None:
        row = session.scalars(
            select(SipRegistration).where(
                SipRegistration.aor == binding.aor, SipRegistration.contact == binding.contact
            )
        ).one_or_none()
        if row is None:
            session.add(self._row(binding, now, wall_now))
            session.flush()
        else:
            self._fill(row, binding, now, wall_now)

    @staticmethod
    def _delete(session: Session, binding: Binding) -> None:
        session.execute(
            delete(SipRegistration).where(
                SipRegistration.aor == binding.aor, SipRegistration.contact == binding.contact
            )
        )

    @staticmethod
    def _binding(row: SipRegistration, now: float, wall_now: dt.datetime) -> Binding:
        remaining = (_aware(row.expires_at) - wall_now).total_seconds()
        return Binding(
            aor=row.aor,
            contact=row.contact,
            expires_at=now + remaining,
            source=Source.parse(row.source),
            user_agent=row.user_agent,
            agent_id=row.agent_id,
            updated_at=now,
        )
