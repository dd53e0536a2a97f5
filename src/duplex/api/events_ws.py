"""The event stream: `WS /api/v1/events` for wallboards and integrations, `GET /api/v1/events` for pollers.

WebSocket protocol:
- Auth: `?token=<bearer token or API key>`, or an `Authorization: Bearer ...` / `X-API-Key` header. Without
  valid credentials the handshake is refused (close code 4401); a bad filter closes with 4422.
- Filters: `?types=call.*,queue.entered&queue_id=&campaign_id=&agent_id=&lead_id=&call_id=`. Agents only
  ever see their own events; supervisors see their teams' agents and events that concern no agent.
- `?since=<event id>`: first every matching event with a larger id from the table (catch-up), then live.
  The bus subscription is opened before the table is read and live events already sent are skipped, so
  the switch has no gap and no duplicate.
- Each event is one text frame: the envelope as JSON (`id`, `node_id`, `seq`, `type`, `ts_ms`,
  correlation ids, `data`). Control frames have a type without a dot: `{"type": "ready", "last_id": N}`
  after the catch-up, `{"type": "ping", "ts_ms": T}` after `ping` seconds of silence.
- A consumer that falls behind (its queue fills up, or one send takes longer than the send timeout) is
  closed with code 4008 and a reason naming the last id it got: reconnect with `?since=` that id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from duplex.api.db import DbSession, field_error
from duplex.api.routing import DuplexRoute
from duplex.auth.deps import Principal, principal_from_token, require_role
from duplex.db.models import Event
from duplex.events.filters import EventFilter, FilterError, parse_types, scope_for
from duplex.events.record import EventRecord, envelope_of
from duplex.events.types import EVENT_TYPES, EventEnvelope, InvalidEventPayload, payload_of

log = logging.getLogger(__name__)
router = APIRouter(tags=["events"], route_class=DuplexRoute)

REPLAY_PAGE = 500
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_FILTER = 4422
CLOSE_SLOW_CONSUMER = 4008


def _option(state: Any, name: str, default: float) -> float:
    value = getattr(state, name, None)
    return float(value) if value is not None else default


def _int_param(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise FilterError(name, "must be an integer") from None


def _build_filter(params: Any, scope: dict[str, Any]) -> EventFilter:
    return EventFilter(
        types=parse_types(params.get("types")),
        queue_id=_int_param(params, "queue_id"),
        campaign_id=_int_param(params, "campaign_id"),
        agent_id=_int_param(params, "agent_id"),
        lead_id=_int_param(params, "lead_id"),
        call_id=params.get("call_id") or None,
        **scope,
    )


def _scope(state: Any, principal: Principal) -> dict[str, Any]:
    with state.sessions() as session:
        return scope_for(
            session, principal.role.value, agent_id=principal.agent_id, team_ids=principal.team_ids
        )


def _page(state: Any, flt: EventFilter, after: int, limit: int) -> list[EventEnvelope]:
    with state.sessions() as session:
        rows = session.scalars(
            select(Event).where(Event.id > after, flt.where()).order_by(Event.id).limit(limit)
        )
        return [envelope_of(row) for row in rows]


def _ws_credentials(websocket: WebSocket) -> str:
    token = websocket.query_params.get("token") or websocket.headers.get("x-api-key") or ""
    if not token:
        scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    return token


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


class _Stream:
    """One WebSocket subscriber: catch-up, then live, with keepalive and slow-consumer handling."""

    def __init__(self, websocket: WebSocket, flt: EventFilter, since: int | None) -> None:
        state = websocket.app.state
        self.ws = websocket
        self.state = state
        self.flt = flt
        self.since = since
        self.last_id = since or 0
        self.replayed: set[int] = set()
        self.ping_seconds = _option(state, "events_ws_ping_seconds", 20.0)
        self.send_timeout = _option(state, "events_ws_send_timeout", 10.0)
        self.queue_size = int(_option(state, "events_ws_queue_size", 1000))

    async def run(self, queue: asyncio.Queue[EventEnvelope]) -> None:
        listener = asyncio.create_task(self._listen())
        pump = asyncio.create_task(self._pump(queue))
        try:
            await asyncio.wait({listener, pump}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listener, pump):
                task.cancel()
            await asyncio.gather(listener, pump, return_exceptions=True)
        if pump.done() and not pump.cancelled():
            exc = pump.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                log.error("event stream failed", exc_info=exc)

    async def _listen(self) -> None:
        """Reads (and ignores) client frames; returns when the client goes away."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return

    async def _send(self, payload: dict[str, Any]) -> bool:
        try:
            await asyncio.wait_for(self.ws.send_text(_dump(payload)), self.send_timeout)
        except TimeoutError:
            await self._close_slow()
            return False
        return True

    async def _close_slow(self) -> None:
        if self.ws.application_state is WebSocketState.CONNECTED:
            reason = f"slow consumer; reconnect with since={self.last_id}"
            await self.ws.close(code=CLOSE_SLOW_CONSUMER, reason=reason)

    async def _pump(self, queue: asyncio.Queue[EventEnvelope]) -> None:
        if self.since is not None:
            await self._replay()
        last = self.last_id if self.since is not None else None
        if not await self._send({"type": "ready", "last_id": last}):
            return
        while True:
            try:
                envelope = await asyncio.wait_for(queue.get(), self.ping_seconds)
            except TimeoutError:
                if not await self._send({"type": "ping", "ts_ms": time.time_ns() // 1_000_000}):
                    return
                continue
            if queue.qsize() >= queue.maxsize - 1:
                # The queue was full: the bus drops what does not fit, so this consumer may have lost events.
                await self._close_slow()
                return
            if envelope.id in self.replayed or not self.flt.matches(envelope):
                continue
            if self.since is not None and envelope.id <= self.since:
                continue
            if not await self._send(envelope.to_dict()):
                return
            self.last_id = max(self.last_id, envelope.id)

    async def _replay(self) -> None:
        cursor = self.last_id
        while True:
            page = await run_in_threadpool(_page, self.state, self.flt, cursor, REPLAY_PAGE)
            for envelope in page:
                if not await self._send(envelope.to_dict()):
                    return
                self.replayed.add(envelope.id)
                self.last_id = max(self.last_id, envelope.id)
            if len(page) < REPLAY_PAGE:
                return
            cursor = page[-1].id


@router.websocket("/events")
async def events_stream(websocket: WebSocket) -> None:
    state = websocket.app.state
    token = _ws_credentials(websocket)
    principal = await run_in_threadpool(principal_from_token, state, token) if token else None
    if principal is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="not authenticated")
        return
    try:
        scope = await run_in_threadpool(_scope, state, principal)
        flt = _build_filter(websocket.query_params, scope)
        since = _int_param(websocket.query_params, "since")
    except FilterError as exc:
        await websocket.close(code=CLOSE_BAD_FILTER, reason=str(exc)[:120])
        return
    stream = _Stream(websocket, flt, since)
    queue: asyncio.Queue[EventEnvelope] = state.bus.subscribe(maxsize=max(stream.queue_size, 2))
    try:  # subscribed before accepting: whatever is committed after the client is connected reaches it
        await websocket.accept()
        await stream.run(queue)
    except WebSocketDisconnect:
        return
    finally:
        state.bus.unsubscribe(queue)
    if websocket.application_state is WebSocketState.CONNECTED:
        try:
            await websocket.close()
        except RuntimeError:
            pass


class EventPage(BaseModel):
    items: list[dict[str, Any]]
    next_since: int | None = Field(
        description="Pass as `since` to get the next page; null when this page was the last one."
    )


ReaderRole = Annotated[Principal, Depends(require_role("admin", "supervisor"))]


@router.get("/events", response_model=EventPage)
def list_events(
    request: Request,
    principal: ReaderRole,
    types: Annotated[str | None, Query(description="Comma-separated types; `call.*` = prefix.")] = None,
    since: Annotated[int, Query(ge=0, description="Only events with a larger id.")] = 0,
    queue_id: int | None = None,
    campaign_id: int | None = None,
    agent_id: int | None = None,
    lead_id: int | None = None,
    call_id: str | None = None,
    from_ts_ms: Annotated[int | None, Query(description="Only events at or after (UTC ms).")] = None,
    to_ts_ms: Annotated[int | None, Query(description="Only events before (UTC ms).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """Recorded events in id order, for integrations that poll: keep passing `next_since`."""
    params: dict[str, Any] = {"types": types, "call_id": call_id}
    params |= {"queue_id": queue_id, "campaign_id": campaign_id, "agent_id": agent_id, "lead_id": lead_id}
    try:
        flt = _build_filter(params, _scope(request.app.state, principal))
    except FilterError as exc:
        raise field_error(("query", exc.field), exc.message, params.get(exc.field)) from None
    query = select(Event).where(Event.id > since, flt.where())
    if from_ts_ms is not None:
        query = query.where(Event.ts_ms >= from_ts_ms)
    if to_ts_ms is not None:
        query = query.where(Event.ts_ms < to_ts_ms)
    with request.app.state.sessions() as session:
        rows = list(session.scalars(query.order_by(Event.id).limit(limit)))
    items = [envelope_of(row).to_dict() for row in rows]
    return EventPage(items=items, next_since=rows[-1].id if len(rows) == limit else None)


class EventIn(BaseModel):
    type: str = Field(description="A known event type (see duplex.events.types).")
    call_id: str | None = Field(None, max_length=36)
    leg_id: str | None = Field(None, max_length=36)
    agent_id: int | None = None
    queue_id: int | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    data: dict[str, Any] = Field(
        default_factory=dict, description="The payload of its type (see the type's fields)."
    )


@router.post("/events", status_code=status.HTTP_201_CREATED)
def record_event(
    body: EventIn,
    request: Request,
    session: DbSession,
    _admin: Annotated[Principal, Depends(require_role("admin"))],
) -> dict[str, Any]:
    """Record an event of a known type (for integrations, e.g. a CRM's `csat.recorded`). The answer is
    sent only after the event is committed."""
    if body.type not in EVENT_TYPES:
        raise field_error(("body", "type"), "unknown event type", body.type)
    try:
        payload = payload_of(body.type, body.data)
    except InvalidEventPayload as e:
        raise field_error(("body", "data", e.field), str(e), body.data.get(e.field)) from e
    record: EventRecord = request.app.state.record
    fields = body.model_dump(exclude={"type", "data"})
    return record.append(session, payload, **fields).to_dict()
