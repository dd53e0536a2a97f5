"""Password login with throttling per (username, address).

After `max_failures` failed attempts the pair is locked for `lockout_seconds`: every attempt in that window
is refused with the remaining time (HTTP 429 + Retry-After), even with the right password. An unknown user
and a wrong password fail the same way (and take about the same time: a dummy hash is verified).
The counters live in the database, so they survive restarts and are shared by all nodes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.auth.passwords import hash_password, verify_password
from duplex.auth.tokens import as_utc
from duplex.db.models import LoginFailure, User

_DUMMY_HASH = hash_password("duplex-timing-equaliser")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginOutcome:
    user: User | None = None
    retry_after: int | None = None  # seconds; set when the pair is locked


def attempt_login(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    now: dt.datetime,
    max_failures: int,
    lockout_seconds: int,
) -> LoginOutcome:
    """Check a password login. The caller commits the session whatever the outcome (failures count)."""
    key_user, key_addr = username[:64], address[:64]
    row = session.scalar(
        select(LoginFailure).where(LoginFailure.username == key_user, LoginFailure.address == key_addr)
    )
    if row is not None and row.locked_until is not None:
        locked_until = as_utc(row.locked_until)
        if locked_until > now:
            return LoginOutcome(retry_after=max(1, math.ceil((locked_until - now).total_seconds())))
        row.failures, row.locked_until = 0, None  # the lock expired: start counting afresh
    user = session.scalar(select(User).where(User.username == username))
    valid = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is not None and user.is_active and valid:
        if row is not None:
            session.delete(row)
        return LoginOutcome(user=user)
    if row is None:
        row = LoginFailure(username=key_user, address=key_addr, failures=0)
        session.add(row)
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= max_failures:
        row.locked_until = now + dt.timedelta(seconds=lockout_seconds)
    return LoginOutcome()
