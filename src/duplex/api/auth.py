"""/auth/token, /auth/logout, /auth/me and /api-keys."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from duplex.api.audit import client_address, record_write
from duplex.api.db import DbSession, field_error, flush, forbidden, not_found
from duplex.api.routing import DuplexRoute
from duplex.api.validation import document_errors
from duplex.auth.deps import CurrentPrincipal, Principal, clock, require_role, secret_key
from duplex.auth.throttle import attempt_login
from duplex.auth.tokens import issue_api_key, issue_token
from duplex.db.base import transaction
from duplex.db.models import ApiKey, AuthToken, Role, User

router = APIRouter(route_class=DuplexRoute)


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    role: Role


class MeResponse(BaseModel):
    user_id: int
    username: str
    role: Role
    full_name: str
    api_key_id: int | None
    team_ids: list[int]
    agent_id: int | None


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": LoginRequest.model_json_schema()},
        },
    }
}


async def _login_request(request: Request) -> LoginRequest:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            data: Any = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            data = await request.json()
    except ValueError as exc:
        raise field_error(("body",), "request body is not valid JSON or form data") from exc
    if errors := document_errors(data, ("body",)):  # NUL in a form field (JSON is checked on parse)
        raise RequestValidationError(errors)
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


def _login(request: Request, body: LoginRequest) -> TokenResponse | JSONResponse:
    state = request.app.state
    settings = state.settings
    now = clock(state)
    with transaction(state.sessions) as session:
        outcome = attempt_login(
            session,
            username=body.username,
            password=body.password,
            address=client_address(request) or "unknown",
            now=now,
            max_failures=settings.login_max_failures,
            lockout_seconds=settings.login_lockout_seconds,
        )
        if outcome.retry_after is not None:
            return JSONResponse(
                {"detail": "too many failed logins; try again later"},
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(outcome.retry_after)},
            )
        if outcome.user is None:
            return JSONResponse(
                {"detail": "invalid username or password"},
                status_code=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
        token, row = issue_token(
            session,
            secret_key=secret_key(state),
            user_id=outcome.user.id,
            now=now,
            ttl_seconds=settings.token_ttl_seconds,
        )
        return TokenResponse(access_token=token, expires_at=row.expires_at, role=Role(outcome.user.role))


@router.post("/auth/token", response_model=TokenResponse, tags=["auth"], openapi_extra=_LOGIN_BODY)
async def login(request: Request) -> TokenResponse | JSONResponse:
    """Username + password (JSON or form) -> an expiring bearer token."""
    body = await _login_request(request)
    return await run_in_threadpool(_login, request, body)


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(principal: CurrentPrincipal, session: DbSession) -> Response:
    """Revokes the bearer token used for this request (an API key is revoked via DELETE /api-keys/{id})."""
    if principal.token_id is not None:
        row = session.get(AuthToken, principal.token_id)
        if row is not None:
            row.revoked_at = dt.datetime.now(dt.UTC)
    return Response(status_code=204)


@router.get("/auth/me", response_model=MeResponse, tags=["auth"])
def me(principal: CurrentPrincipal, session: DbSession) -> MeResponse:
    user = session.get(User, principal.user_id)
    if user is None:
        raise not_found("user", principal.user_id)
    return MeResponse(
        user_id=user.id,
        username=user.username,
        role=principal.role,
        full_name=user.full_name,
        api_key_id=principal.api_key_id,
        team_ids=sorted(principal.team_ids),
        agent_id=principal.agent_id,
    )


# ---- API keys -------------------------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    user_id: int | None = Field(None, description="Owner; admins may create keys for others. Default: you.")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    user_id: int
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret. Shown only once; store it now.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyRead]
    total: int
    limit: int
    offset: int


KeyManager = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, tags=["auth"])
def create_api_key(
    body: ApiKeyCreate, request: Request, principal: KeyManager, session: DbSession
) -> ApiKeyCreated:
    owner = body.user_id if body.user_id is not None else principal.user_id
    if owner != principal.user_id and not principal.is_admin:
        raise forbidden("only admins create keys for other users")
    if session.get(User, owner) is None:
        raise field_error(("body", "user_id"), f"user {owner} does not exist", owner)
    key, row = issue_api_key(
        session,
        secret_key=secret_key(request.app.state),
        user_id=owner,
        name=body.name,
        now=clock(request.app.state),
    )
    flush(session)
    record_write(
        session,
        request,
        principal,
        entity="api_key",
        ident=row.id,
        action="create",
        detail={"name": row.name},
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=key)


@router.get("/api-keys", response_model=ApiKeyPage, tags=["auth"])
def list_api_keys(
    principal: KeyManager,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ApiKeyPage:
    stmt = select(ApiKey)
    if not principal.is_admin:
        stmt = stmt.where(ApiKey.user_id == principal.user_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(ApiKey.id).limit(limit).offset(offset))
    return ApiKeyPage(
        items=[ApiKeyRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.delete("/api-keys/{key_id}", status_code=204, tags=["auth"])
def revoke_api_key(key_id: int, request: Request, principal: KeyManager, session: DbSession) -> Response:
    row = session.get(ApiKey, key_id)
    if row is None or (row.user_id != principal.user_id and not principal.is_admin):
        raise not_found("api key", key_id)
    if row.revoked_at is None:
        row.revoked_at = clock(request.app.state)
    record_write(session, request, principal, entity="api_key", ident=row.id, action="revoke")
    return Response(status_code=204)
