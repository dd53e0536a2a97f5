"""Call scripts (CRUD, validated on every save like IVR flows), the answers agents give on a call, and the
answers of a campaign as CSV.

A campaign names its script (`script_id`). An agent's answers to a page are checked against the script
(`duplex.callscript`), recorded as a `script.answered` event on the call and the lead, and kept on the lead
as custom fields (so lead filters can segment by them). The CSV export is a projection of those events.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.api.crud import ALL_ROLES, STAFF, Ctx, Resource, crud_router, set_attributes
from duplex.api.db import DbSession, field_error, not_found
from duplex.api.outbound import CAMPAIGNS
from duplex.api.routing import DuplexRoute
from duplex.api.routing_config import parse_flow_text
from duplex.api.schemas import Input, Output, partial
from duplex.api.scopes import own_calls
from duplex.api.validation import definition_errors
from duplex.auth.deps import CurrentPrincipal
from duplex.callscript import CallScript as Script
from duplex.callscript import ScriptError, check_answers, load_script, next_page, validate_script
from duplex.db.models import Call, CallScript, Campaign, Event, Lead, LeadList, Role

router = APIRouter(route_class=DuplexRoute)


class CallScriptCreate(Input):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: Annotated[str, Field(max_length=255)] = ""
    definition: dict[str, Any] = Field(
        description='The script: {"start": page, "pages": {id: {title, text, questions, branches, next}}} '
        "(docs/campaigns.md), as an object or YAML/JSON text; every error names its page."
    )

    @field_validator("definition", mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        return parse_flow_text(value)


class CallScriptRead(CallScriptCreate, Output):
    id: int
    created_at: dt.datetime


def script_error_detail(errors: list[ScriptError], loc: tuple[str | int, ...]) -> list[dict[str, Any]]:
    """The 422 entries of a script's errors; `ctx.page` names the page (null: the script as a whole)."""
    return definition_errors(errors, loc, kind="call_script", part="page", parts="pages")


def apply_script(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    if "definition" in data:
        errors = validate_script(data["definition"])
        if errors:
            raise RequestValidationError(script_error_detail(errors, ("body", "definition")))
    set_attributes(ctx, row, data)


SCRIPTS = Resource(
    path="call-scripts",
    entity="call_script",
    model=CallScript,
    read=CallScriptRead,
    create=CallScriptCreate,
    update=partial(CallScriptCreate),
    read_roles=ALL_ROLES,  # agents read the script of the campaign they work
    write_roles=STAFF,
    apply=apply_script,
)


class ScriptCheck(Input):
    definition: dict[str, Any]

    @field_validator("definition", mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        return parse_flow_text(value)


class ScriptCheckResult(Output):
    valid: bool
    errors: list[dict[str, Any]]


@router.post("/call-scripts/validate", response_model=ScriptCheckResult, tags=["call-scripts"])
def validate_call_script(body: ScriptCheck, principal: CurrentPrincipal) -> Any:
    """Check a script as saving would, without saving it: every error with its page."""
    SCRIPTS.check_role(principal, write=False)
    errors = validate_script(body.definition)
    return {"valid": not errors, "errors": script_error_detail(errors, ("body", "definition"))}


crud_router(SCRIPTS, router)


# ---- the lead a caller may work ----------------------------------------------------------------------------


def campaign_of_lead(session: Session, lead: Lead) -> Campaign | None:
    return session.scalar(select(Campaign).join(LeadList, LeadList.campaign_id == Campaign.id)
                          .where(LeadList.id == lead.list_id))  # fmt: skip


def load_workable_lead(ctx: Ctx, lead_id: int) -> tuple[Lead, Campaign | None]:
    """The lead and its campaign. Staff read any lead; an agent only a lead of a campaign (a 404 otherwise,
    as if it did not exist)."""
    lead = ctx.session.get(Lead, lead_id)
    campaign = campaign_of_lead(ctx.session, lead) if lead is not None else None
    if lead is None or (ctx.principal.role is Role.AGENT and campaign is None):
        raise not_found("lead", lead_id)
    return lead, campaign


def script_of(session: Session, campaign: Campaign | None) -> tuple[CallScript, Script] | None:
    row = session.get(CallScript, campaign.script_id) if campaign and campaign.script_id else None
    return (row, load_script(row.definition)) if row is not None else None


# ---- answers ----------------------------------------------------------------------------------------------


class AnswersIn(Input):
    page: Annotated[str, Field(min_length=1, max_length=64)]
    answers: dict[str, Any] = {}
    call_id: Annotated[str | None, Field(max_length=64)] = None


class AnswersOut(BaseModel):
    lead_id: int
    page: str
    answers: dict[str, Any]
    next: str | None  # the page the script goes to; null: the script is done


@router.post("/leads/{lead_id}/answers", response_model=AnswersOut, tags=["call-scripts"])
def save_answers(lead_id: int, body: AnswersIn, request: Request, principal: CurrentPrincipal,
                 session: DbSession) -> Any:  # fmt: skip
    """Save the answers to one page of the lead's campaign script: checked against its questions (422 naming
    the question), recorded on the call and the lead (`script.answered`), kept as the lead's custom fields.
    The answer says which page comes next."""
    ctx = Ctx(session=session, request=request, principal=principal)
    lead, campaign = load_workable_lead(ctx, lead_id)
    found = script_of(session, campaign)
    if found is None:
        raise HTTPException(409, "the lead's campaign has no call script")
    row, script = found
    page = script.pages.get(body.page)
    if page is None:
        raise field_error(("body", "page"), f"the script has no page {body.page!r}", body.page)
    call = session.get(Call, body.call_id) if body.call_id else None
    if body.call_id and (call is None or call.lead_id not in (None, lead.id)):
        raise field_error(("body", "call_id"), "no call of this lead has that id", body.call_id)
    values, errors = check_answers(page, body.answers)
    if errors:
        raise RequestValidationError([
            {"type": "value_error", "loc": ["body", "answers", e.key], "msg": e.reason, "input": body.answers.get(e.key)}
            for e in errors
        ])  # fmt: skip
    if values:
        lead.custom = {**(lead.custom or {}), **values}  # a new dict: the JSON column sees the change
    request.app.state.record.append(
        session, "script.answered", call_id=call.id if call else None, lead_id=lead.id,
        campaign_id=campaign.id if campaign else None, agent_id=principal.agent_id,
        data={"script_id": row.id, "page": page.id, "answers": values, "by_user_id": principal.user_id},
    )  # fmt: skip
    return AnswersOut(lead_id=lead.id, page=page.id, answers=values, next=next_page(script, page.id, values))


def answer_rows(session: Session, campaign: Campaign) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per call (or per lead, for answers saved outside a call) from the campaign's `script.answered`
    events, the latest answer to each question winning; the question columns in script order."""
    events = session.scalars(select(Event).where(Event.type == "script.answered", Event.campaign_id == campaign.id)
                             .order_by(Event.id)).all()  # fmt: skip
    found = script_of(session, campaign)
    keys = [q.key for p in found[1].pages.values() for q in p.questions] if found else []
    rows: dict[tuple[str | None, int | None], dict[str, Any]] = {}
    for event in events:
        row = rows.setdefault((event.call_id, event.lead_id), {"call_id": event.call_id, "lead_id": event.lead_id,
                                                               "agent_id": event.agent_id})  # fmt: skip
        row["answered_at"] = dt.datetime.fromtimestamp(event.ts_ms / 1000, dt.UTC).isoformat()
        for key, value in (event.data or {}).get("answers", {}).items():
            row[key] = value
            if key not in keys:
                keys.append(key)  # a question since removed from the script keeps its column
    phones = dict(
        session.execute(
            select(Lead.id, Lead.phone).where(Lead.id.in_(sorted({k[1] for k in rows if k[1]})))
        ).all()
    )
    for row in rows.values():
        row["phone"] = phones.get(row["lead_id"], "")
    return keys, list(rows.values())


@router.get("/campaigns/{campaign_id}/answers.csv", tags=["call-scripts"], response_class=PlainTextResponse)
def campaign_answers_csv(
    campaign_id: int, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Any:
    """The script answers of a campaign's calls: call, lead, phone, agent, time, then one column per question."""
    CAMPAIGNS.check_role(principal, write=True)  # staff: the answers hold customers' data
    campaign = CAMPAIGNS.load(Ctx(session=session, request=request, principal=principal), campaign_id)
    keys, rows = answer_rows(session, campaign)
    out = io.StringIO()
    columns = ["call_id", "lead_id", "phone", "agent_id", "answered_at", *keys]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("yes" if v is True else "no" if v is False else v) for k, v in row.items()})
    return PlainTextResponse(out.getvalue(), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-answers.csv"'})  # fmt: skip


@router.get("/calls/{call_id}/answers", tags=["call-scripts"])
def call_answers(
    call_id: str, request: Request, principal: CurrentPrincipal, session: DbSession
) -> dict[str, Any]:
    """The script answers given on a call (the latest per question), from its `script.answered` events; agents
    see their own calls only."""
    call = session.scalar(own_calls(principal, select(Call).where(Call.id == call_id)))
    if call is None:
        raise not_found("call", call_id)
    answers: dict[str, Any] = {}
    pages: list[str] = []
    for event in session.scalars(select(Event).where(Event.type == "script.answered", Event.call_id == call.id)
                                 .order_by(Event.id)):  # fmt: skip
        answers.update((event.data or {}).get("answers", {}))
        pages.append(str((event.data or {}).get("page")))
    return {"call_id": call.id, "lead_id": call.lead_id, "pages": pages, "answers": answers}
