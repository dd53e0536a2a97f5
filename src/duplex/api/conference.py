"""Three-way conference: ``POST /calls/{call_id}/conference`` joins the agent's consultation call into the
customer's call ``call_id`` (`duplex.services.calls.conference`: the consulted party's leg moves in, the three
legs are mixed, each party hears the other two); ``GET`` shows it while it lasts.

Who may ask: the agent on the call (their phone's leg must be on both calls, else 403), or a supervisor of the
call's teams or an admin (the one agent the two calls have in common). What cannot work is a 409 with the
reason: a call that is not live, a consultation that is not this agent's or not connected, a monitored call,
media in rtpengine (the mixer needs the audio in this process), a call that is a conference already.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from anyio import from_thread
from fastapi import APIRouter, HTTPException, Request
from pydantic import Field

from duplex.api.audit import AUDITED_ROLES, audit
from duplex.api.calls import CALLS
from duplex.api.crud import STAFF, Ctx
from duplex.api.db import DbSession, forbidden, not_found
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output
from duplex.auth.deps import CurrentPrincipal, Principal
from duplex.db.models import Call, Role
from duplex.services.calls.conference import Conference, ConferenceRefused, Conferences

router = APIRouter(route_class=DuplexRoute)


class ConferenceStart(Input):
    consultation: Annotated[str, Field(min_length=1, max_length=255)] = Field(
        description="The agent's consultation call: its id, or the SIP Call-ID of the agent's dialog on it "
        "(what a softphone that placed the call knows)."
    )


class ConferenceRead(Output):
    call_id: str
    from_call_id: str  # the consultation call the consulted party came from
    state: Literal["active", "ended"]
    customer_leg_id: str
    agent_leg_id: str
    joined_leg_id: str  # the consulted party's leg, now on this call
    end_reason: str | None  # agent_left, party_left, call_ended
    by_user_id: int | None


def _read(conference: Conference) -> ConferenceRead:
    return ConferenceRead(call_id=conference.call.id, from_call_id=conference.from_call_id,
                          state=conference.state, customer_leg_id=conference.customer.id,
                          agent_leg_id=conference.agent.id, joined_leg_id=conference.joined.id,
                          end_reason=conference.end_reason, by_user_id=conference.by_user_id)  # fmt: skip


def _checked(call_id: str, request: Request, principal: Principal, session: Any) -> Conferences:
    """403 for a user who is neither an agent nor staff, 404 for a call they may not read, 409 when the call
    is over or no SIP engine runs here."""
    if principal.role in STAFF:
        row = CALLS.load(Ctx(session=session, request=request, principal=principal), call_id)
    elif principal.role is Role.AGENT and principal.agent_id is not None:
        # an agent's own call, checked on the live call (their leg on it), not the row: an internal call's
        # row names the calling agent
        row = session.get(Call, call_id)
        if row is None:
            raise not_found("call", call_id)
    else:
        raise forbidden("only the agent on the call or a supervisor makes a conference")
    conferences: Conferences | None = getattr(request.app.state, "conferences", None)
    if row.ended_at is not None or conferences is None:
        raise HTTPException(409, "the call is not live")
    return conferences


@router.post("/calls/{call_id}/conference", response_model=ConferenceRead, status_code=201, tags=["calls"])
def start_conference(call_id: str, body: ConferenceStart, request: Request, principal: CurrentPrincipal,
                     session: DbSession) -> Any:  # fmt: skip
    """Join the agent's consultation into the customer's call: all three hear each other. The agent's phone
    then takes the customer off hold (the desktop does it)."""
    conferences = _checked(call_id, request, principal, session)
    agent_id = principal.agent_id if principal.role is Role.AGENT else None
    start = functools.partial(conferences.start, call_id, body.consultation, agent_id=agent_id,
                              user_id=principal.user_id)  # fmt: skip
    try:
        conference = from_thread.run(start)
    except ConferenceRefused as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if principal.role in AUDITED_ROLES:
        audit(session, request, principal, "call.conference", target_type="call", target_id=call_id,
              detail={"from_call_id": conference.from_call_id})  # fmt: skip
    return _read(conference)


@router.get("/calls/{call_id}/conference", response_model=ConferenceRead, tags=["calls"])
def get_conference(call_id: str, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    """The call's conference while it lasts (404 once it went back to a call of two)."""
    conferences = _checked(call_id, request, principal, session)
    try:
        return _read(from_thread.run_sync(conferences.get, call_id))
    except ConferenceRefused as exc:
        raise HTTPException(exc.status, str(exc)) from exc
