"""The event record: every state change is an immutable event, committed before it is acknowledged.

`EventRecord.append()` writes an event inside the caller's transaction (so a state change and its event
commit together or not at all); after the commit the event is published on the bus (`bus.py`) for live
consumers (WebSocket, webhooks, wallboards, other nodes). Consumers that miss a publication catch up from
the table by id, so the bus may be best-effort while the record never is.
"""

from duplex.events.bus import EventBus, InProcessBus
from duplex.events.record import EventRecord
from duplex.events.types import EVENT_TYPES, EventEnvelope, UnknownEventType

__all__ = ["EVENT_TYPES", "EventBus", "EventEnvelope", "EventRecord", "InProcessBus", "UnknownEventType"]
