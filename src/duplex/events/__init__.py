"""Events: every state change is an immutable event, committed before it is acknowledged.

This package's face is the catalogue of event types with their typed payloads (`duplex.events.types`) and
the envelope events travel in; it loads no database and no event loop, so the IVR, ACD and dialer cores and
the simulator can build events. Recording and publishing live in `duplex.events.record` (`EventRecord`: an
event is written inside the caller's transaction and published after it commits) and `duplex.events.bus`
(in-process or NATS JetStream); consumers that miss a publication catch up from the table by id.
"""

from duplex.events.types import (
    EVENT_TYPES,
    PAYLOADS,
    EventEnvelope,
    EventPayload,
    InvalidEventPayload,
    UnknownEventType,
    payload_of,
)

__all__ = [
    "EVENT_TYPES",
    "PAYLOADS",
    "EventEnvelope",
    "EventPayload",
    "InvalidEventPayload",
    "UnknownEventType",
    "payload_of",
]
