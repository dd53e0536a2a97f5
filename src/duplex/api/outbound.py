"""Outbound configuration: campaigns (+status), lead lists (+CSV import/export, in lead_io.py), leads,
dispositions, do-not-call, consent.

Phone numbers are stored as E.164. A national number is read in the region given by the body's `region`
field or the `?region=` query parameter (ISO 3166 alpha-2, e.g. "RO"); an unparseable number is a 422 that
names the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, or_, select

from duplex.api.audit import record_write
from duplex.api.crud import ALL_ROLES, STAFF, Ctx, Resource, crud_router, set_attributes
from duplex.api.db import DbSession, field_error
from duplex.api.lead_filter import FilterError, parse_filter, to_sql
from duplex.api.lead_io import router as lead_io_router
from duplex.api.lead_jobs import router as lead_jobs_router
from duplex.api.lead_recycle import router as lead_recycle_router
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output, partial, to_e164
from duplex.auth.deps import CurrentPrincipal, clock
from duplex.db.models import Campaign, ConsentRecord, Disposition, DncEntry, Lead, LeadList
from duplex.dialer.types import CampaignStatus, DialMode, LeadStatus

router = APIRouter(route_class=DuplexRoute)

Name = Annotated[str, Field(min_length=1, max_length=64)]
HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Region = Annotated[str | None, Field(min_length=2, max_length=2, description="Region for national numbers.")]
PhoneIn = Annotated[str, Field(min_length=2, max_length=32)]


def with_phone(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    """set_attributes, with `phone` normalised to E.164 (region from the body or ?region=)."""
    data = dict(data)
    region = data.pop("region", None) or ctx.request.query_params.get("region")
    if data.get("phone") is not None:
        data["phone"] = to_e164(data["phone"], region=region, loc=("body", "phone"))
    set_attributes(ctx, row, data)


def phone_filter(column: Any) -> Any:
    def clause(value: str) -> ColumnElement[bool]:
        value = value.strip()  # an unencoded "+" arrives as a space
        result: ColumnElement[bool] = column == (value if value.startswith("+") else f"+{value}")
        return result

    return clause


def emit_on(entity_events: dict[str, str], correlate: Callable[[Any], dict[str, Any]]) -> Any:
    """An after_write hook that records a domain event (e.g. lead.created) next to config.changed;
    `correlate(row)` gives its correlation ids (campaign_id=..., lead_id=...)."""

    def after(ctx: Ctx, row: Any, action: str) -> None:
        event_type = entity_events.get(action)
        if event_type is not None:
            data = {"action": action, "id": row.id}
            if getattr(row, "phone", None):
                data["phone"] = row.phone
            ctx.request.app.state.record.append(ctx.session, event_type, **correlate(row), data=data)

    return after


def campaign_of(row: Any) -> dict[str, Any]:
    return {"campaign_id": row.id}


def lead_of(row: Any) -> dict[str, Any]:
    return {"lead_id": getattr(row, "lead_id", None) if not isinstance(row, Lead) else row.id}


def uncorrelated(row: Any) -> dict[str, Any]:
    return {}


LEAD_FILTER_HELP = (
    'Which leads are selected, e.g. custom.interest == "solar" and priority >= 5 and status in ("new", "retry"); '
    "fields: status, priority, attempts, list_id, phone, first_name, last_name, email, company, timezone, "
    "external_id, last_outcome, custom.<key>."
)


def lead_filter_clause(text: str) -> ColumnElement[bool]:
    """`?filter=` of GET /leads: the filter language (duplex.api.lead_filter); a 422 naming it when wrong."""
    try:
        return to_sql(parse_filter(text))
    except FilterError as exc:
        raise field_error(("query", "filter"), str(exc), text) from exc


# ---- campaigns ------------------------------------------------------------------------------------------


class CampaignCreate(Input):
    name: Name
    kind: Annotated[str, Field(max_length=32)] = "telemarketing"
    dial_mode: DialMode = DialMode.PREVIEW
    queue_id: int | None = None
    trunk_id: int | None = None
    flow_id: int | None = None
    caller_id: Annotated[str | None, Field(max_length=32)] = None
    script: str = ""
    script_id: int | None = Field(None, description="The call script agents follow (/call-scripts).")
    lines_per_agent: Annotated[float, Field(gt=0, le=20)] = 1.0
    max_abandon_rate: Annotated[float, Field(ge=0, le=1)] = 0.03
    calling_hours_start: HourMinute = "09:00"
    calling_hours_end: HourMinute = "20:00"
    default_timezone: Annotated[str, Field(max_length=64)] = "UTC"
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    retry_delay_minutes: Annotated[int, Field(ge=0, le=100000)] = 60
    amd_enabled: bool = False
    broadcast_prompt: Annotated[str | None, Field(max_length=255)] = None
    cost_per_minute: Annotated[float, Field(ge=0)] = 0.0
    lead_filter: Annotated[str | None, Field(max_length=2000, description=LEAD_FILTER_HELP)] = None
    manual_dial: bool = Field(
        False,
        description="Its agents may dial a number by hand (POST /campaigns/{id}/manual-dial), under the "
        "campaign's compliance rules, trunk and caller ID.",
    )

    @field_validator("lead_filter")
    @classmethod
    def _valid_filter(cls, value: str | None) -> str | None:
        if value is not None:
            parse_filter(value)  # FilterError is a ValueError: a 422 naming the field
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class CampaignRead(CampaignCreate, Output):
    id: int
    status: CampaignStatus
    created_at: dt.datetime


class CampaignFilters(BaseModel):
    status: CampaignStatus | None = None
    dial_mode: DialMode | None = None
    queue_id: int | None = None


class CampaignStatusChange(Input):
    status: CampaignStatus


# draft -> running <-> paused -> finished; running -> finished.
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.RUNNING}),
    CampaignStatus.RUNNING: frozenset({CampaignStatus.PAUSED, CampaignStatus.FINISHED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.RUNNING, CampaignStatus.FINISHED}),
    CampaignStatus.FINISHED: frozenset(),
}

CAMPAIGNS = Resource(
    path="campaigns",
    entity="campaign",
    model=Campaign,
    read=CampaignRead,
    create=CampaignCreate,
    update=partial(CampaignCreate),
    filters=CampaignFilters,
    read_roles=ALL_ROLES,
    write_roles=STAFF,
    after_write=emit_on({"create": "campaign.created"}, campaign_of),
)
crud_router(CAMPAIGNS, router)


@router.post("/campaigns/{campaign_id}/status", response_model=CampaignRead, tags=["campaigns"])
def set_campaign_status(
    campaign_id: int,
    body: CampaignStatusChange,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
) -> Any:
    CAMPAIGNS.check_role(principal, write=True)
    campaign = CAMPAIGNS.load(Ctx(session=session, request=request, principal=principal), campaign_id)
    current = CampaignStatus(campaign.status)
    if body.status not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        raise HTTPException(409, f"campaign is {current.value}; it can go to: {allowed}")
    campaign.status = body.status
    request.app.state.record.append(
        session,
        "campaign.status_changed",
        campaign_id=campaign.id,
        data={"from": current.value, "to": body.status.value},
    )
    record_write(session, request, principal, entity="campaign", ident=campaign.id, action="status",
                 detail={"from": current.value, "to": body.status.value})  # fmt: skip
    return campaign


# ---- lead lists and leads -------------------------------------------------------------------------------


class LeadListCreate(Input):
    name: Name
    campaign_id: int | None = None
    source: Annotated[str, Field(max_length=255)] = ""
    active: bool = True


class LeadListRead(LeadListCreate, Output):
    id: int
    created_at: dt.datetime


class LeadListFilters(BaseModel):
    campaign_id: int | None = None
    active: bool | None = None


crud_router(
    Resource(
        path="lead-lists",
        entity="lead_list",
        model=LeadList,
        read=LeadListRead,
        create=LeadListCreate,
        update=partial(LeadListCreate),
        filters=LeadListFilters,
        read_roles=STAFF,
        write_roles=STAFF,
    ),
    router,
)
router.include_router(lead_io_router)  # POST /lead-lists/{id}/import, GET /lead-lists/{id}/export
router.include_router(lead_jobs_router)  # POST /lead-lists/{id}/import-jobs, GET /lead-imports/{id}[/errors]
router.include_router(lead_recycle_router)  # POST /lead-lists/{id}/recycle


class LeadCreate(Input):
    list_id: int
    phone: PhoneIn
    region: Region = None
    first_name: Annotated[str, Field(max_length=64)] = ""
    last_name: Annotated[str, Field(max_length=64)] = ""
    email: Annotated[str | None, Field(max_length=255)] = None
    company: Annotated[str | None, Field(max_length=128)] = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    priority: int = 0
    status: LeadStatus = LeadStatus.NEW
    external_id: Annotated[str | None, Field(max_length=64)] = None
    custom: dict[str, Any] = {}


class LeadRead(Output):
    id: int
    list_id: int
    phone: str
    first_name: str
    last_name: str
    email: str | None
    company: str | None
    timezone: str | None
    priority: int
    status: LeadStatus
    attempts: int
    last_outcome: str | None
    last_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    callback_agent_id: int | None
    external_id: str | None
    custom: dict[str, Any]
    created_at: dt.datetime


class LeadFilters(BaseModel):
    list_id: int | None = None
    status: LeadStatus | None = None
    phone: str | None = None
    external_id: str | None = None
    filter: Annotated[str | None, Field(max_length=2000, description=LEAD_FILTER_HELP)] = None


crud_router(
    Resource(
        path="leads",
        entity="lead",
        model=Lead,
        read=LeadRead,
        create=LeadCreate,
        update=partial(LeadCreate),
        filters=LeadFilters,
        filter_clauses={"phone": phone_filter(Lead.phone), "filter": lead_filter_clause},
        read_roles=STAFF,
        write_roles=STAFF,
        apply=with_phone,
        after_write=emit_on({"create": "lead.created", "update": "lead.updated"}, lead_of),
    ),
    router,
)

# ---- dispositions ---------------------------------------------------------------------------------------


class DispositionCreate(Input):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    label: Name
    campaign_id: int | None = None
    is_success: bool = False
    is_final: bool = True
    schedules_callback: bool = False
    marks_dnc: bool = False
    resolves_contact: bool = True


class DispositionRead(DispositionCreate, Output):
    id: int


class DispositionFilters(BaseModel):
    campaign_id: int | None = None
    code: str | None = None


crud_router(
    Resource(
        path="dispositions",
        entity="disposition",
        model=Disposition,
        read=DispositionRead,
        create=DispositionCreate,
        update=partial(DispositionCreate),
        filters=DispositionFilters,
        read_roles=ALL_ROLES,
        write_roles=STAFF,
    ),
    router,
)

# ---- do-not-call and consent ----------------------------------------------------------------------------


class DncCreate(Input):
    phone: PhoneIn
    region: Region = None
    source: Annotated[str, Field(max_length=32)] = "internal"
    reason: Annotated[str, Field(max_length=255)] = ""
    expires_at: dt.datetime | None = None


class DncRead(Output):
    id: int
    phone: str
    source: str
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


class DncFilters(BaseModel):
    phone: str | None = None
    source: str | None = None


class DncCheck(BaseModel):
    phone: str
    listed: bool
    entry: DncRead | None


DNC = Resource(
    path="dnc",
    entity="dnc_entry",
    model=DncEntry,
    read=DncRead,
    create=DncCreate,
    update=partial(DncCreate),
    filters=DncFilters,
    filter_clauses={"phone": phone_filter(DncEntry.phone)},
    read_roles=STAFF,
    write_roles=STAFF,
    apply=with_phone,
    after_write=emit_on({"create": "dnc.added", "delete": "dnc.removed"}, uncorrelated),
)


@router.get("/dnc/check", response_model=DncCheck, tags=["dnc"])
def check_dnc(
    phone: Annotated[str, Query(min_length=2, max_length=32)],
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    region: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> Any:
    """Is this number on the do-not-call list now (an expired entry does not count)?"""
    DNC.check_role(principal, write=False)
    number = to_e164(phone, region=region, loc=("query", "phone"))
    now = clock(request.app.state)
    entry = session.scalar(
        select(DncEntry).where(
            DncEntry.phone == number, or_(DncEntry.expires_at.is_(None), DncEntry.expires_at > now)
        )
    )
    return DncCheck(
        phone=number, listed=entry is not None, entry=DncRead.model_validate(entry) if entry else None
    )


crud_router(DNC, router)  # after /dnc/check, so "check" is not taken for an id


class ConsentCreate(Input):
    phone: PhoneIn
    region: Region = None
    lead_id: int | None = None
    purpose: Annotated[str, Field(max_length=64)] = "marketing"
    channel: Annotated[str, Field(max_length=16)] = "call"
    granted: bool = True
    source: Annotated[str, Field(max_length=128)] = ""
    evidence: str = ""
    expires_at: dt.datetime | None = None


class ConsentRead(Output):
    id: int
    phone: str
    lead_id: int | None
    purpose: str
    channel: str
    granted: bool
    source: str
    evidence: str
    recorded_at: dt.datetime
    expires_at: dt.datetime | None


class ConsentFilters(BaseModel):
    phone: str | None = None
    lead_id: int | None = None
    purpose: str | None = None
    granted: bool | None = None


crud_router(
    Resource(
        path="consent",
        entity="consent_record",
        model=ConsentRecord,
        read=ConsentRead,
        create=ConsentCreate,
        update=partial(ConsentCreate),
        filters=ConsentFilters,
        filter_clauses={"phone": phone_filter(ConsentRecord.phone)},
        read_roles=STAFF,
        write_roles=STAFF,
        apply=with_phone,
        after_write=emit_on({"create": "consent.recorded", "update": "consent.recorded"}, lead_of),
    ),
    router,
)
