"""Running campaigns: start, pause, stop, preview offers, and the compliance report (JSON or CSV).

The node's `CampaignService` is on `app.state.campaigns` (set where the SIP switch starts); without it this
node places no calls and the control endpoints answer 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from duplex.api.db import field_error
from duplex.api.outbound import CAMPAIGNS
from duplex.api.routing import DuplexRoute
from duplex.auth.deps import CurrentPrincipal
from duplex.reports.compliance import compliance_report, report_csv
from duplex.services.campaigns.service import CampaignConfigError, CampaignService, UnknownCampaign
from duplex.stores.campaign_store import CampaignStore

router = APIRouter(route_class=DuplexRoute)


def campaign_service(request: Request) -> CampaignService:
    service: CampaignService | None = getattr(request.app.state, "campaigns", None)
    if service is None:
        raise HTTPException(409, "this node runs no SIP switch: campaigns cannot dial here")
    return service


def _state(service: CampaignService, campaign_id: int) -> dict[str, Any]:
    runtime = service.get(campaign_id)
    return {"id": campaign_id, "status": runtime.status.value, "calls_in_flight": len(runtime.in_flight),
            "calls_up": len(runtime.live_calls), "held_for_abandon_limit": runtime.held_for_abandon}  # fmt: skip


@router.post("/campaigns/{campaign_id}/{action}", tags=["campaigns"])
async def control_campaign(
    campaign_id: int, action: Literal["start", "pause", "stop"], request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Start (or resume), pause (no new calls) or stop (ringing attempts cancelled) a campaign."""
    CAMPAIGNS.check_role(principal, write=True)
    service = campaign_service(request)
    try:
        if action == "start":
            await service.start(campaign_id)
        elif action == "pause":
            service.pause(campaign_id)
        else:
            await service.stop(campaign_id)
        return _state(service, campaign_id)
    except UnknownCampaign:
        raise HTTPException(404, f"campaign {campaign_id} is not known or not running") from None
    except CampaignConfigError as exc:
        raise field_error(("campaign", exc.key), str(exc)) from None


@router.post("/campaigns/{campaign_id}/preview/next", tags=["campaigns"])
async def preview_next(campaign_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Preview mode: the next lead for the agent to accept or skip (within the preview timeout)."""
    CAMPAIGNS.check_role(principal, write=False)
    try:
        runtime = campaign_service(request).get(campaign_id)
        lead = runtime.preview_next(principal.agent_id)
    except UnknownCampaign:
        raise HTTPException(404, f"campaign {campaign_id} is not running") from None
    if lead is None:
        raise HTTPException(404, "no lead is due")
    return {
        "lead_id": lead.lead_id,
        "phone": lead.phone,
        "attempts": lead.attempts,
        "priority": lead.priority,
        "personal_callback": lead.agent_id
        is not None,  # the agent's own callback (the card's status says callback)
        "expires_in": runtime.options.preview_timeout,  # seconds to accept or skip
    }


@router.post("/campaigns/{campaign_id}/preview/{lead_id}/{choice}", tags=["campaigns"])
async def preview_choice(
    campaign_id: int, lead_id: int, choice: Literal["accept", "skip"], request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:  # fmt: skip
    """Accept (the lead is checked and dialed now) or skip (it goes back to the hopper) an offered lead."""
    CAMPAIGNS.check_role(principal, write=False)
    try:
        runtime = campaign_service(request).get(campaign_id)
    except UnknownCampaign:
        raise HTTPException(404, f"campaign {campaign_id} is not running") from None
    if choice == "accept":
        done = runtime.accept_preview(lead_id, principal.agent_id)
    else:
        done = runtime.skip_preview(lead_id)
    if not done and lead_id not in runtime.in_flight:
        raise HTTPException(409, "the lead was not offered, timed out, or was skipped by the rules")
    flight = runtime.in_flight.get(lead_id) if choice == "accept" else None
    return {
        "lead_id": lead_id,
        "dialed": choice == "accept" and done,
        "call_id": flight.call.id if flight else None,
    }


@router.get("/campaigns/{campaign_id}/compliance", tags=["campaigns"], response_model=None)
def campaign_compliance(
    campaign_id: int, request: Request, principal: CurrentPrincipal,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    amd_false_positive: Annotated[float, Query(ge=0, lt=1)] = 0.02,
) -> dict[str, Any] | PlainTextResponse:  # fmt: skip
    """Dials, skips by reason, abandon rates, calling-window violations and DNC list age, from the event record."""
    CAMPAIGNS.check_role(principal, write=False)
    store = CampaignStore(request.app.state.sessions)
    campaign = store.campaign(campaign_id)
    if campaign is None:
        raise HTTPException(404, f"no campaign {campaign_id}")
    report = compliance_report(store, campaign, now=dt.datetime.now(dt.UTC),
                               amd_false_positive=amd_false_positive)  # fmt: skip
    if format == "csv":
        return PlainTextResponse(report_csv(report), media_type="text/csv")
    return report.to_dict()
