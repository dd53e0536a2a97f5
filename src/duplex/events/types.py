"""The catalogue of event types, each a typed payload, and the envelope every event travels in.

An event is its envelope (type, time, node sequence and the correlation ids call_id, leg_id, agent_id,
queue_id, campaign_id, lead_id) plus `data`, the payload of its type as JSON. Only the types below may be
recorded, so a typo cannot invent a type reports never count, and a payload is checked against its class
where it is emitted (`payload_of`). A class's docstring says what the event means, its field comments what
each field holds; ids that correlate events are on the envelope, not in the payload.

Standard library only (no database, no event loop): cores and the simulator import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from duplex.events.admin_events import (
    ConfigChanged,
    ContactCreated,
    ContactDeleted,
    ContactUpdated,
    NodeStarted,
    QualityEvaluated,
    SipRegistered,
    SipUnregistered,
    TrunkStatusChanged,
)
from duplex.events.call_events import (
    CallAnswered,
    CallBridged,
    CallConferenced,
    CallConferenceEnded,
    CallCreated,
    CallEnded,
    CallHeld,
    CallNoteAdded,
    CallOutcome,
    CallQuality,
    CallResumed,
    CallRinging,
    CallTransferred,
    DtmfReceived,
    IvrEntered,
    IvrLeft,
    IvrNodeEntered,
    IvrVariableSet,
    LegAnswered,
    LegCreated,
    LegEnded,
    LegLeft,
    LegMoved,
    MonitorEnded,
    MonitorModeChanged,
    MonitorStarted,
    RecordingAccessed,
    RecordingSaved,
    RecordingStarted,
    VoicemailRecorded,
)
from duplex.events.center_events import (
    AgentAccepted,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNoAnswer,
    AgentOffered,
    AgentRejected,
    AgentStateChanged,
    QueueEntered,
    QueueEscalated,
    QueueLeft,
)
from duplex.events.envelope import EventEnvelope, type_matches_any
from duplex.events.outbound_events import (
    CampaignCreated,
    CampaignPacing,
    CampaignStatusChanged,
    ConsentRecorded,
    CsatRecorded,
    DispositionSet,
    DncAdded,
    DncRemoved,
    LeadCallbackScheduled,
    LeadCreated,
    LeadDialed,
    LeadImported,
    LeadRecycled,
    LeadSkipped,
    LeadUpdated,
    ScriptAnswered,
)
from duplex.events.payload import EventPayload, InvalidEventPayload, UnknownEventType

__all__ = [
    "AgentAccepted", "AgentLoggedIn", "AgentLoggedOut", "AgentNoAnswer", "AgentOffered", "AgentRejected",
    "AgentStateChanged", "CallAnswered", "CallBridged", "CallConferenceEnded", "CallConferenced",
    "CallCreated", "CallEnded", "CallHeld", "CallNoteAdded", "CallOutcome", "CallQuality", "CallResumed", "CallRinging", "CallTransferred",
    "CampaignCreated", "CampaignPacing", "CampaignStatusChanged", "ConfigChanged", "ConsentRecorded",
    "ContactCreated", "ContactDeleted", "ContactUpdated", "CsatRecorded", "DispositionSet", "DncAdded",
    "DncRemoved", "DtmfReceived", "EVENT_TYPES", "EventEnvelope", "EventPayload", "InvalidEventPayload",
    "IvrEntered", "IvrLeft", "IvrNodeEntered", "IvrVariableSet", "LeadCallbackScheduled", "LeadCreated",
    "LeadDialed", "LeadImported", "LeadRecycled", "LeadSkipped", "LeadUpdated", "LegAnswered", "LegCreated",
    "LegEnded", "LegLeft", "LegMoved", "MonitorEnded", "MonitorModeChanged", "MonitorStarted", "NodeStarted",
    "PAYLOADS", "QualityEvaluated", "QueueEntered", "QueueEscalated", "QueueLeft", "RecordingAccessed",
    "RecordingSaved", "RecordingStarted", "ScriptAnswered", "SipRegistered", "SipUnregistered",
    "TrunkStatusChanged", "UnknownEventType", "VoicemailRecorded", "payload_of", "type_matches_any"
]  # fmt: skip


def _catalogue(*classes: type[EventPayload]) -> dict[str, type[EventPayload]]:
    by_type = {cls.event_type: cls for cls in classes}
    assert len(by_type) == len(classes), "two payload classes share an event type"
    return by_type


# type -> payload class. Only these may be recorded.
PAYLOADS: Mapping[str, type[EventPayload]] = _catalogue(
    CallCreated,
    CallRinging,
    CallAnswered,
    CallBridged,
    CallHeld,
    CallResumed,
    CallTransferred,
    CallConferenced,
    CallConferenceEnded,
    CallOutcome,
    CallEnded,
    CallQuality,
    LegCreated,
    LegAnswered,
    LegEnded,
    LegLeft,
    LegMoved,
    DtmfReceived,
    IvrEntered,
    IvrNodeEntered,
    IvrLeft,
    RecordingStarted,
    RecordingSaved,
    RecordingAccessed,
    VoicemailRecorded,
    MonitorStarted,
    MonitorModeChanged,
    MonitorEnded,
    QueueEntered,
    QueueLeft,
    QueueEscalated,
    AgentOffered,
    AgentAccepted,
    AgentRejected,
    AgentNoAnswer,
    AgentStateChanged,
    AgentLoggedIn,
    AgentLoggedOut,
    CampaignCreated,
    CampaignStatusChanged,
    CampaignPacing,
    LeadCreated,
    LeadImported,
    LeadRecycled,
    LeadUpdated,
    LeadDialed,
    LeadSkipped,
    LeadCallbackScheduled,
    ScriptAnswered,
    DispositionSet,
    DncAdded,
    DncRemoved,
    ConsentRecorded,
    CsatRecorded,
    QualityEvaluated,
    ConfigChanged,
    SipRegistered,
    SipUnregistered,
    TrunkStatusChanged,
    NodeStarted,
    IvrVariableSet,
    CallNoteAdded,
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
)
# type -> what it means (each class's docstring)
EVENT_TYPES: dict[str, str] = {name: " ".join((cls.__doc__ or "").split()) for name, cls in PAYLOADS.items()}


def payload_of(event_type: str, data: Mapping[str, Any] | None) -> EventPayload:
    """The typed payload of an event given by name and JSON-shaped data (None: no fields).

    Raises:
        UnknownEventType: `event_type` is not in the catalogue.
        InvalidEventPayload: `data` has an unknown field, lacks a required one or has a wrong type."""
    cls = PAYLOADS.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type)
    return cls.from_data(data or {})
