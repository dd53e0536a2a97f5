"""Events of administration and the system: quality scoring, CRM contacts, configuration, registrations,
trunks, nodes. Part of the catalogue in `duplex.events.types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from duplex.events.payload import EventPayload

__all__ = [
    "ConfigChanged",
    "ContactCreated",
    "ContactDeleted",
    "ContactUpdated",
    "NodeStarted",
    "QualityEvaluated",
    "SipRegistered",
    "SipUnregistered",
    "TrunkStatusChanged",
]


# -- quality scoring ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class QualityEvaluated(EventPayload):
    """A supervisor scored a call against a scorecard (the envelope's call and agent: the agent scored)."""

    event_type: ClassVar[str] = "quality.evaluated"
    evaluation_id: int  # the evaluation's row (its scores and comments per criterion)
    scorecard_id: int  # the scorecard used
    recording_id: int | None  # the recording listened to, if any
    score_pct: float  # the weighted score, 0..100 (0 when an auto-fail criterion failed)
    auto_failed: bool  # an auto-fail criterion scored 0
    by_user_id: int | None  # the evaluator


# -- CRM contacts ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ContactCreated(EventPayload):
    """A CRM contact was created (from the agent desktop or the API; call_id: the call it was saved from)."""

    event_type: ClassVar[str] = "contact.created"
    id: int  # the contact's row
    name: str  # its name
    phones: tuple[str, ...]  # its numbers, E.164


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactUpdated(EventPayload):
    """A CRM contact's data changed."""

    event_type: ClassVar[str] = "contact.updated"
    id: int  # the contact's row
    name: str  # its name now
    phones: tuple[str, ...]  # its numbers now, E.164


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactDeleted(EventPayload):
    """A CRM contact was deleted."""

    event_type: ClassVar[str] = "contact.deleted"
    id: int  # the contact's row


# -- configuration and system ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChanged(EventPayload):
    """An entity (queue, flow, number, trunk, ...) was created, changed or deleted."""

    event_type: ClassVar[str] = "config.changed"
    entity: str  # queue, ivr_flow, phone_number, trunk, campaign, ...
    id: int | str  # the entity's key
    action: str  # create, update, delete, or a named operation (status, import, publish, ...)


@dataclass(frozen=True, slots=True, kw_only=True)
class SipRegistered(EventPayload):
    """A phone registered."""

    event_type: ClassVar[str] = "sip.registered"
    aor: str  # the address of record (sip:user@domain)
    contact: str  # where the phone is reached
    source: str  # the address it registered from


@dataclass(frozen=True, slots=True, kw_only=True)
class SipUnregistered(EventPayload):
    """A phone's registration ended."""

    event_type: ClassVar[str] = "sip.unregistered"
    aor: str  # the address of record
    contact: str  # the contact that ended
    reason: str  # unregistered, expired, flow_closed, ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkStatusChanged(EventPayload):
    """A trunk became reachable or unreachable (or registered)."""

    event_type: ClassVar[str] = "trunk.status_changed"
    trunk_id: int  # the trunk's row
    name: str  # its name
    old: str  # the status before (unknown, up, down, registered, ...)
    new: str  # the status now
    status_code: int | None  # the SIP status that caused the change
    reason: str | None  # the SIP reason phrase or the error
    retry_in: float | None  # seconds until the next attempt
    expires_in: float | None  # seconds until a registration expires


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(EventPayload):
    """A Duplex node started (the envelope's node_id)."""

    event_type: ClassVar[str] = "node.started"
