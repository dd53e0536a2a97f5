"""Shared fixtures. The database-backed suites run twice: on SQLite and on PostgreSQL.

PostgreSQL comes from DUPLEX_TEST_DATABASE_URL (default: the machine's server at 127.0.0.1:5432, database
`test`). Each pytest session creates its own database from it, so parallel runs never share tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from duplex.config import Settings
from duplex.db.base import Base, make_engine
from duplex.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get("DUPLEX_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _create_pg_database(name: str) -> str:
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[object]:
    """Creates empty PostgreSQL databases on demand; drops them all at the end of the session."""
    created: list[str] = []

    def make() -> str:
        name = f"duplex_t_{uuid.uuid4().hex[:12]}"
        url = _create_pg_database(name)
        created.append(name)
        return url

    yield make
    for name in created:
        _drop_pg_database(name)


@pytest.fixture(scope="session")
def pg_migrated_url(pg_database_factory: object) -> str:
    url: str = pg_database_factory()  # type: ignore[operator]
    upgrade(url)
    return url


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'duplex.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_migrated_url")
    _truncate_all(url)
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        sip_enabled=False,
        secret_key="test-secret-key",
        http_port=0,
        sip_port=0,
    )
