"""The CDR tables as plain values, to compare the live projection with a rebuild from the event record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.models import Call, CallLeg

__all__ = ["CdrRows", "cdr_snapshot"]

# table name -> row id -> column -> value
CdrRows = dict[str, dict[str, dict[str, Any]]]


def cdr_snapshot(sessions: sessionmaker[Session]) -> CdrRows:
    """Every `calls` and `call_legs` row, keyed by id, with every column."""
    out: CdrRows = {}
    with sessions() as session:
        for model in (Call, CallLeg):
            columns = [c.key for c in model.__table__.columns]
            out[model.__tablename__] = {
                row.id: {c: getattr(row, c) for c in columns} for row in session.scalars(select(model))
            }
    return out
