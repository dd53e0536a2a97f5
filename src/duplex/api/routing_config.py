"""Inbound routing configuration: queues (+skills, +members), IVR flows (versioned), phone numbers, trunks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.acd.types import RoutingStrategy
from duplex.api.audit import record_write
from duplex.api.crud import (
    ADMIN_ONLY,
    ALL_ROLES,
    STAFF,
    Ctx,
    Resource,
    add_link_routes,
    crud_router,
    set_attributes,
)
from duplex.api.db import DbSession, field_error
from duplex.api.routing import DuplexRoute
from duplex.api.schemas import Input, Output, partial
from duplex.api.validation import definition_errors
from duplex.auth.deps import CurrentPrincipal
from duplex.db.models import IvrFlow, IvrFlowVersion, PhoneNumber, Queue, QueueMember, QueueSkill, Trunk
from duplex.ivr import FlowError, flow_schema, validate_flow
from duplex.telephony.trunks import check_allowed_entry, check_host

router = APIRouter(route_class=DuplexRoute)

Name = Annotated[str, Field(min_length=1, max_length=64)]
Description = Annotated[str, Field(max_length=255)]
Seconds = Annotated[int, Field(ge=0, le=86400)]

# ---- queues ---------------------------------------------------------------------------------------------


class QueueSkillLevel(Input, Output):
    skill_id: int
    min_proficiency: Annotated[int, Field(ge=0, le=100)] = 1


class QueueCreate(Input):
    name: Name
    description: Description = ""
    strategy: RoutingStrategy = RoutingStrategy.LONGEST_IDLE
    priority: int = 0
    service_level_seconds: Annotated[int, Field(gt=0, le=3600)] = 20
    max_wait_seconds: Seconds = 600
    max_size: Annotated[int, Field(ge=0, le=100000)] = 100
    wrapup_seconds: Seconds = 10
    overflow_queue_id: int | None = None
    escalate_after_seconds: Seconds | None = None
    announce_position: bool = True
    music_on_hold: Annotated[str, Field(max_length=255)] = ""
    team_id: int | None = None
    skills: list[QueueSkillLevel] = []
    ring_timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 15
    overflow_action: Literal["none", "queue", "voicemail", "callback"] = "none"
    voicemail_webhook: Annotated[str, Field(max_length=2000, pattern=r"^(https?://.*)?$")] = ""


class QueueRead(QueueCreate, Output):
    id: int
    created_at: dt.datetime


class QueueFilters(BaseModel):
    team_id: int | None = None
    strategy: RoutingStrategy | None = None
    name: str | None = None


class QueueMemberItem(Input, Output):
    agent_id: int
    penalty: Annotated[int, Field(ge=0, le=100)] = 0


def apply_queue(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    data = dict(data)
    if "skills" in data:
        skills = data.pop("skills") or []
        row.skills = [
            QueueSkill(skill_id=s["skill_id"], min_proficiency=s["min_proficiency"]) for s in skills
        ]
    set_attributes(ctx, row, data)


QUEUES = Resource(
    path="queues",
    entity="queue",
    model=Queue,
    read=QueueRead,
    create=QueueCreate,
    update=partial(QueueCreate),
    filters=QueueFilters,
    read_roles=ALL_ROLES,
    write_roles=STAFF,
    apply=apply_queue,
)
crud_router(QUEUES, router)
add_link_routes(
    router, QUEUES, name="members", link_model=QueueMember, parent_fk="queue_id", item=QueueMemberItem
)

# ---- IVR flows ------------------------------------------------------------------------------------------


def parse_flow_text(value: Any) -> Any:
    """A flow may be sent as an object or as YAML/JSON text (JSON is YAML too)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML or JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValueError("the flow text must hold an object")
    return parsed


class IvrFlowCreate(Input):
    name: Name
    description: Description = ""
    definition: dict[str, Any] = Field(
        description="The flow (see GET /ivr-flows/schema), as an object or YAML/JSON text; it is validated, "
        "and every change makes a new immutable version."
    )
    comment: Annotated[str, Field(max_length=255)] = ""

    @field_validator("definition", mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        return parse_flow_text(value)


class IvrFlowRead(Output):
    id: int
    name: str
    description: str
    published_version: int | None
    latest_version: int | None = None
    created_at: dt.datetime

    @model_validator(mode="before")
    @classmethod
    def _latest(cls, value: Any) -> Any:
        if isinstance(value, IvrFlow):
            latest = max((v.version for v in value.versions), default=None)
            return {
                **{k: getattr(value, k) for k in cls.model_fields if k != "latest_version"},
                "latest_version": latest,
            }
        return value


class IvrFlowVersionRead(Output):
    id: int
    flow_id: int
    version: int
    definition: dict[str, Any]
    comment: str
    created_by: int | None
    created_at: dt.datetime


class PublishRequest(Input):
    version: Annotated[int, Field(ge=1)]


def apply_flow(ctx: Ctx, row: Any, data: dict[str, Any]) -> None:
    """Name/description change in place; a definition becomes the next version (versions never change)."""
    data = dict(data)
    definition, comment = data.pop("definition", None), data.pop("comment", None) or ""
    set_attributes(ctx, row, data)
    if definition is not None:
        check_flow(ctx.session, ctx.request, definition, ("body", "definition"))
        number = max((v.version for v in row.versions), default=0) + 1
        row.versions.append(
            IvrFlowVersion(
                version=number, definition=definition, comment=comment, created_by=ctx.principal.user_id
            )
        )


def known_prompts(request: Request) -> set[str]:
    """Prompt files a flow may play: the files in `<data_dir>/prompts`."""
    folder = Path(request.app.state.settings.data_dir) / "prompts"
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


def flow_errors(session: Session, request: Request, definition: Any) -> list[FlowError]:
    queues = session.execute(select(Queue.id, Queue.name)).all()
    known_queues: set[str | int] = {q.id for q in queues} | {q.name for q in queues}
    return validate_flow(definition, known_queues=known_queues, known_prompts=known_prompts(request))


def flow_error_detail(errors: list[FlowError], loc: tuple[str | int, ...]) -> list[dict[str, Any]]:
    """The 422 entries of a flow's errors; `ctx.node` names the node (null: the flow as a whole)."""
    return definition_errors(errors, loc, kind="ivr_flow", part="node", parts="nodes")


def check_flow(session: Session, request: Request, definition: Any, loc: tuple[str | int, ...]) -> None:
    """422 listing every error (node and reason) unless `definition` is a valid flow."""
    errors = flow_errors(session, request, definition)
    if errors:
        raise RequestValidationError(flow_error_detail(errors, loc))


class FlowCheck(Input):
    definition: dict[str, Any]

    @field_validator("definition", mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        return parse_flow_text(value)


class FlowCheckResult(Output):
    valid: bool
    errors: list[dict[str, Any]]


@router.get("/ivr-flows/schema", tags=["ivr-flows"])
def flow_json_schema(principal: CurrentPrincipal) -> dict[str, Any]:
    """The JSON Schema of flow definitions (the graph checks come on top: see POST /ivr-flows/validate)."""
    return flow_schema()


@router.post("/ivr-flows/validate", response_model=FlowCheckResult, tags=["ivr-flows"])
def validate_flow_definition(
    body: FlowCheck, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Any:
    """Check a definition as saving would, without saving it: every error with its node."""
    FLOWS.check_role(principal, write=False)
    errors = flow_errors(session, request, body.definition)
    return {"valid": not errors, "errors": flow_error_detail(errors, ("body", "definition"))}


FLOWS = Resource(
    path="ivr-flows",
    entity="ivr_flow",
    model=IvrFlow,
    read=IvrFlowRead,
    create=IvrFlowCreate,
    update=partial(IvrFlowCreate),
    read_roles=STAFF,
    apply=apply_flow,
)
crud_router(FLOWS, router)


@router.get("/ivr-flows/{flow_id}/versions", response_model=list[IvrFlowVersionRead], tags=["ivr-flows"])
def flow_versions(flow_id: int, request: Request, principal: CurrentPrincipal, session: DbSession) -> Any:
    FLOWS.check_role(principal, write=False)
    FLOWS.load(Ctx(session=session, request=request, principal=principal), flow_id)
    return session.scalars(
        select(IvrFlowVersion).where(IvrFlowVersion.flow_id == flow_id).order_by(IvrFlowVersion.version)
    ).all()


@router.post("/ivr-flows/{flow_id}/publish", response_model=IvrFlowRead, tags=["ivr-flows"])
def publish_flow(
    flow_id: int, body: PublishRequest, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Any:
    """Make `version` the one new calls run (calls already in the flow keep theirs)."""
    FLOWS.check_role(principal, write=True)
    flow = FLOWS.load(Ctx(session=session, request=request, principal=principal), flow_id)
    if body.version not in {v.version for v in flow.versions}:
        raise field_error(("body", "version"), f"flow {flow_id} has no version {body.version}", body.version)
    version = next(v for v in flow.versions if v.version == body.version)
    # Checked again: a queue or prompt may have gone since the version was saved.
    check_flow(session, request, version.definition, ("body", "version", body.version, "definition"))
    flow.published_version = body.version
    record_write(session, request, principal, entity="ivr_flow", ident=flow.id, action="publish",
                 detail={"version": body.version})  # fmt: skip
    return flow


# ---- phone numbers and trunks ---------------------------------------------------------------------------


class PhoneNumberCreate(Input):
    number: Annotated[
        str, Field(pattern=r"^\+?[0-9]{2,15}$", description="E.164 (+...) or a short internal number.")
    ]
    description: Description = ""
    flow_id: int | None = None
    queue_id: int | None = None
    application: Annotated[str | None, Field(max_length=32)] = None
    campaign_id: int | None = None
    trunk_id: int | None = None
    tracking_source: Annotated[str | None, Field(max_length=64)] = None
    enabled: bool = True


class PhoneNumberRead(PhoneNumberCreate, Output):
    id: int
    created_at: dt.datetime


class PhoneNumberFilters(BaseModel):
    number: str | None = None
    flow_id: int | None = None
    queue_id: int | None = None
    campaign_id: int | None = None
    tracking_source: str | None = None
    enabled: bool | None = None


crud_router(
    Resource(
        path="phone-numbers",
        entity="phone_number",
        model=PhoneNumber,
        read=PhoneNumberRead,
        create=PhoneNumberCreate,
        update=partial(PhoneNumberCreate),
        filters=PhoneNumberFilters,
        read_roles=STAFF,
    ),
    router,
)


class TrunkCreate(Input):
    name: Name
    host: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(check_host)]  # IP or DNS name
    port: Annotated[int, Field(ge=1, le=65535)] = 5060
    transport: Literal["udp", "tcp", "tls"] = "udp"
    username: Annotated[str | None, Field(max_length=128)] = None
    password: Annotated[str | None, Field(max_length=128, description="Write-only.")] = None
    register_: bool = Field(False, alias="register", description="REGISTER with the carrier.")
    from_domain: Annotated[str | None, Field(max_length=255)] = None
    caller_id: Annotated[str | None, Field(max_length=32)] = None
    allowed_ips: list[Annotated[str, Field(max_length=255), AfterValidator(check_allowed_entry)]] = []
    max_cps: Annotated[float, Field(gt=0, le=1000)] = 5.0
    max_channels: Annotated[int, Field(ge=1, le=100000)] = 30
    failover_order: int = 0
    enabled: bool = True


class TrunkRead(Output):
    """No password: it is write-only."""

    id: int
    name: str
    host: str
    port: int
    transport: str
    username: str | None
    register_: bool = Field(validation_alias="register", serialization_alias="register")
    from_domain: str | None
    caller_id: str | None
    allowed_ips: list[str]
    max_cps: float
    max_channels: int
    failover_order: int
    enabled: bool
    created_at: dt.datetime


crud_router(
    Resource(
        path="trunks",
        entity="trunk",
        model=Trunk,
        read=TrunkRead,
        create=TrunkCreate,
        update=partial(TrunkCreate),
        read_roles=ADMIN_ONLY,
    ),
    router,
)
