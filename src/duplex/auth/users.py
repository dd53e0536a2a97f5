"""Creating users outside the API (CLI, demo seed)."""

from __future__ import annotations

from sqlalchemy import select

from duplex.auth.passwords import hash_password
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory, transaction
from duplex.db.models import Role, User


class DuplicateUser(Exception):
    pass


def create_user(settings: Settings, *, username: str, password: str, role: str, full_name: str = "") -> int:
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise DuplicateUser(f"user {username!r} already exists")
            user = User(
                username=username, password_hash=hash_password(password), role=Role(role), full_name=full_name
            )
            session.add(user)
            session.flush()
            return user.id
    finally:
        engine.dispose()
