"""Users, teams (+supervisors), skills, agents (+skills, +state)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any, Literal

from anyio import from_thread
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Select

from duplex.acd import AcdError
from duplex.api.audit import AUDITED_ROLES, audit
from duplex.api.crud import ALL_ROLES, STAFF, Ctx, Resource, add_link_routes, crud_router, set_attributes
from duplex.api.db import DbSession, forbidden
from duplex.api.lead_desk import require_disposition
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output, partial
from duplex.api.scopes import own_agents
from duplex.auth.deps import CurrentPrincipal, Principal
from duplex.auth.passwords import hash_password
from duplex.db.models import Agent, AgentSkill, Role, Skill, Team, TeamSupervisor, User

router = APIRouter(route_class=DuplexRoute)

Name = Annotated[str, Field(min_length=1, max_length=64)]
Description = Annotated[str, Field(max_length=255)]

# ---- users ----------------------------------------------------------------------------------------------


class UserCreate(Input):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, Field(min_length=8, max_length=1024)]
    role: Role
    full_name: Annotated[str, Field(max_length=128)] = ""
    email: Annotated[str | None, Field(max_length=255)] = None
    is_active: bool = True


class UserRead(Output):
    id: int
    username: str
    role: Role
    full_name: str
    email: str | None
    is_active: bool
    created_at: dt.datetime


class UserFilters(BaseModel):
    role: Role | None = None
    is_active: bool | None = None
    username: str | None = None


SELF_EDITABLE = frozenset({"full_name", "email", "password"})


def own_user_only(principal: Principal, stmt: Select[Any]) -> Select[Any]:
    return stmt if principal.is_admin else stmt.where(User.id == principal.user_id)


def check_user_write(ctx: Ctx, action: str, row: Any, data: dict[str, Any]) -> None:
    """Admins manage users; anybody may change their own name, e-mail and password."""
    if ctx.principal.is_admin:
        return
    if action != "update" or row.id != ctx.principal.user_id or not set(data) <= SELF_EDITABLE:
        raise forbidden("only admins manage users; you may change your own name, e-mail and password")


def apply_user(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    if "password" in data:
        data = dict(data)
        row.password_hash = hash_password(data.pop("password"))
    set_attributes(ctx, row, data)


USERS = Resource(
    path="users",
    entity="user",
    model=User,
    read=UserRead,
    create=UserCreate,
    update=partial(UserCreate),
    filters=UserFilters,
    write_roles=ALL_ROLES,
    scope=own_user_only,
    check_write=check_user_write,
    apply=apply_user,
)
crud_router(USERS, router)

# ---- teams and skills -----------------------------------------------------------------------------------


class TeamCreate(Input):
    name: Name
    description: Description = ""


class TeamRead(Output):
    id: int
    name: str
    description: str


class TeamSupervisorItem(Input, Output):
    user_id: int


TEAMS = Resource(
    path="teams", entity="team", model=Team, read=TeamRead, create=TeamCreate, update=partial(TeamCreate),
    read_roles=STAFF,
)  # fmt: skip
crud_router(TEAMS, router)
add_link_routes(
    router, TEAMS, name="supervisors", link_model=TeamSupervisor, parent_fk="team_id", item=TeamSupervisorItem
)


class SkillCreate(Input):
    name: Name
    description: Description = ""


class SkillRead(SkillCreate, Output):
    id: int


SKILLS = Resource(
    path="skills",
    entity="skill",
    model=Skill,
    read=SkillRead,
    create=SkillCreate,
    update=partial(SkillCreate),
)
crud_router(SKILLS, router)

# ---- agents ---------------------------------------------------------------------------------------------


class SkillLevel(Input, Output):
    skill_id: int
    proficiency: Annotated[int, Field(ge=0, le=100)] = 50


def unique_skills(levels: list[Any] | None) -> list[Any] | None:
    ids = [lv.skill_id for lv in levels or []]
    if len(ids) != len(set(ids)):
        raise ValueError("each skill may be listed once")
    return levels


class AgentCreate(Input):
    user_id: int
    team_id: int | None = None
    extension: Annotated[str, Field(min_length=2, max_length=16, pattern=r"^[0-9]+$")]
    sip_username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    sip_password: Annotated[str, Field(min_length=8, max_length=128, description="Write-only.")]
    max_concurrent_calls: Annotated[int, Field(ge=1, le=10)] = 1
    wrapup_seconds: Annotated[int, Field(ge=0, le=3600)] = 10
    skills: list[SkillLevel] = []

    @field_validator("skills")
    @classmethod
    def _unique(cls, value: list[SkillLevel]) -> list[SkillLevel]:
        unique_skills(value)
        return value


class AgentRead(Output):
    """No SIP password: it is write-only."""

    id: int
    user_id: int
    team_id: int | None
    extension: str
    sip_username: str
    max_concurrent_calls: int
    wrapup_seconds: int
    state: str
    created_at: dt.datetime
    skills: list[SkillLevel]


class AgentFilters(BaseModel):
    team_id: int | None = None
    state: str | None = None
    extension: str | None = None
    user_id: int | None = None


def supervises(principal: Principal, team_id: int | None) -> bool:
    return principal.is_admin or (principal.role is Role.SUPERVISOR and team_id in principal.team_ids)


def check_agent_write(ctx: Ctx, action: str, row: Any, data: dict[str, Any]) -> None:
    """Supervisors manage the agents of their own teams (and may not move one to another team)."""
    if row is not None and not supervises(ctx.principal, row.team_id):
        raise forbidden("this agent is not in one of your teams")
    if "team_id" in data and not supervises(ctx.principal, data["team_id"]):
        raise forbidden("you do not supervise that team")


def apply_agent(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    data = dict(data)
    if "skills" in data:
        row.skills = [
            AgentSkill(skill_id=s["skill_id"], proficiency=s["proficiency"]) for s in data.pop("skills")
        ]
    set_attributes(ctx, row, data)


AGENTS = Resource(
    path="agents",
    entity="agent",
    model=Agent,
    read=AgentRead,
    create=AgentCreate,
    update=partial(AgentCreate),
    filters=AgentFilters,
    write_roles=STAFF,
    scope=own_agents,
    check_write=check_agent_write,
    apply=apply_agent,
)
crud_router(AGENTS, router)

AgentStateName = Literal[
    "available", "aux", "logged_out", "break", "lunch", "meeting", "training", "wrap_up", "offline"
]  # fmt: skip
# Older names kept for clients: a break reason is aux with that reason, offline is logged out.
AUX_REASONS = frozenset({"break", "lunch", "meeting", "training"})


class AgentStateChange(Input):
    state: AgentStateName
    reason: Annotated[str, Field(max_length=64)] = ""


class AgentLiveState(Output):
    agent_id: int
    state: str
    reason: str
    seconds_in_state: float
    live: bool  # False: no contact center runs in this process; ``state`` is the last one recorded


def _check_agent_access(ctx: Ctx, agent_id: int) -> Any:
    agent = AGENTS.load(ctx, agent_id)  # an agent may only load their own row (own_agents)
    if ctx.principal.role is not Role.AGENT and not supervises(ctx.principal, agent.team_id):
        raise forbidden("this agent is not in one of your teams")
    return agent


@router.get("/agents/{agent_id}/state", response_model=AgentLiveState, tags=["agents"])
def get_agent_state(agent_id: int, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    """The agent's live state in the ACD and how long it has been in it."""
    agent = _check_agent_access(Ctx(session=session, request=request, principal=principal), agent_id)
    center = getattr(request.app.state, "contact_center", None)
    if center is None:
        return AgentLiveState(
            agent_id=agent.id, state=agent.state, reason="", seconds_in_state=0.0, live=False
        )
    state, seconds, reason = from_thread.run_sync(center.agent_state, agent.id)
    return AgentLiveState(
        agent_id=agent.id, state=state.value, reason=reason, seconds_in_state=seconds, live=True
    )


def _in_wrap_up(center: Any, agent_id: int) -> bool:
    try:
        return bool(from_thread.run_sync(center.agent_state, agent_id)[0].value == "wrap_up")
    except AcdError:  # an agent the ACD has not loaded: the change below answers for it
        return False


@router.post("/agents/{agent_id}/state", response_model=AgentRead, tags=["agents"])
def set_agent_state(
    agent_id: int, body: AgentStateChange, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Any:
    """Agents change their own state; supervisors those of their teams' agents; admins anyone's. With the
    contact center running, the change goes through its ACD (409 when the state machine forbids it, e.g. a
    break while on a call), which records ``agent.state_changed``."""
    ctx = Ctx(session=session, request=request, principal=principal)
    agent = _check_agent_access(ctx, agent_id)
    state, reason = body.state, body.reason
    center = getattr(request.app.state, "contact_center", None)
    if center is not None:
        if state in AUX_REASONS:
            state, reason = "aux", reason or state
        elif state == "offline":
            state = "logged_out"
        if state == "wrap_up":
            raise HTTPException(409, "wrap-up follows a call; it cannot be chosen")
        if state == "available" and _in_wrap_up(center, agent.id):
            require_disposition(session, agent.id)
        try:
            new = from_thread.run_sync(
                functools.partial(
                    center.set_state, agent.id, state, reason=reason, by_user_id=principal.user_id
                )
            )
        except AcdError as exc:  # a forbidden transition, or an agent the ACD has not loaded yet
            raise HTTPException(409, str(exc)) from exc
        agent.state = new.value
    else:
        if state == "available" and agent.state == "wrap_up":
            require_disposition(session, agent.id)
        previous, agent.state = agent.state, state
        request.app.state.record.append(
            session,
            "agent.state_changed",
            agent_id=agent.id,
            data={"from": previous, "to": state, "reason": reason, "by_user_id": principal.user_id},
        )
    if principal.role in AUDITED_ROLES:
        audit(session, request, principal, "agent.state", target_type="agent", target_id=agent.id)
    return agent
