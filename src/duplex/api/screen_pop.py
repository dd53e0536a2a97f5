"""The agent's screen pop of a call, its notes, and turning its caller into a lead.

GET  /calls/{id}/screen-pop  the caller's contacts and leads (by E.164), their previous calls, this call's IVR
                             path and inputs, the time it waited in queues, the number dialled and its
                             tracking source, the notes written on it; for a call that was placed (by a
                             campaign, or from an agent's phone) the same of its callee;
GET  /calls/{id}/notes       the notes (`call.note_added` events);
POST /calls/{id}/notes       write one;
POST /calls/{id}/lead        create a lead with the caller's number in a chosen list.

Everything comes from the event record and the tables the projections keep, never from what a phone was told
in SIP headers. An agent may use these on calls that were offered to them or that they handled (else 404, as
if the call did not exist); supervisors on the calls of their teams; admins on any.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import exists, or_, select, union
from sqlalchemy.orm import Session

from duplex.api.audit import record_write
from duplex.api.contacts import ContactRead, LeadCard, contacts_by_phone, lead_cards_by_phone
from duplex.api.db import DbSession, field_error, flush, not_found
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input
from duplex.api.scopes import own_calls
from duplex.auth.deps import CurrentPrincipal, Principal, clock
from duplex.crm import CallStory, call_story, match_keys, normalise
from duplex.crm.phones import region_of
from duplex.db.models import (
    Agent,
    Call,
    CallLeg,
    Campaign,
    Disposition,
    Event,
    IvrFlow,
    Lead,
    LeadList,
    PhoneNumber,
    Queue,
    Role,
    User,
)
from duplex.events.record import envelope_of
from duplex.events.types import EventEnvelope

__all__ = ["router"]

router = APIRouter(route_class=DuplexRoute)
HISTORY_LIMIT = 20


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """A time read back from SQLite has no zone; every stored time is UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


class NoteRead(BaseModel):
    call_id: str
    text: str
    at: dt.datetime
    agent_id: int | None
    by_user_id: int | None
    by_name: str | None


class IvrStepRead(BaseModel):
    flow_id: int
    flow_name: str | None
    node: str
    node_type: str
    at: dt.datetime


class IvrInputRead(BaseModel):
    node: str
    node_type: str | None  # input (digits), lookup, set, csat, ...
    variable: str
    value: str | int | float | bool | None  # a sensitive input's is the mask "••••"
    sensitive: bool = False  # a secret the caller keyed (a PIN, a card number): only its mask is shown
    at: dt.datetime


class KeyPressRead(BaseModel):
    digit: str
    node: str | None
    at: dt.datetime


class IvrRead(BaseModel):
    path: list[IvrStepRead]
    inputs: list[IvrInputRead]
    key_presses: list[KeyPressRead]
    exit: str | None = Field(
        description="Where the flow sent the call: queue, transfer, voicemail, hangup..."
    )


class QueueWaitRead(BaseModel):
    queue_id: int | None
    queue_name: str | None
    entered_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None = Field(description="answered, abandoned, overflow, timeout, callback; null: waiting")
    agent_id: int | None
    waited_ms: int


class CallerRead(BaseModel):
    """The other party of the call: its caller, or its callee when Duplex or an agent's phone placed it."""

    number: str = Field(description="Their number as it came (the SIP From user, or the number dialled).")
    e164: str | None = Field(description="That number in E.164, null when it is no phone number.")
    callee: bool = Field(description="True: they were called (by a campaign, or from an agent's phone).")


class PoppedCall(BaseModel):
    id: str
    direction: str
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    to_number: str = Field(description="The number dialled.")
    number_description: str | None = Field(description="That number's description (our numbers only).")
    tracking_source: str | None = Field(description="The marketing channel of the number dialled.")
    queue_id: int | None
    queue_name: str | None
    agent_id: int | None


class HistoryCall(BaseModel):
    id: str
    direction: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    to_number: str
    tracking_source: str | None
    queue_id: int | None
    queue_name: str | None
    campaign_id: int | None
    campaign_name: str | None
    agent_id: int | None
    agent_name: str | None
    disposition_code: str | None
    disposition_label: str | None
    disposition_notes: str
    talk_seconds: int | None
    notes: list[NoteRead]


class LeadListChoice(BaseModel):
    id: int
    name: str


class ScreenPop(BaseModel):
    call: PoppedCall
    caller: CallerRead
    contacts: list[ContactRead]
    leads: list[LeadCard]
    history: list[HistoryCall]
    ivr: IvrRead
    waited_ms: int = Field(description="Time in queues, queue.entered -> agent.accepted / queue.left.")
    queue_waits: list[QueueWaitRead]
    notes: list[NoteRead]
    lead_lists: list[LeadListChoice] = Field(description="Active lead lists a lead can be created in.")


# ---- access and reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoppedContext:
    call: Call
    story: CallStory
    caller_raw: str
    caller_e164: str | None
    callee: bool  # the party is the one called (`CallerRead.callee`)


def _events_of(session: Session, call_ids: Iterable[str], types: tuple[str, ...] = ()) -> list[Event]:
    """The events of these calls in record order (only of `types`, if given)."""
    ids = sorted(set(call_ids))
    if not ids:
        return []
    stmt = select(Event).where(Event.call_id.in_(ids))
    if types:
        stmt = stmt.where(Event.type.in_(types))
    return list(session.scalars(stmt.order_by(Event.id)))


def _agent_handled(session: Session, call_id: str, agent_id: int) -> bool:
    """Whether the call was offered to, rang or reached this agent (its row, a leg or an ACD event)."""
    leg = exists().where(CallLeg.call_id == call_id, CallLeg.agent_id == agent_id)
    offered = exists().where(Event.call_id == call_id, Event.agent_id == agent_id,
                             Event.type.in_(("agent.offered", "agent.accepted", "call.bridged")))  # fmt: skip
    return bool(session.scalar(select(or_(leg, offered))))


def load_popped_call(session: Session, principal: Principal, call_id: str, now: dt.datetime) -> PoppedContext:
    call = session.get(Call, call_id)
    if call is None:
        raise not_found("call", call_id)
    if principal.role is Role.AGENT:
        mine = principal.agent_id is not None and (
            call.agent_id == principal.agent_id or _agent_handled(session, call_id, principal.agent_id)
        )
        if not mine:
            raise not_found("call", call_id)  # another agent's call is not theirs to see
    elif session.scalar(own_calls(principal, select(Call.id).where(Call.id == call_id))) is None:
        raise not_found("call", call_id)
    envelopes = [envelope_of(e) for e in _events_of(session, [call_id])]
    story = call_story(envelopes, int(now.timestamp() * 1000))
    callee = call.direction == "outbound" or _placed_by_agent(envelopes)
    raw = call.to_number if callee else call.from_number
    called = normalise(call.to_number) if not callee else None
    e164 = normalise(raw, region_of(called) if called else None)
    return PoppedContext(call=call, story=story, caller_raw=raw, caller_e164=e164, callee=callee)


def _placed_by_agent(envelopes: Iterable[EventEnvelope]) -> bool:
    """Whether an agent's phone placed the call (its first leg is the agent's, INVITEd by the phone)."""
    return any(e.type == "leg.created" and e.data.get("kind") == "agent" and e.data.get("direction") == "inbound"
               for e in envelopes)  # fmt: skip


def _names(session: Session, model: type[Any], ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {row.id: row.name for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def _agent_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(Agent.id, Agent.extension, User.full_name, User.username)
        .join(User, Agent.user_id == User.id).where(Agent.id.in_(wanted))
    ).all()  # fmt: skip
    return {r.id: f"{r.full_name or r.username} ({r.extension})" for r in rows}


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.full_name, User.username).where(User.id.in_(wanted))).all()
    return {r.id: r.full_name or r.username for r in rows}


def _notes(session: Session, events: Iterable[Event | EventEnvelope]) -> dict[str, list[NoteRead]]:
    """Notes by call id, oldest first."""
    notes = [e for e in events if e.type == "call.note_added"]
    users = _user_names(session, (e.data.get("by_user_id") for e in notes))
    by_call: dict[str, list[NoteRead]] = {}
    for e in notes:
        by = e.data.get("by_user_id")
        by_call.setdefault(str(e.call_id), []).append(NoteRead(
            call_id=str(e.call_id), text=str(e.data.get("text", "")), at=_at(e.ts_ms),
            agent_id=e.agent_id, by_user_id=by, by_name=users.get(by) if isinstance(by, int) else None))  # fmt: skip
    return by_call


def _previous_calls(session: Session, ctx: PoppedContext, lead_ids: list[int]) -> list[Call]:
    """The caller's other calls, newest first: inbound calls from any spelling of the number, outbound calls
    to it, calls to the leads it matches. A caller whose number is no phone number ("anonymous") has none.

    Each branch is its own indexed lookup: one OR with ORDER BY started_at LIMIT let SQLite (with table
    statistics) scan the calls table instead (bench/screen_pop.py)."""
    branches: list[Any] = []  # selects of (id, started_at)
    if ctx.caller_e164 is not None:
        keys = sorted(match_keys(ctx.caller_raw, ctx.caller_e164))
        branches.append(
            select(Call.id, Call.started_at).where(Call.from_number.in_(keys), Call.direction != "outbound")
        )
        branches.append(  # placed by a campaign, or from an agent's phone
            select(Call.id, Call.started_at).where(
                Call.to_number.in_(keys), Call.direction.in_(("outbound", "internal"))
            )
        )
    if lead_ids:
        branches.append(select(Call.id, Call.started_at).where(Call.lead_id.in_(lead_ids)))
    if not branches:
        return []
    found = {row.id: row.started_at for row in session.execute(union(*branches)) if row.id != ctx.call.id}
    newest = sorted(found, key=lambda call_id: (found[call_id], call_id), reverse=True)[:HISTORY_LIMIT]
    rows = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(newest)))}
    return [rows[call_id] for call_id in newest if call_id in rows]


def _history(session: Session, ctx: PoppedContext, lead_ids: list[int]) -> list[HistoryCall]:
    """The previous calls as the pop shows them: names instead of ids, outcome, talk time, notes."""
    calls = _previous_calls(session, ctx, lead_ids)
    queues = _names(session, Queue, (c.queue_id for c in calls))
    campaigns = _names(session, Campaign, (c.campaign_id for c in calls))
    agents = _agent_names(session, (c.agent_id for c in calls))
    wanted = sorted({c.disposition_id for c in calls if c.disposition_id is not None})
    dispositions = {d.id: d for d in session.scalars(select(Disposition).where(Disposition.id.in_(wanted)))}
    notes = _notes(session, _events_of(session, (c.id for c in calls), ("call.note_added",)))
    history = []
    for c in calls:
        disposition = dispositions.get(c.disposition_id) if c.disposition_id is not None else None
        answered = c.agent_answered_at or c.answered_at
        talked_from = _aware(answered) if answered else None
        ended = _aware(c.ended_at) if c.ended_at else None
        talk = int((ended - talked_from).total_seconds()) if ended and talked_from else None
        history.append(HistoryCall(
            id=c.id, direction=c.direction, started_at=_aware(c.started_at), ended_at=ended, end_reason=c.end_reason,
            to_number=c.to_number, tracking_source=c.tracking_source, queue_id=c.queue_id,
            queue_name=queues.get(c.queue_id) if c.queue_id else None, campaign_id=c.campaign_id,
            campaign_name=campaigns.get(c.campaign_id) if c.campaign_id else None, agent_id=c.agent_id,
            agent_name=agents.get(c.agent_id) if c.agent_id else None,
            disposition_code=disposition.code if disposition else None,
            disposition_label=disposition.label if disposition else None,
            disposition_notes=c.disposition_notes or "", talk_seconds=talk, notes=notes.get(c.id, [])))  # fmt: skip
    return history


def _ivr(session: Session, story: CallStory) -> IvrRead:
    flows = _names(session, IvrFlow, (s.flow_id for s in story.ivr_path))
    return IvrRead(
        path=[IvrStepRead(flow_id=s.flow_id, flow_name=flows.get(s.flow_id), node=s.node, node_type=s.node_type,
                          at=_at(s.at_ms)) for s in story.ivr_path],
        inputs=[IvrInputRead(node=i.node, node_type=i.node_type, variable=i.variable, value=i.value,
                             sensitive=i.sensitive, at=_at(i.at_ms)) for i in story.ivr_inputs],
        key_presses=[KeyPressRead(digit=k.digit, node=k.node, at=_at(k.at_ms)) for k in story.key_presses],
        exit=story.ivr_exit,
    )  # fmt: skip


@router.get("/calls/{call_id}/screen-pop", response_model=ScreenPop, tags=["calls"])
def screen_pop(call_id: str, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    """What the agent taking this call needs to know about it and its caller."""
    ctx = load_popped_call(session, principal, call_id, clock(request.app.state))
    call, story = ctx.call, ctx.story
    contacts = contacts_by_phone(session, ctx.caller_e164) if ctx.caller_e164 else []
    leads = lead_cards_by_phone(session, ctx.caller_e164) if ctx.caller_e164 else []
    number = session.get(PhoneNumber, call.phone_number_id) if call.phone_number_id is not None else None
    queues = _names(session, Queue, [call.queue_id, *(w.queue_id for w in story.queue_waits)])
    users = _user_names(session, (n.by_user_id for n in story.notes))
    lists = session.execute(
        select(LeadList.id, LeadList.name).where(LeadList.active).order_by(LeadList.name)
    ).all()
    return ScreenPop(
        call=PoppedCall(id=call.id, direction=call.direction, state=call.state, started_at=_aware(call.started_at),
                        ended_at=_aware(call.ended_at) if call.ended_at else None, to_number=call.to_number,
                        number_description=number.description if number else None,
                        tracking_source=call.tracking_source, queue_id=call.queue_id,
                        queue_name=queues.get(call.queue_id) if call.queue_id else None, agent_id=call.agent_id),
        caller=CallerRead(number=ctx.caller_raw, e164=ctx.caller_e164, callee=ctx.callee),
        contacts=[ContactRead.model_validate(c) for c in contacts],
        leads=leads,
        history=_history(session, ctx, [lead.id for lead in leads]),
        ivr=_ivr(session, story),
        waited_ms=story.waited_ms,
        queue_waits=[QueueWaitRead(queue_id=w.queue_id, queue_name=queues.get(w.queue_id) if w.queue_id else None,
                                   entered_at=_at(w.entered_ms), outcome=w.outcome, agent_id=w.agent_id,
                                   ended_at=_at(w.ended_ms) if w.ended_ms is not None else None,
                                   waited_ms=w.waited_ms)
                     for w in story.queue_waits],
        notes=[NoteRead(call_id=call.id, text=n.text, at=_at(n.at_ms), agent_id=n.agent_id,
                        by_user_id=n.by_user_id, by_name=users.get(n.by_user_id) if n.by_user_id else None)
               for n in story.notes],
        lead_lists=[LeadListChoice(id=r.id, name=r.name) for r in lists],
    )  # fmt: skip


# ---- notes ------------------------------------------------------------------------------------------------


class NoteCreate(Input):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


@router.get("/calls/{call_id}/notes", response_model=list[NoteRead], tags=["calls"])
def call_notes(call_id: str, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    ctx = load_popped_call(session, principal, call_id, clock(request.app.state))
    return _notes(session, _events_of(session, [ctx.call.id])).get(ctx.call.id, [])


@router.post("/calls/{call_id}/notes", response_model=NoteRead, status_code=201, tags=["calls"])
def add_call_note(call_id: str, body: NoteCreate, request: Request, principal: CurrentPrincipal,
                  session: DbSession) -> Any:  # fmt: skip
    """A note on the call, kept in the event record (`call.note_added`) and shown in the caller's history."""
    ctx = load_popped_call(session, principal, call_id, clock(request.app.state))
    text = body.text.strip()
    if not text:
        raise field_error(("body", "text"), "the note is empty", body.text)
    saved = request.app.state.record.append(
        session, "call.note_added", call_id=ctx.call.id, agent_id=principal.agent_id, queue_id=ctx.call.queue_id,
        campaign_id=ctx.call.campaign_id, lead_id=ctx.call.lead_id,
        data={"text": text, "by_user_id": principal.user_id})  # fmt: skip
    return _notes(session, [saved])[ctx.call.id][0]


# ---- a lead from the caller -------------------------------------------------------------------------------


class CallLeadCreate(Input):
    list_id: int
    first_name: Annotated[str, Field(max_length=64)] = ""
    last_name: Annotated[str, Field(max_length=64)] = ""
    email: Annotated[str | None, Field(max_length=255)] = None
    company: Annotated[str | None, Field(max_length=128)] = None
    custom: dict[str, Any] = Field(default_factory=dict)


@router.post("/calls/{call_id}/lead", response_model=LeadCard, status_code=201, tags=["calls"])
def lead_from_call(call_id: str, body: CallLeadCreate, request: Request, principal: CurrentPrincipal,
                   session: DbSession) -> Any:  # fmt: skip
    """A lead with the caller's number (E.164) in an active list; 409 if the list already has it."""
    ctx = load_popped_call(session, principal, call_id, clock(request.app.state))
    if ctx.caller_e164 is None:
        raise field_error(
            ("path", "call_id"), f"the caller's number {ctx.caller_raw!r} is no phone number", call_id
        )
    lead_list = session.get(LeadList, body.list_id)
    if lead_list is None or not lead_list.active:
        raise field_error(("body", "list_id"), f"no active lead list {body.list_id}", body.list_id)
    lead = Lead(list_id=lead_list.id, phone=ctx.caller_e164, **body.model_dump(exclude={"list_id"}))
    session.add(lead)
    flush(session)
    request.app.state.record.append(session, "lead.created", call_id=ctx.call.id, lead_id=lead.id,
                                    campaign_id=lead_list.campaign_id,
                                    data={"action": "create", "id": lead.id, "phone": lead.phone})  # fmt: skip
    record_write(session, request, principal, entity="lead", ident=lead.id, action="create",
                 detail={"call_id": ctx.call.id})  # fmt: skip
    return LeadCard.model_validate({**{k: getattr(lead, k) for k in LeadCard.model_fields if k != "list_name"},
                                    "list_name": lead_list.name, "status": lead.status.value})  # fmt: skip
