"""Alembic environment. The URL comes from the caller's config (`duplex db upgrade`) or the settings."""

from __future__ import annotations

from alembic import context

import duplex.db.models  # noqa: F401  (registers every table on Base.metadata)
from duplex.config import load_settings
from duplex.db.base import Base, make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings().effective_database_url


def run_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        # render_as_batch lets ALTERs work on SQLite, which cannot alter most constraints in place.
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
