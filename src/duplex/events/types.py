"""The catalogue of event types and the envelope every event travels in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# type -> what it means. Only these may be recorded, so a typo cannot invent a type reports never count.
EVENT_TYPES: dict[str, str] = {
    # calls and legs
    "call.created": "A call began (inbound INVITE received or outbound call started).",
    "call.ringing": "The called party is alerted.",
    "call.answered": "The call was answered (by Duplex's IVR, or the callee for outbound).",
    "call.bridged": "Two legs were connected (caller and agent).",
    "call.held": "A leg was put on hold.",
    "call.resumed": "A leg was taken off hold.",
    "call.transferred": "The call moved to another agent, queue or number (blind or attended).",
    "call.outcome": "What an outbound attempt reached: human, voicemail, busy, no_answer, failed, invalid.",
    "call.ended": "The call is over, with the reason and who hung up.",
    "call.quality": (
        "RTP/RTCP loss, jitter and MOS of a leg whose media ended, once, before its leg.ended: what Duplex"
        " received (packets_expected/received/lost, loss_ratio, jitter_ms, late), packets_sent, what the far"
        " end last reported by RTCP (remote_reports, remote_fraction_lost/packets_lost/loss_ratio/jitter_ms),"
        " rtt_ms, codec, E-model mos_received/mos_sent and mos (the worse); see duplex.telephony.quality."
    ),
    "leg.created": "A SIP dialog was started for the call.",
    "leg.answered": "A leg was answered.",
    "leg.ended": "A leg ended, with SIP status.",
    "leg.left": "A leg left this call for another one (attended transfer), with to_call_id.",
    "leg.moved": "A leg joined this call from another one (attended transfer), with from_call_id.",
    "dtmf.received": "The caller pressed a key.",
    "ivr.entered": "A call entered an IVR flow.",
    "ivr.node": "A call reached an IVR node.",
    "ivr.left": "A call left the IVR, with where it went.",
    "recording.started": "Recording of a call or leg began.",
    "recording.saved": "A recording file is complete and stored.",
    "recording.accessed": "Somebody listened to or downloaded a recording.",
    "monitor.started": "A supervisor started listen/whisper/barge on a call.",
    "monitor.ended": "A supervisor stopped monitoring.",
    # queues and agents
    "queue.entered": "A call joined a queue.",
    "queue.left": "A call left a queue: answered, abandoned, timeout, overflow, transferred.",
    "queue.escalated": "A call moved to the next support tier.",
    "agent.offered": "A call was offered to an agent.",
    "agent.answered": "An agent accepted an offered call.",
    "agent.missed": "An agent did not take an offered call.",
    "agent.state_changed": "An agent's state changed (offline, available, on_call, wrap_up, break, ...).",
    "agent.logged_in": "An agent logged in.",
    "agent.logged_out": "An agent logged out.",
    # outbound
    "campaign.created": "A campaign was created.",
    "campaign.status_changed": "A campaign started, paused, resumed or finished.",
    "campaign.pacing": "The dialer changed its lines-per-agent ratio.",
    "lead.created": "A lead was added to a list.",
    "lead.imported": "A batch of leads was imported.",
    "lead.recycled": "A list's leads in chosen end states were reset to be dialed again.",
    "lead.updated": "A lead's data or status changed.",
    "lead.dialed": "The dialer placed a call to a lead.",
    "lead.skipped": "The dialer skipped a lead, with the reason (dnc, no_consent, outside_hours, ...).",
    "lead.callback_scheduled": "A callback was scheduled for a lead.",
    "disposition.set": "An outcome code was set on a call.",
    "dnc.added": "A number was added to the do-not-call list.",
    "dnc.removed": "A number was removed from the do-not-call list.",
    "consent.recorded": "Consent was granted or withdrawn.",
    "csat.recorded": "A customer-satisfaction score was recorded.",
    # configuration and system
    "config.changed": "An entity (queue, flow, number, trunk, ...) was created, changed or deleted.",
    "sip.registered": "A phone registered.",
    "sip.unregistered": "A phone's registration ended.",
    "trunk.status_changed": "A trunk became reachable or unreachable.",
    "node.started": "A Duplex node started.",
}


class UnknownEventType(ValueError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}; known types are listed in duplex.events.types")
        self.event_type = event_type


@dataclass(frozen=True, slots=True, kw_only=True)
class EventEnvelope:
    """One recorded event as consumers see it. `id` is the row id (global order within one database);
    `(node_id, seq)` is the per-node monotonic sequence."""

    id: int
    node_id: str
    seq: int
    type: str
    ts_ms: int
    call_id: str | None = None
    leg_id: str | None = None
    agent_id: int | None = None
    queue_id: int | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, *, types: frozenset[str] = frozenset(), **correlations: int | str | None) -> bool:
        """True if the event's type is in `types` (an entry ending in ".*" matches a prefix; empty = all)
        and every given correlation id equals the event's."""
        if types and not any(_type_matches(self.type, pattern) for pattern in types):
            return False
        return all(value is None or getattr(self, key) == value for key, value in correlations.items())


def _type_matches(event_type: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def type_matches_any(event_type: str, patterns: list[str]) -> bool:
    """Webhook/WS filter rule: empty list = everything; "call.*" = a prefix; otherwise exact."""
    return not patterns or any(_type_matches(event_type, p) for p in patterns)
