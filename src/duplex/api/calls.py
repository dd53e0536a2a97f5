"""Calls (read-only, with legs; dispositions), recordings (searched by their calls; every access audited) and
the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from anyio import from_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, or_, select

from duplex.api.audit import AUDITED_ROLES, audit
from duplex.api.call_scripts import campaign_of_lead
from duplex.api.crud import ADMIN_ONLY, ALL_ROLES, Ctx, Resource, crud_router
from duplex.api.db import DbSession, field_error, not_found
from duplex.api.lead_desk import CallbackIn, schedule_callback
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output
from duplex.api.scopes import own_calls, own_recordings
from duplex.auth.deps import CurrentPrincipal
from duplex.db.models import AuditLog, Call, Disposition, DncEntry, Lead, Recording, Role

router = APIRouter(route_class=DuplexRoute)

# ---- calls ----------------------------------------------------------------------------------------------


class CallLegRead(Output):
    id: str
    kind: str
    sip_call_id: str
    remote_uri: str
    agent_id: int | None
    trunk_id: int | None
    codec: str | None
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str | None
    sip_status: int | None
    packets_lost: int | None
    jitter_ms: float | None
    mos: float | None


class CallRead(Output):
    id: str
    direction: str
    state: str
    from_number: str
    to_number: str
    phone_number_id: int | None
    tracking_source: str | None
    queue_id: int | None
    agent_id: int | None
    campaign_id: int | None
    lead_id: int | None
    trunk_id: int | None
    started_at: dt.datetime
    queued_at: dt.datetime | None
    answered_at: dt.datetime | None
    agent_answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str | None
    outcome: str | None
    disposition_id: int | None
    disposition_notes: str
    revenue: float | None
    transfers: int
    csat: int | None
    data: dict[str, Any]
    legs: list[CallLegRead]


class CallFilters(BaseModel):
    direction: str | None = None
    state: str | None = None
    queue_id: int | None = None
    agent_id: int | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    since: dt.datetime | None = Field(None, description="Calls started at or after this time.")
    until: dt.datetime | None = Field(None, description="Calls started before this time.")


CALLS = Resource(
    path="calls",
    entity="call",
    model=Call,
    read=CallRead,
    filters=CallFilters,
    filter_clauses={"since": lambda v: Call.started_at >= v, "until": lambda v: Call.started_at < v},
    read_roles=ALL_ROLES,
    scope=own_calls,
    id_type=str,
)
crud_router(CALLS, router)


class DispositionSet(Input):
    disposition_id: int
    notes: Annotated[str, Field(max_length=4000)] = ""
    revenue: Annotated[float | None, Field(ge=0)] = None
    callback: CallbackIn | None = Field(
        None, description="Required by a disposition that schedules a callback."
    )


@router.post("/calls/{call_id}/disposition", response_model=CallRead, tags=["calls"])
def set_disposition(
    call_id: str, body: DispositionSet, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Any:
    """Set the outcome of a call (agents: only on their own calls)."""
    call = CALLS.load(Ctx(session=session, request=request, principal=principal), call_id)
    disposition = session.get(Disposition, body.disposition_id)
    if disposition is None:
        raise field_error(("body", "disposition_id"), f"disposition {body.disposition_id} does not exist")
    if disposition.campaign_id is not None and disposition.campaign_id != call.campaign_id:
        raise field_error(("body", "disposition_id"), "this disposition belongs to another campaign")
    if disposition.schedules_callback and body.callback is None:
        raise field_error(("body", "callback"), f"{disposition.label!r} schedules a callback: give its time")
    call.disposition_id, call.disposition_notes, call.revenue = disposition.id, body.notes, body.revenue
    request.app.state.record.append(
        session,
        "disposition.set",
        call_id=call.id,
        agent_id=call.agent_id,
        campaign_id=call.campaign_id,
        lead_id=call.lead_id,
        queue_id=call.queue_id,
        data={
            "disposition_id": disposition.id,
            "code": disposition.code,
            "notes": body.notes,
            "revenue": body.revenue,
            "by_user_id": principal.user_id,
        },
    )
    if disposition.marks_dnc:
        _opt_out(session, request, call)
    if body.callback is not None:
        lead = session.get(Lead, call.lead_id) if call.lead_id is not None else None
        if lead is None:
            raise field_error(("body", "callback"), "only a call to a lead can be called back")
        schedule_callback(session, request, principal, lead, campaign_of_lead(session, lead), body.callback,
                          call_id=call.id, loc=("body", "callback"))  # fmt: skip
    if principal.role in AUDITED_ROLES:
        audit(session, request, principal, "call.disposition", target_type="call", target_id=call.id)
    return call


def _opt_out(session: Any, request: Request, call: Call) -> None:
    """An opt-out disposition puts the callee on the internal DNC list at once, running campaigns included."""
    phone = call.to_number if call.direction == "outbound" else call.from_number
    if session.scalar(select(DncEntry.id).where(DncEntry.phone == phone)) is None:
        entry = DncEntry(phone=phone, source="internal", reason=f"opt-out disposition on call {call.id}")
        session.add(entry)
        session.flush()
        request.app.state.record.append(session, "dnc.added", call_id=call.id, campaign_id=call.campaign_id,
                                        lead_id=call.lead_id,
                                        data={"phone": phone, "id": entry.id, "source": "disposition"})  # fmt: skip
    campaigns = getattr(request.app.state, "campaigns", None)
    if campaigns is not None:
        campaigns.dnc_added(phone)


# ---- recordings -----------------------------------------------------------------------------------------


class RecordingCall(Output):
    """What a recordings search shows of the recorded call."""

    direction: str
    from_number: str
    to_number: str
    agent_id: int | None
    queue_id: int | None
    campaign_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    disposition_id: int | None


class RecordingRead(Output):
    id: int
    call_id: str
    leg_id: str | None
    path: str
    format: str
    channels: int
    duration_ms: int
    size_bytes: int
    created_at: dt.datetime
    call: RecordingCall


class RecordingFilters(BaseModel):
    call_id: str | None = None
    since: dt.datetime | None = Field(None, description="Calls started at or after this time.")
    until: dt.datetime | None = Field(None, description="Calls started before this time.")
    agent_id: int | None = Field(None, description="The call's agent.")
    queue_id: int | None = None
    campaign_id: int | None = None
    disposition_id: int | None = None
    number: str | None = Field(
        None, min_length=1, max_length=64, description="Part of the caller's or called number."
    )
    min_duration_s: float | None = Field(None, ge=0, le=86_400, description="Recordings at least this long.")


# Filters on the recorded call, by field: all of them go into one subquery on calls (one IN, not one per filter).
CALL_CONDITIONS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "since": lambda v: Call.started_at >= v,
    "until": lambda v: Call.started_at < v,
    "agent_id": lambda v: Call.agent_id == v,
    "queue_id": lambda v: Call.queue_id == v,
    "campaign_id": lambda v: Call.campaign_id == v,
    "disposition_id": lambda v: Call.disposition_id == v,
    "number": lambda v: or_(Call.from_number.contains(v.strip(), autoescape=True),
                            Call.to_number.contains(v.strip(), autoescape=True)),
}  # fmt: skip


def recording_search(stmt: Select[Any], given: dict[str, Any]) -> Select[Any]:
    on_call = [CALL_CONDITIONS[name](value) for name, value in given.items() if name in CALL_CONDITIONS]
    if on_call:
        stmt = stmt.where(Recording.call_id.in_(select(Call.id).where(*on_call)))
    if "call_id" in given:
        stmt = stmt.where(Recording.call_id == given["call_id"])
    if "min_duration_s" in given:
        stmt = stmt.where(Recording.duration_ms >= round(given["min_duration_s"] * 1000))
    return stmt


def recording_accessed(ctx: Ctx, row: Any, how: str = "metadata") -> None:
    """Every access to a recording leaves an audit row and a `recording.accessed` event."""
    audit(ctx.session, ctx.request, ctx.principal, "recording.read", target_type="recording", target_id=row.id,
          detail={"how": how, "call_id": row.call_id})  # fmt: skip
    ctx.request.app.state.record.append(
        ctx.session,
        "recording.accessed",
        call_id=row.call_id,
        data={"recording_id": row.id, "how": how, "user_id": ctx.principal.user_id},
    )


RECORDINGS = Resource(
    path="recordings",
    entity="recording",
    model=Recording,
    read=RecordingRead,
    filters=RecordingFilters,
    filter_stmt=recording_search,
    read_roles=ALL_ROLES,  # agents: the recordings of their own calls (own_recordings)
    scope=own_recordings,
    after_read=recording_accessed,
)
crud_router(RECORDINGS, router)

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg"}


@router.get("/recordings/{recording_id}/audio", tags=["recordings"], response_class=FileResponse)
def recording_audio(
    recording_id: int, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Any:
    """The audio file, streamed from <data_dir>/recordings."""
    RECORDINGS.check_role(principal, write=False)
    ctx = Ctx(session=session, request=request, principal=principal)
    row = RECORDINGS.load(ctx, recording_id)
    base = (Path(request.app.state.settings.data_dir) / "recordings").resolve()
    path = (base / row.path).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise not_found("recording file of", recording_id)
    recording_accessed(ctx, row, "audio")
    return FileResponse(
        path, media_type=MEDIA_TYPES.get(row.format, "application/octet-stream"), filename=path.name
    )


# ---- audit log ------------------------------------------------------------------------------------------


class AuditRead(Output):
    id: int
    at: dt.datetime
    user_id: int | None
    api_key_id: int | None
    action: str
    target_type: str
    target_id: str
    address: str
    detail: dict[str, Any]


class AuditFilters(BaseModel):
    user_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


crud_router(
    Resource(
        path="audit-log",
        entity="audit",
        model=AuditLog,
        read=AuditRead,
        filters=AuditFilters,
        filter_clauses={"since": lambda v: AuditLog.at >= v, "until": lambda v: AuditLog.at < v},
        read_roles=ADMIN_ONLY,
    ),
    router,
)


# ---- recording control of a live call -------------------------------------------------------------------


class RecordingControl(Input):
    action: Literal["start", "pause", "resume", "stop"]


class RecordingControlResult(Output):
    call_id: str
    action: str


def _agent_on_call(center: Any, call_id: str) -> int | None:
    flow = center.active.get(call_id)
    leg = flow.agent_leg if flow is not None else None
    return leg.agent_id if leg is not None else None


@router.post("/calls/{call_id}/recording", response_model=RecordingControlResult, tags=["recordings"])
def control_recording(call_id: str, body: RecordingControl, request: Request, principal: CurrentPrincipal,
                      session: DbSession) -> Any:  # fmt: skip
    """Start an on-demand recording, pause it while the caller reads out card details, resume, stop. The
    agent on the call may; supervisors and admins too."""
    center = getattr(request.app.state, "contact_center", None)
    if center is None:
        raise not_found("call", call_id)
    agent_id = from_thread.run_sync(_agent_on_call, center, call_id)
    if agent_id is None:
        raise not_found("call", call_id)
    if principal.role is Role.AGENT and principal.agent_id != agent_id:
        raise not_found("call", call_id)  # another agent's call is not theirs to see
    if not from_thread.run_sync(center.recording, call_id, body.action):
        raise HTTPException(409, f"cannot {body.action} the recording of this call now")
    if principal.role in AUDITED_ROLES:
        audit(session, request, principal, f"recording.{body.action}", target_type="call", target_id=call_id)
    return RecordingControlResult(call_id=call_id, action=body.action)
