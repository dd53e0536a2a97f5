"""Bindings survive a restart: registrar -> sip_registrations -> a new registrar, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models.identity import Agent, Role, User
from duplex.db.models.routing import SipRegistration
from duplex.stores.registrar_store import RegistrarStore
from duplex.telephony.registrar import ContactSpec, RegisterRequest, Registrar, Source

AOR = "sip:1001@duplex.test"
WALL = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive UTC datetimes, PostgreSQL aware ones."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def _agent(factory: sessionmaker[Session]) -> int:
    with factory() as s, s.begin():
        user = User(username="agent1", password_hash="x", role=Role.AGENT)
        s.add(user)
        s.flush()
        agent = Agent(user_id=user.id, extension="1001", sip_username="1001", sip_password="secret")
        s.add(agent)
        s.flush()
        return agent.id


def test_round_trip_through_the_database(factory: sessionmaker[Session]) -> None:
    agent_id = _agent(factory)
    store = RegistrarStore(factory, node_id="n1")
    r = Registrar()
    v6 = Source(transport="tcp", host="2001:db8::7", port=50123)
    r.register(
        RegisterRequest(
            aor=AOR,
            call_id="c1",
            cseq=1,
            source=v6,
            contacts=(ContactSpec(uri="sip:1001@[2001:db8::7]:5060;transport=tcp"),),
            expires=600,
            user_agent="baresip " + "x" * 400,
            agent_id=agent_id,
        ),
        now=100.0,
    )
    r.register(
        RegisterRequest(
            aor=AOR,
            call_id="c2",
            cseq=1,
            source=Source(transport="udp", host="198.51.100.2", port=5060),
            contacts=(ContactSpec(uri="sip:1001@198.51.100.2"),),
            expires=60,
        ),
        now=100.0,
    )
    store.apply(r.pop_changes(), now=100.0, wall_now=WALL)

    with factory() as s:
        rows = {row.contact: row for row in s.scalars(select(SipRegistration))}
    tcp_row = rows["sip:1001@[2001:db8::7]:5060;transport=tcp"]
    assert tcp_row.source == "tcp:[2001:db8::7]:50123" and tcp_row.node_id == "n1"
    assert tcp_row.agent_id == agent_id and len(tcp_row.user_agent) == 255
    assert _utc(tcp_row.expires_at) == WALL + dt.timedelta(seconds=600)

    # "Restart": a new registrar whose monotonic clock reads 5.0 while the wall clock moved on 30 s.
    fresh = Registrar()
    loaded = store.load(now=5.0, wall_now=WALL + dt.timedelta(seconds=30))
    fresh.restore(loaded, now=5.0)
    by_contact = {b.contact: b for b in fresh.lookup(AOR, 5.0)}
    assert by_contact["sip:1001@[2001:db8::7]:5060;transport=tcp"].expires_at == pytest.approx(575.0)
    assert by_contact["sip:1001@[2001:db8::7]:5060;transport=tcp"].source == v6
    assert by_contact["sip:1001@198.51.100.2"].expires_at == pytest.approx(35.0)
    assert by_contact["sip:1001@198.51.100.2"].agent_id is None


def test_refresh_updates_row_and_removal_and_expiry_delete_it(factory: sessionmaker[Session]) -> None:
    store = RegistrarStore(factory)
    r = Registrar()
    src = Source(transport="udp", host="192.0.2.9", port=5060)

    def register(cseq: int, expires: int, now: float) -> None:
        r.register(
            RegisterRequest(
                aor=AOR,
                call_id="c1",
                cseq=cseq,
                source=src,
                contacts=(ContactSpec(uri="sip:a@h"),),
                expires=expires,
            ),
            now=now,
        )
        store.apply(r.pop_changes(), now=now, wall_now=WALL + dt.timedelta(seconds=now))

    register(1, 120, 0.0)
    register(2, 3600, 60.0)
    with factory() as s:
        [row] = s.scalars(select(SipRegistration)).all()
    assert _utc(row.expires_at) == WALL + dt.timedelta(seconds=3660)
    register(3, 0, 70.0)
    with factory() as s:
        assert s.scalars(select(SipRegistration)).all() == []

    register(4, 60, 100.0)
    # A load after the wall-clock deadline deletes the stale row and returns nothing.
    assert store.load(now=0.0, wall_now=WALL + dt.timedelta(seconds=161)) == []
    with factory() as s:
        assert s.scalars(select(SipRegistration)).all() == []


def test_save_all_replaces_only_this_nodes_rows(factory: sessionmaker[Session]) -> None:
    other = RegistrarStore(factory, node_id="other")
    mine = RegistrarStore(factory, node_id="mine")
    r = Registrar()
    src = Source(transport="udp", host="192.0.2.9", port=5060)
    r.register(
        RegisterRequest(
            aor="sip:x@d", call_id="c", cseq=1, source=src, contacts=(ContactSpec(uri="sip:x@h"),)
        ),
        now=0.0,
    )
    other.save_all(r.bindings(), now=0.0, wall_now=WALL)
    r2 = Registrar()
    r2.register(
        RegisterRequest(
            aor="sip:y@d", call_id="c", cseq=1, source=src, contacts=(ContactSpec(uri="sip:y@h"),)
        ),
        now=0.0,
    )
    mine.save_all(r2.bindings(), now=0.0, wall_now=WALL)
    mine.save_all(r2.bindings(), now=0.0, wall_now=WALL)  # idempotent
    assert [b.aor for b in mine.load(0.0, WALL)] == ["sip:y@d"]
    assert [b.aor for b in other.load(0.0, WALL)] == ["sip:x@d"]
