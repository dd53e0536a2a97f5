"""Manual dial: `POST /campaigns/{id}/manual-dial` lets an agent of a campaign that allows it (`manual_dial`)
dial a number by hand under the campaign's rules (services/campaigns/manual.py): its compliance checks, trunk,
caller ID, lead and wrap-up. The callee's answer comes to the agent's own phone or browser.

403: the caller is no agent, the campaign does not allow manual dial, or the agent is not one of its agents.
409: the campaign is not running on this node, the agent is not free (ringing, on a call, in wrap-up, on a break)
or has a manual call still ringing, the lead is being dialled, or the trunk is full. 422 at `["body", "phone"]`:
not a valid number (national numbers are read in `region`, else the region of the lead's number, else the
campaign caller ID's), or a compliance rule refuses it, the rule in the message and in `ctx.reason` (`dnc`,
`dnc_list_stale`, `no_consent`, `consent_revoked`, `outside_window`, `no_timezone`, `recent_abandon`,
`invalid_number`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import phonenumbers
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from duplex.api.campaign_runtime import campaign_service
from duplex.api.db import field_error, forbidden
from duplex.api.lead_csv import valid_region
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, to_e164
from duplex.auth.deps import CurrentPrincipal
from duplex.services.campaigns.manual import ManualDialRefused, NumberFacts, manual_dial
from duplex.stores.campaign_store import CampaignRow, CampaignStore, LeadRow

router = APIRouter(route_class=DuplexRoute)


class ManualDialIn(Input):
    phone: Annotated[str, Field(min_length=2, max_length=32, description="The number, E.164 or national.")]
    region: Annotated[
        str | None, Field(min_length=2, max_length=2, description="Region for a national number, e.g. RO.")
    ] = None
    lead_id: int | None = Field(
        None, description="The lead called (else the campaign's lead with this number)."
    )


class ManualDialOut(BaseModel):
    call_id: str
    campaign_id: int
    phone: str  # E.164
    lead_id: int | None  # the lead the call is an attempt of; null: no lead of the campaign has the number


def _region_of(number: str | None) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number or "", None))
    except phonenumbers.NumberParseException:
        return None


def _region(body: ManualDialIn, lead: LeadRow | None, campaign: CampaignRow, fallback: str) -> str:
    if body.region is not None:
        if not valid_region(body.region):
            raise field_error(("body", "region"), f"unknown region {body.region!r} (ISO 3166 alpha-2, e.g. RO)",
                              body.region)  # fmt: skip
        return body.region.upper()
    return _region_of(lead.phone if lead else None) or _region_of(campaign.caller_id) or fallback


@router.post("/campaigns/{campaign_id}/manual-dial", response_model=ManualDialOut, tags=["campaigns"])
async def manual_dial_number(
    campaign_id: int, body: ManualDialIn, request: Request, principal: CurrentPrincipal
) -> Any:
    """Dial a number by hand for the campaign: checked by its compliance rules now, placed through its trunk with
    its caller ID as an attempt of the lead with that number, and connected to the calling agent on answer."""
    if principal.agent_id is None:
        raise forbidden("only an agent dials by hand, to their own phone")
    store = CampaignStore(request.app.state.sessions)
    campaign = await asyncio.to_thread(store.campaign, campaign_id)
    if campaign is None:
        raise HTTPException(404, f"campaign {campaign_id} not found")
    if not campaign.manual_dial:
        raise forbidden(f"campaign {campaign.name} does not allow manual dial")
    service = campaign_service(request)
    runtime = service.runtimes.get(campaign_id)
    if runtime is None or runtime.stopped.is_set():
        raise HTTPException(409, f"campaign {campaign.name} is not running on this node")
    lead = None
    if body.lead_id is not None:
        lead = await asyncio.to_thread(store.campaign_lead, campaign_id, lead_id=body.lead_id)
        if lead is None:
            raise field_error(("body", "lead_id"), "not a lead of this campaign", body.lead_id)
    phone = to_e164(
        body.phone, region=_region(body, lead, campaign, runtime.options.region), loc=("body", "phone")
    )
    if lead is not None and lead.phone != phone:
        raise field_error(("body", "phone"), f"lead {lead.id}'s number is {lead.phone}", body.phone)
    if lead is None:
        lead = await asyncio.to_thread(store.campaign_lead, campaign_id, phone=phone)
    consents = await asyncio.to_thread(store.consents, [phone])
    dnc = await asyncio.to_thread(store.dnc_sources, phone, runtime.options.clock())
    facts = NumberFacts(phone=phone, lead=lead, consents=consents.get(phone, ()), dnc_sources=dnc)
    try:
        call = manual_dial(runtime, facts, agent_id=principal.agent_id)
    except ManualDialRefused as refused:
        if refused.reason is None:
            raise HTTPException(refused.status, refused.message) from None
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "phone"), "msg": refused.message,
                                       "input": body.phone, "ctx": {"reason": refused.reason}}]) from None  # fmt: skip
    return ManualDialOut(
        call_id=call.id, campaign_id=campaign_id, phone=phone, lead_id=lead.id if lead else None
    )
