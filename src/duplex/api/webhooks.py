"""Webhooks (admin only): CRUD, the delivery log, and a test ping.

The secret signs every delivery (see `duplex.webhooks.signing` for the verification recipe). It is
generated when not given and shown only in the answer to POST; reads never return it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select

from duplex.api.audit import record_write
from duplex.api.db import DbSession, flush, not_found
from duplex.api.routing import DuplexRoute
from duplex.auth.deps import Principal, require_role
from duplex.db.models import Webhook, WebhookDelivery
from duplex.events.filters import FilterError, parse_types
from duplex.webhooks.dispatcher import as_utc, post_signed

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=DuplexRoute)
Admin = Annotated[Principal, Depends(require_role("admin"))]


def _check_types(value: list[str]) -> list[str]:
    try:
        return list(parse_types(",".join(value)))
    except FilterError as exc:
        raise ValueError(exc.message) from None


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=64)
    url: AnyHttpUrl
    event_types: list[str] = Field(
        default_factory=list, description='Types to deliver; empty = all; "call.*" = every call event.'
    )
    enabled: bool = True
    max_attempts: int = Field(8, ge=1, le=50)
    secret: str | None = Field(
        None, min_length=16, max_length=128, description="HMAC key; generated when omitted."
    )

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        return _check_types(value)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=64)
    url: AnyHttpUrl | None = None
    event_types: list[str] | None = None
    enabled: bool | None = None
    max_attempts: int | None = Field(None, ge=1, le=50)
    secret: str | None = Field(None, min_length=16, max_length=128)

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_types(value)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    event_types: list[str]
    enabled: bool
    max_attempts: int
    created_at: dt.datetime

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return as_utc(value)


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Shown only now: keep it to verify X-Duplex-Signature.")


class WebhookPage(BaseModel):
    items: list[WebhookRead]
    total: int
    limit: int
    offset: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    webhook_id: int
    event_id: int
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime

    @field_validator("next_attempt_at", "delivered_at", "created_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else as_utc(value)


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int


class PingResult(BaseModel):
    ok: bool
    status: int | None
    error: str
    duration_ms: int


def _load(session: Any, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise not_found("webhook", webhook_id)
    return hook  # type: ignore[no-any-return]


@router.get("", response_model=WebhookPage)
def list_webhooks(
    _: Admin,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    total = session.scalar(select(func.count(Webhook.id))) or 0
    rows = session.scalars(select(Webhook).order_by(Webhook.id).limit(limit).offset(offset))
    return {"items": list(rows), "total": total, "limit": limit, "offset": offset}


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookCreate, request: Request, principal: Admin, session: DbSession) -> Webhook:
    data = body.model_dump()
    data["url"] = str(body.url)
    data["secret"] = body.secret or secrets.token_urlsafe(32)
    hook = Webhook(**data)
    session.add(hook)
    flush(session)
    record_write(session, request, principal, entity="webhook", ident=hook.id, action="create")
    return hook


@router.get("/{webhook_id}", response_model=WebhookRead)
def get_webhook(webhook_id: int, _: Admin, session: DbSession) -> Webhook:
    return _load(session, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookRead)
def update_webhook(
    webhook_id: int, body: WebhookUpdate, request: Request, principal: Admin, session: DbSession
) -> Webhook:
    hook = _load(session, webhook_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        setattr(hook, key, str(value) if key == "url" else value)
    flush(session)
    record_write(session, request, principal, entity="webhook", ident=hook.id, action="update")
    return hook


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, request: Request, principal: Admin, session: DbSession) -> Response:
    hook = _load(session, webhook_id)
    session.delete(hook)
    flush(session)
    record_write(session, request, principal, entity="webhook", ident=webhook_id, action="delete")
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    webhook_id: int,
    _: Admin,
    session: DbSession,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The delivery log, newest first."""
    _load(session, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset))
    return {"items": list(rows), "total": total, "limit": limit, "offset": offset}


@router.post("/{webhook_id}/test", response_model=PingResult)
async def test_webhook(webhook_id: int, request: Request, _: Admin) -> PingResult:
    """Send a signed `ping` to the webhook now and report what its receiver answered (not logged as a
    delivery; no retries)."""
    with request.app.state.sessions() as session:
        hook = _load(session, webhook_id)
        url, secret = hook.url, hook.secret
    now = dt.datetime.now(dt.UTC)
    body = b'{"data":{"webhook_id":%d},"id":null,"ts_ms":%d,"type":"ping"}' % (
        webhook_id,
        int(now.timestamp() * 1000),
    )
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as client:
        result = await post_signed(
            client,
            url=url,
            secret=secret,
            body=body,
            event_type="ping",
            delivery=f"test-{uuid.uuid4()}",
            now=now,
        )
    duration = int((time.perf_counter() - started) * 1000)
    return PingResult(ok=result.ok, status=result.status, error=result.error, duration_ms=duration)
