"""What the agent desktop needs around an outbound call: the lead card (fields, attempts, the callee's local
time, the campaign's script with the lead's fields filled in, its dispositions), callback scheduling in the
callee's time zone, and the rule that a call is dispositioned before its agent leaves wrap-up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from duplex.api.call_scripts import load_workable_lead, script_of
from duplex.api.crud import Ctx
from duplex.api.db import DbSession, field_error
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input
from duplex.auth.deps import CurrentPrincipal, Principal, clock
from duplex.callscript import render
from duplex.db.models import Agent, Call, Campaign, Disposition, Lead, Role, User
from duplex.dialer.compliance import callee_time_zones
from duplex.dialer.types import LeadStatus

router = APIRouter(route_class=DuplexRoute)

LEAD_FIELDS = ("id", "list_id", "phone", "first_name", "last_name", "email", "company", "timezone", "priority",
               "status", "attempts", "last_outcome", "last_attempt_at", "next_attempt_at", "callback_agent_id",
               "external_id", "custom")  # fmt: skip


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive UTC times back."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def callee_zone(lead: Lead, campaign: Campaign | None) -> str:
    """The lead's own zone, else the one zone its number rings in, else the campaign's default."""
    if lead.timezone and lead.timezone in available_timezones():
        return lead.timezone
    zones = set(callee_time_zones(lead.phone))
    if len(zones) == 1:
        return zones.pop()
    return campaign.default_timezone if campaign is not None else "UTC"


def dispositions_for(session: Session, campaign_id: int | None) -> list[Disposition]:
    """The campaign's own dispositions and the shared ones (no campaign)."""
    clause: ColumnElement[bool] = Disposition.campaign_id.is_(None)
    if campaign_id is not None:
        clause = or_(clause, Disposition.campaign_id == campaign_id)
    return list(session.scalars(select(Disposition).where(clause).order_by(Disposition.id)))


def _disposition(d: Disposition) -> dict[str, Any]:
    return {"id": d.id, "code": d.code, "label": d.label, "schedules_callback": d.schedules_callback,
            "marks_dnc": d.marks_dnc, "is_success": d.is_success}  # fmt: skip


def _template_context(
    session: Session, lead: Lead, campaign: Campaign | None, principal: Principal
) -> dict[str, Any]:
    user = session.get(User, principal.user_id)
    return {"lead": {k: getattr(lead, k) for k in LEAD_FIELDS},
            "agent": {"name": (user.full_name if user else "") or principal.username},
            "campaign": {"name": campaign.name if campaign else ""}}  # fmt: skip


@router.get("/leads/{lead_id}/card", tags=["agent-desktop"])
def lead_card(
    lead_id: int, request: Request, principal: CurrentPrincipal, session: DbSession
) -> dict[str, Any]:
    """The lead as the agent sees it: fields, attempts and last outcome, the callee's zone and local time, the
    campaign's calling window, its script with the lead's fields filled in and the answers so far, its
    dispositions, and the lead's last calls."""
    lead, campaign = load_workable_lead(Ctx(session=session, request=request, principal=principal), lead_id)
    zone = callee_zone(lead, campaign)
    now = clock(request.app.state)
    card: dict[str, Any] = {k: getattr(lead, k) for k in LEAD_FIELDS}
    card |= {"last_attempt_at": _utc(lead.last_attempt_at), "next_attempt_at": _utc(lead.next_attempt_at),
             "time_zone": zone, "local_time": now.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes"),
             "campaign": None, "script": None, "answers": {},
             "dispositions": [_disposition(d) for d in dispositions_for(session, campaign.id if campaign else None)]}  # fmt: skip
    if campaign is not None:
        card["campaign"] = {"id": campaign.id, "name": campaign.name, "dial_mode": campaign.dial_mode.value,
                            "calling_hours_start": campaign.calling_hours_start,
                            "calling_hours_end": campaign.calling_hours_end}  # fmt: skip
    found = script_of(session, campaign)
    if found is not None:
        row, script = found
        context = _template_context(session, lead, campaign, principal)
        card["script"] = {"id": row.id, "name": row.name, "start": script.start, "pages": [
            {"id": p.id, "title": render(p.title, context), "text": render(p.text, context), "next": p.next,
             "branches": [{"if": b.question, "equals": b.equals, "goto": b.goto} for b in p.branches],
             "questions": [{"key": q.key, "label": render(q.label, context), "type": q.type, "required": q.required,
                            "options": list(q.options), "min": q.min, "max": q.max} for q in p.questions]}
            for p in script.pages.values()]}  # fmt: skip
        keys = {q.key for p in script.pages.values() for q in p.questions}
        card["answers"] = {k: v for k, v in (lead.custom or {}).items() if k in keys}
    calls = session.scalars(
        select(Call).where(Call.lead_id == lead.id).order_by(Call.started_at.desc()).limit(5)
    )
    card["calls"] = [{"id": c.id, "started_at": _utc(c.started_at), "outcome": c.outcome, "agent_id": c.agent_id,
                      "disposition_id": c.disposition_id} for c in calls]  # fmt: skip
    return card


# ---- callbacks --------------------------------------------------------------------------------------------


class CallbackIn(Input):
    at: dt.datetime | None = Field(
        None, description="When, with its offset (e.g. 2026-12-08T10:30:00+02:00)."
    )
    local: str | None = Field(
        None, max_length=32, description="Or the callee's wall-clock time, YYYY-MM-DDTHH:MM."
    )
    personal: bool = Field(False, description="Only this agent gets the callback (else any agent).")
    agent_id: int | None = Field(None, description="Staff: whose personal callback it is.")

    @model_validator(mode="after")
    def _one_time(self) -> CallbackIn:
        if (self.at is None) == (self.local is None):
            raise ValueError("give either at (with an offset) or local (the callee's time)")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at needs an offset; use local for the callee's wall-clock time")
        return self


class CallbackOut(BaseModel):
    lead_id: int
    due: dt.datetime  # UTC
    callee_local: str  # the same moment on the callee's clock
    time_zone: str
    agent_id: int | None  # a personal callback's agent


def callback_due(body: CallbackIn, zone: str, loc: tuple[str, ...] = ("body",)) -> dt.datetime:
    if body.at is not None:
        return body.at.astimezone(dt.UTC)
    try:
        local = dt.datetime.fromisoformat(str(body.local))
    except ValueError:
        raise field_error((*loc, "local"), "a date and time as YYYY-MM-DDTHH:MM", body.local) from None
    if local.tzinfo is not None:
        raise field_error((*loc, "local"), "the callee's wall-clock time, without an offset", body.local)
    try:
        return local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
    except OverflowError:
        raise field_error((*loc, "local"), "out of range once converted to UTC", body.local) from None


def schedule_callback(session: Session, request: Request, principal: Principal, lead: Lead,
                      campaign: Campaign | None, body: CallbackIn, *, call_id: str | None = None,
                      loc: tuple[str, ...] = ("body",)) -> CallbackOut:  # fmt: skip
    """Set the lead's callback (status callback, its time, its agent when personal), after checking it lies in
    the future and inside the campaign's calling window on the callee's clock; record it; tell the running
    campaign so its hopper dials it then."""
    zone = callee_zone(lead, campaign)
    due = callback_due(body, zone, loc)
    field = (*loc, "local" if body.local is not None else "at")
    if due <= clock(request.app.state):
        raise field_error(field, "the callback time has passed", body.local or str(body.at))
    local = due.astimezone(ZoneInfo(zone))
    if campaign is not None:
        start, end = campaign.calling_hours_start, campaign.calling_hours_end
        if not start <= local.strftime("%H:%M") < end:
            raise field_error(field, f"{local:%H:%M} in {zone} is outside the calling window {start}-{end}",
                              body.local or str(body.at))  # fmt: skip
    agent_id = None
    if body.personal:  # staff may set another agent's personal callback; an agent sets their own
        agent_id = body.agent_id if principal.role is not Role.AGENT and body.agent_id else principal.agent_id
    if body.personal and (agent_id is None or session.get(Agent, agent_id) is None):
        raise field_error((*loc, "personal"), "a personal callback needs an agent", body.personal)
    lead.status, lead.next_attempt_at, lead.callback_agent_id = LeadStatus.CALLBACK, due, agent_id
    request.app.state.record.append(
        session, "lead.callback_scheduled", lead_id=lead.id, call_id=call_id, agent_id=agent_id,
        campaign_id=campaign.id if campaign else None, data={"due_ms": int(due.timestamp() * 1000)},
    )  # fmt: skip
    campaigns = getattr(request.app.state, "campaigns", None)
    if campaigns is not None and campaign is not None:
        campaigns.callback_scheduled(campaign.id, lead.id, due, agent_id)
    return CallbackOut(lead_id=lead.id, due=due, callee_local=local.isoformat(timespec="minutes"), time_zone=zone,
                       agent_id=agent_id)  # fmt: skip


@router.post("/leads/{lead_id}/callback", response_model=CallbackOut, tags=["agent-desktop"])
def set_callback(lead_id: int, body: CallbackIn, request: Request, principal: CurrentPrincipal,
                 session: DbSession) -> Any:  # fmt: skip
    """Schedule a callback of the lead at a time given with its offset or on the callee's clock; personal
    (only this agent's desktop or phone gets it, when free) or for any agent of the campaign."""
    lead, campaign = load_workable_lead(Ctx(session=session, request=request, principal=principal), lead_id)
    return schedule_callback(session, request, principal, lead, campaign, body)


# ---- wrap-up needs a disposition --------------------------------------------------------------------------


def undisposed_call(session: Session, agent_id: int) -> Call | None:
    """The agent's last call (the one a wrap-up follows; it may still be closing), when it has no disposition
    and there are dispositions it could have."""
    call = session.scalar(select(Call).where(Call.agent_id == agent_id)
                          .order_by(Call.started_at.desc(), Call.id.desc()).limit(1))  # fmt: skip
    if call is None or call.disposition_id is not None or not dispositions_for(session, call.campaign_id):
        return None
    return call


def require_disposition(session: Session, agent_id: int) -> None:
    """409 while the agent's last call lacks a disposition (checked when leaving wrap-up for available)."""
    call = undisposed_call(session, agent_id)
    if call is not None:
        raise HTTPException(409, f"set a disposition for call {call.id} before becoming available again")


@router.get("/desktop/wrap-up", tags=["agent-desktop"])
def pending_wrap_up(request: Request, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    """The caller's (an agent's) last call while it still needs a disposition: the call, its lead with the
    callee's zone (for a callback), and the dispositions to choose from; `call` null when none is needed."""
    if principal.agent_id is None:
        return {"call": None, "lead": None, "dispositions": []}
    call = undisposed_call(session, principal.agent_id)
    if call is None:
        return {"call": None, "lead": None, "dispositions": []}
    lead = session.get(Lead, call.lead_id) if call.lead_id is not None else None
    campaign = session.get(Campaign, call.campaign_id) if call.campaign_id is not None else None
    about = None
    if lead is not None:
        about = {"id": lead.id, "first_name": lead.first_name, "last_name": lead.last_name, "phone": lead.phone,
                 "time_zone": callee_zone(lead, campaign)}  # fmt: skip
    return {"call": {"id": call.id, "direction": call.direction, "from_number": call.from_number,
                     "to_number": call.to_number, "campaign_id": call.campaign_id, "ended_at": _utc(call.ended_at)},
            "lead": about,
            "dispositions": [_disposition(d) for d in dispositions_for(session, call.campaign_id)]}  # fmt: skip
