"""GET /api/v1/softphone: what the browser softphone of the signed-in agent registers with.

Only an agent gets it, and only its own credentials: the SIP secret is write-only everywhere else in the API
(a phone's secret must not be readable by other users), but the agent's own browser is that agent's phone.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from duplex.api.db import DbSession, forbidden, not_found
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Output
from duplex.auth.deps import CurrentPrincipal
from duplex.db.models import Agent, Role

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
    """The signed-in agent's SIP account for the browser softphone (agents only)."""
    if principal.role is not Role.AGENT or principal.agent_id is None:
        raise forbidden("only an agent has a softphone")
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
