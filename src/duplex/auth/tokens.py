"""Login bearer tokens and API keys: random secrets, stored only as keyed hashes.

A login token is `secrets.token_urlsafe(32)`; the database keeps HMAC-SHA256(secret_key, token), so a copy of
the database cannot be replayed against the API. An API key is `dpx_<prefix>_<secret>`: the prefix is stored
in clear to find the row (and to show in lists), the whole key only as its keyed hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.db.models import ApiKey, AuthToken, User

API_KEY_MARK = "dpx_"


def keyed_hash(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def issue_token(
    session: Session, *, secret_key: str, user_id: int, now: dt.datetime, ttl_seconds: int
) -> tuple[str, AuthToken]:
    token = secrets.token_urlsafe(32)
    row = AuthToken(
        token_hash=keyed_hash(secret_key, token),
        user_id=user_id,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_seconds),
    )
    session.add(row)
    session.flush()
    return token, row


def find_token(session: Session, *, secret_key: str, token: str, now: dt.datetime) -> AuthToken | None:
    """The live (unexpired, unrevoked) token row for `token`, or None."""
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == keyed_hash(secret_key, token)))
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= now:
        return None
    return row


def issue_api_key(
    session: Session, *, secret_key: str, user_id: int, name: str, now: dt.datetime
) -> tuple[str, ApiKey]:
    prefix = secrets.token_hex(5)
    key = f"{API_KEY_MARK}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name, prefix=prefix, key_hash=keyed_hash(secret_key, key), user_id=user_id, created_at=now
    )
    session.add(row)
    session.flush()
    return key, row


def find_api_key(session: Session, *, secret_key: str, key: str) -> ApiKey | None:
    """The unrevoked key row for `key` (constant-time hash comparison), or None."""
    if not key.startswith(API_KEY_MARK):
        return None
    prefix, _, rest = key[len(API_KEY_MARK) :].partition("_")
    if not prefix or not rest:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, keyed_hash(secret_key, key)):
        return None
    return row


def active_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None
