"""GET /api/v1/softphone: what the browser softphone of the signed-in user registers with.

A user gets it only for their own agent row, and only its own credentials: the SIP secret is write-only
everywhere else in the API (a phone's secret must not be readable by other users), but the user's own browser
is that user's phone. Agents have one; a supervisor or admin has one when given an agent row, which is the
phone a monitored call rings (`duplex.api.monitor`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from duplex.api.db import DbSession, forbidden, not_found
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Output
from duplex.auth.deps import CurrentPrincipal
from duplex.db.models import Agent

router = APIRouter(route_class=DuplexRoute)


class SoftphoneConfig(Output):
    agent_id: int
    extension: str
    sip_username: str
    sip_password: str
    domain: str  # the host part of the agent's address of record (sip:<username>@<domain>)
    ws_port: int | None  # SIP over WebSocket on this server's host; None when it is not enabled
    ws_scheme: str  # "ws" or "wss"


@router.get("/softphone", response_model=SoftphoneConfig, tags=["agents"])
def softphone(request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    """The signed-in user's own SIP account for the browser softphone (users with an agent row only)."""
    if principal.agent_id is None:
        raise forbidden("only a user with a phone (an agent row) has a softphone")
    agent = session.get(Agent, principal.agent_id)
    if agent is None:
        raise not_found("agent", principal.agent_id)
    settings = request.app.state.settings
    status: dict[str, Any] = getattr(request.app.state, "sip_status", None) or {}
    port = status.get("ws") if status else None
    if port is None and settings.sip_enabled and settings.sip_ws_enabled:
        port = settings.sip_ws_port
    return SoftphoneConfig(
        agent_id=agent.id,
        extension=agent.extension,
        sip_username=agent.sip_username,
        sip_password=agent.sip_password,
        domain=settings.public_ip,
        ws_port=port,
        ws_scheme="wss" if settings.sip_wss_certfile else "ws",
    )
