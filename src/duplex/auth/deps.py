"""Who is calling: FastAPI dependencies that turn a bearer token or an API key into a `Principal`.

Credentials, in order: `X-API-Key: dpx_...`, then `Authorization: Bearer <token>` where the token is either a
login token from `POST /api/v1/auth/token` or an API key (`dpx_...`). No credentials -> 401; a valid principal
with the wrong role -> 403 (`require_role`). WebSocket endpoints call `principal_from_token(app.state, token)`
with their `?token=` query parameter (it is synchronous: it reads the database).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.auth.tokens import active_user, find_api_key, find_token
from duplex.db.base import transaction, utcnow
from duplex.db.models import Agent, Role, TeamSupervisor, User

__all__ = [
    "Principal",
    "Role",
    "clock",
    "current_principal",
    "principal_from_token",
    "require_role",
    "secret_key",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller. `api_key_id` is set when an API key was used (it acts with its owner's
    role); `team_ids` are the teams a supervisor supervises; `agent_id` is the agent row of an agent user."""

    user_id: int
    username: str
    role: Role
    api_key_id: int | None = None
    token_id: int | None = None
    team_ids: frozenset[int] = field(default_factory=frozenset)
    agent_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def clock(app_state: Any) -> dt.datetime:
    """Now, in UTC. Tests replace it with `app.state.clock = lambda: <datetime>`."""
    fn: Callable[[], dt.datetime] | None = getattr(app_state, "clock", None)
    return fn() if fn is not None else utcnow()


def secret_key(app_state: Any) -> str:
    cached: str | None = getattr(app_state, "auth_secret_key", None)
    if cached is None:
        cached = app_state.settings.effective_secret_key()
        app_state.auth_secret_key = cached
    return cached


def _principal_for(
    session: Session, user: User, *, api_key_id: int | None = None, token_id: int | None = None
) -> Principal:
    team_ids: frozenset[int] = frozenset()
    if user.role is Role.SUPERVISOR:
        rows = session.scalars(select(TeamSupervisor.team_id).where(TeamSupervisor.user_id == user.id))
        team_ids = frozenset(rows)
    agent_id = session.scalar(select(Agent.id).where(Agent.user_id == user.id))
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        api_key_id=api_key_id,
        token_id=token_id,
        team_ids=team_ids,
        agent_id=agent_id,
    )


def principal_from_token(app_state: Any, token: str) -> Principal | None:
    """The principal for a login token or an API key, or None if it is unknown, expired or revoked.
    Using an API key records its `last_used_at`."""
    if not token:
        return None
    key = secret_key(app_state)
    now = clock(app_state)
    with transaction(app_state.sessions) as session:
        api_key = find_api_key(session, secret_key=key, key=token)
        if api_key is not None:
            user = active_user(session, api_key.user_id)
            if user is None:
                return None
            api_key.last_used_at = now
            return _principal_for(session, user, api_key_id=api_key.id)
        row = find_token(session, secret_key=key, token=token, now=now)
        if row is None:
            return None
        user = active_user(session, row.user_id)
        return None if user is None else _principal_for(session, user, token_id=row.id)


def _credentials(request: Request) -> str | None:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = _credentials(request)
    if token is None:
        raise _unauthorized("not authenticated")
    principal = principal_from_token(request.app.state, token)
    if principal is None:
        raise _unauthorized("invalid or expired credentials")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: Role | str) -> Callable[..., Principal]:
    """Dependency factory: the caller, if their role is one of `roles`; else 403 (401 if anonymous)."""
    allowed = frozenset(Role(r) for r in roles)

    def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role.value!r} may not do this")
        return principal

    return dependency
