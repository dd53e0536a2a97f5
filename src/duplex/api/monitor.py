"""Supervisor monitoring of a live call: POST starts (listen, whisper or barge), PATCH changes the mode,
DELETE stops, GET shows it. Admins and supervisors only; a supervisor only on calls of their teams (the calls
they may read, `scopes.own_calls`). Every start, change and stop is an audit row; the call's event record
gets ``monitor.started``, ``monitor.mode_changed`` and ``monitor.ended`` from the monitoring service.

The supervisor's phone is the agent row of their user (an extension and a SIP account, registered by a desk
phone or the console's softphone): the service rings it and mixes it into the call when it answers.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from anyio import from_thread
from fastapi import APIRouter, HTTPException, Request

from duplex.api.audit import audit
from duplex.api.calls import CALLS
from duplex.api.crud import STAFF, Ctx
from duplex.api.db import DbSession, forbidden
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output
from duplex.auth.deps import CurrentPrincipal, Principal
from duplex.db.models import Agent
from duplex.media.monitoring import MonitorMode
from duplex.services.calls.monitor import CallMonitoring, Monitor, MonitorRefused

router = APIRouter(route_class=DuplexRoute)

ModeName = Literal["listen", "whisper", "barge"]


class MonitorStart(Input):
    mode: ModeName = "listen"


class MonitorChange(Input):
    mode: ModeName


class MonitorRead(Output):
    call_id: str
    mode: ModeName
    state: Literal["ringing", "active", "ended"]  # ringing: the supervisor's phone has not answered yet
    leg_id: str  # the supervisor's leg on the call
    by_user_id: int


def _read(monitor: Monitor) -> MonitorRead:
    return MonitorRead(call_id=monitor.call.id, mode=monitor.mode.value, state=monitor.state,
                       leg_id=monitor.leg.id, by_user_id=monitor.by_user_id)  # fmt: skip


def _checked(call_id: str, request: Request, principal: Principal, session: Any) -> CallMonitoring:
    """403 for agents, 404 for a call the principal may not read, 409 when no SIP engine runs here."""
    if principal.role not in STAFF:
        raise forbidden("only supervisors and admins monitor calls")
    call = CALLS.load(Ctx(session=session, request=request, principal=principal), call_id)
    monitoring: CallMonitoring | None = getattr(request.app.state, "monitoring", None)
    if call.state == "ended" or call.ended_at is not None or monitoring is None:
        raise HTTPException(409, "the call is not live")
    return monitoring


def _refused(exc: MonitorRefused) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.post("/calls/{call_id}/monitor", response_model=MonitorRead, status_code=201, tags=["calls"])
def start_monitor(call_id: str, body: MonitorStart, request: Request, principal: CurrentPrincipal,
                  session: DbSession) -> Any:  # fmt: skip
    """Ring the signed-in supervisor's phone; when it answers, they listen, whisper to the agent or barge in."""
    monitoring = _checked(call_id, request, principal, session)
    agent = session.get(Agent, principal.agent_id) if principal.agent_id is not None else None
    if agent is None:
        raise HTTPException(409, "you have no phone: give your user an agent row (extension and SIP account)")
    start = functools.partial(monitoring.start, call_id, sip_username=agent.sip_username,
                              user_id=principal.user_id, mode=MonitorMode(body.mode))  # fmt: skip
    try:
        monitor = from_thread.run(start)
    except MonitorRefused as exc:
        raise _refused(exc) from exc
    audit(session, request, principal, "call.monitor", target_type="call", target_id=call_id,
          detail={"mode": body.mode, "leg_id": monitor.leg.id})  # fmt: skip
    return _read(monitor)


@router.get("/calls/{call_id}/monitor", response_model=MonitorRead, tags=["calls"])
def get_monitor(call_id: str, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    """Who monitors the call, in which mode."""
    monitoring = _checked(call_id, request, principal, session)
    try:
        return _read(from_thread.run_sync(monitoring.get, call_id))
    except MonitorRefused as exc:
        raise _refused(exc) from exc


@router.patch("/calls/{call_id}/monitor", response_model=MonitorRead, tags=["calls"])
def change_monitor(call_id: str, body: MonitorChange, request: Request, principal: CurrentPrincipal,
                   session: DbSession) -> Any:  # fmt: skip
    """Switch between listen, whisper and barge on the same call of the supervisor's phone."""
    monitoring = _checked(call_id, request, principal, session)
    change = functools.partial(monitoring.change, call_id, MonitorMode(body.mode), user_id=principal.user_id)
    try:
        monitor = from_thread.run_sync(change)
    except MonitorRefused as exc:
        raise _refused(exc) from exc
    audit(session, request, principal, "call.monitor_mode", target_type="call", target_id=call_id,
          detail={"mode": body.mode})  # fmt: skip
    return _read(monitor)


@router.delete("/calls/{call_id}/monitor", response_model=MonitorRead, tags=["calls"])
def stop_monitor(call_id: str, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    """Hang up the supervisor's leg; the caller and the agent go on talking."""
    monitoring = _checked(call_id, request, principal, session)
    try:
        monitor = from_thread.run_sync(monitoring.stop, call_id)
    except MonitorRefused as exc:
        raise _refused(exc) from exc
    audit(session, request, principal, "call.monitor_stop", target_type="call", target_id=call_id)
    return _read(monitor)
