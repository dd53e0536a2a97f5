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
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from duplex.events.envelope import EventEnvelope, type_matches_any
from duplex.events.payload import EventPayload, InvalidEventPayload, UnknownEventType, json_name

__all__ = [
    "AgentAccepted", "AgentLoggedIn", "AgentLoggedOut", "AgentNoAnswer", "AgentOffered", "AgentRejected",
    "AgentStateChanged", "CallAnswered", "CallBridged", "CallCreated", "CallEnded", "CallHeld",
    "CallNoteAdded", "CallOutcome", "CallQuality", "CallResumed", "CallRinging", "CallTransferred",
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


# -- calls and legs (emitted by the telephony engine: the fields are what it sends) -------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CallCreated(EventPayload):
    """A call began (inbound INVITE received or outbound call started)."""

    event_type: ClassVar[str] = "call.created"
    direction: Literal["inbound", "outbound", "internal"]  # internal: an agent's phone called
    from_: str = field(metadata=json_name("from"))  # the caller's number or SIP user
    to: str  # the dialled number or SIP user
    tracking_source: str | None  # the marketing channel of the dialled number (call tracking)
    phone_number_id: int | None  # the dialled number's row, if a number of ours was dialled
    trunk_id: int | None = None  # the carrier trunk an inbound call came from


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging(EventPayload):
    """The called party is alerted."""

    event_type: ClassVar[str] = "call.ringing"
    status: int  # the SIP provisional status (180, 183)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(EventPayload):
    """The call was answered (by Duplex's IVR, or the callee for outbound)."""

    event_type: ClassVar[str] = "call.answered"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBridged(EventPayload):
    """Two legs were connected (caller and agent)."""

    event_type: ClassVar[str] = "call.bridged"
    legs: tuple[str, ...]  # the ids of the connected legs


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHeld(EventPayload):
    """A leg was put on hold."""

    event_type: ClassVar[str] = "call.held"
    by: str  # who put it on hold: duplex or remote


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResumed(EventPayload):
    """A leg was taken off hold."""

    event_type: ClassVar[str] = "call.resumed"
    by: str  # who took it off hold: duplex or remote


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTransferred(EventPayload):
    """The call moved to another agent, queue or number (blind or attended)."""

    event_type: ClassVar[str] = "call.transferred"
    target: str  # the transfer target as dialled (an extension, a number or a SIP URI)
    kind: Literal["blind", "attended"]  # attended: the transferor spoke to the target first
    method: str  # REFER or Replaces
    uri: str | None = None  # the full Refer-To target of a received REFER
    replaced_leg_id: str | None = None  # the leg an INVITE with Replaces took over


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOutcome(EventPayload):
    """What an outbound attempt reached."""

    event_type: ClassVar[str] = "call.outcome"
    outcome: Literal[
        "human", "machine", "fax", "not_sure", "busy", "no_answer", "congestion", "invalid", "sit", "failed"
    ]  # machine: an answering machine or voicemail; sit: special information tones
    amd_ms: int | None = None  # how long answering-machine detection listened before deciding


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(EventPayload):
    """The call is over, with the reason and who hung up."""

    event_type: ClassVar[str] = "call.ended"
    reason: str  # caller_hangup, agent_hangup, trunk_hangup, caller_cancel, busy, rtp_timeout, transferred...
    answered: bool  # whether anybody answered
    hangup_by: str | None  # remote or duplex, for the leg that ended first
    leg_kind: str | None  # the kind of that leg (caller, agent, trunk, transfer, outbound)
    sip_status: int | None  # that leg's final SIP status, if it had one


@dataclass(frozen=True, slots=True, kw_only=True)
class CallQuality(EventPayload):
    """RTP/RTCP loss, jitter and MOS of a leg whose media ended, once, before its leg.ended (see
    duplex.telephony.quality)."""

    event_type: ClassVar[str] = "call.quality"
    codec: str | None  # the negotiated codec
    packets_expected: int  # of the stream Duplex received (RFC 3550 A.3)
    packets_received: int  # ... of which arrived
    packets_lost: int  # expected - received (negative with duplicates)
    loss_ratio: float  # 0..1
    jitter_ms: float  # interarrival jitter of the received stream
    late: int  # packets the jitter buffer discarded as late
    packets_sent: int  # of the stream Duplex sent
    remote_reports: int  # RTCP report blocks the far end sent about Duplex's stream
    remote_fraction_lost: float | None  # the far end's last report (None without one): fraction lost 0..1
    remote_packets_lost: int | None  # ... its cumulative packets lost
    remote_loss_ratio: float | None  # ... that over the packets Duplex had sent, 0..1
    remote_jitter_ms: float | None  # ... its interarrival jitter
    rtt_ms: float | None  # round-trip time from RTCP (None without a report carrying our LSR)
    mos_received: float | None  # E-model MOS of what Duplex received (None: nothing received)
    mos_sent: float | None  # E-model MOS of what the far end received, from its reports
    mos: float | None  # the worse of the two


@dataclass(frozen=True, slots=True, kw_only=True)
class LegCreated(EventPayload):
    """A SIP dialog was started for the call."""

    event_type: ClassVar[str] = "leg.created"
    kind: str  # caller, agent, trunk, transfer, outbound
    remote_uri: str  # the far party (From of an inbound leg, the target of an outbound one)
    direction: Literal["inbound", "outbound"]  # who sent the INVITE: the far end (inbound) or Duplex
    trunk_id: int | None  # the carrier trunk the leg runs through
    sip_call_id: str  # the dialog's Call-ID ("" before it is known)


@dataclass(frozen=True, slots=True, kw_only=True)
class LegAnswered(EventPayload):
    """A leg was answered."""

    event_type: ClassVar[str] = "leg.answered"
    codec: str | None  # the negotiated codec


@dataclass(frozen=True, slots=True, kw_only=True)
class LegEnded(EventPayload):
    """A leg ended, with SIP status."""

    event_type: ClassVar[str] = "leg.ended"
    reason: str  # remote_bye, caller_cancel, busy, failed, rtp_timeout, transferred, ...
    hangup_by: str | None  # remote or duplex
    sip_status: int | None  # the final SIP status of a failed or rejected leg


@dataclass(frozen=True, slots=True, kw_only=True)
class LegLeft(EventPayload):
    """A leg left this call for another one (attended transfer)."""

    event_type: ClassVar[str] = "leg.left"
    to_call_id: str  # the call it joins


@dataclass(frozen=True, slots=True, kw_only=True)
class LegMoved(EventPayload):
    """A leg joined this call from another one (attended transfer)."""

    event_type: ClassVar[str] = "leg.moved"
    from_call_id: str  # the call it came from


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(EventPayload):
    """The caller pressed a key."""

    event_type: ClassVar[str] = "dtmf.received"
    digit: str  # 0-9, *, #, A-D
    source: str  # how it came: rfc4733, inband or info


# -- IVR ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class IvrEntered(EventPayload):
    """A call entered an IVR flow."""

    event_type: ClassVar[str] = "ivr.entered"
    flow_id: int  # the IVR flow
    version: int | None = None  # the published version of the flow that runs


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrNodeEntered(EventPayload):
    """A call reached a node of its IVR flow."""

    event_type: ClassVar[str] = "ivr.node_entered"
    flow_id: int  # the IVR flow
    node: str  # the node's id in the flow
    node_type: str  # answer, play, say, menu, input, branch, queue, voicemail, transfer, hangup, ...


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrVariableSet(EventPayload):
    """The IVR set a variable of the call: digits an input node collected, a lookup's mapped field, a set
    node's value, a survey score (the agent's screen pop shows them)."""

    event_type: ClassVar[str] = "ivr.variable_set"
    flow_id: int  # the IVR flow
    node: str  # the node that set it
    variable: str  # the variable's name
    value: str | int | float | bool | None  # its value (a lookup's object or list as JSON text)


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrLeft(EventPayload):
    """A call left the IVR, with where it went."""

    event_type: ClassVar[str] = "ivr.left"
    flow_id: int  # the IVR flow
    to: str  # queue, transfer, voicemail, callback, hangup (the flow ended it) or caller_hangup
    target: str | None = None  # the queue id, number or extension it went to


# -- recordings and monitoring --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(EventPayload):
    """Recording of a call or leg began."""

    event_type: ClassVar[str] = "recording.started"
    path: str  # the file being written


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingSaved(EventPayload):
    """A recording file is complete and stored."""

    event_type: ClassVar[str] = "recording.saved"
    path: str  # the stored file
    duration_ms: int  # its length
    recording_id: int  # its row (metadata, playback and download through the API)


@dataclass(frozen=True, slots=True, kw_only=True)
class VoicemailRecorded(EventPayload):
    """A caller left a voicemail (a flow's voicemail node, or a queue's overflow to voicemail)."""

    event_type: ClassVar[str] = "voicemail.recorded"
    mailbox: str | None  # the node's mailbox (a queue's overflow: the queue)
    path: str  # the recording, relative to the recordings folder
    duration_ms: int  # its length
    webhook_status: int | None = None  # what the node's webhook answered (None: no webhook, or no answer)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingAccessed(EventPayload):
    """Somebody listened to or downloaded a recording."""

    event_type: ClassVar[str] = "recording.accessed"
    recording_id: int  # the recording's row
    how: str  # metadata or audio
    user_id: int | None  # who (None: an API key)


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorStarted(EventPayload):
    """A supervisor started listen/whisper/barge on a call."""

    event_type: ClassVar[str] = "monitor.started"
    mode: Literal["listen", "whisper", "barge"]  # whisper: only the agent hears; barge: both do
    by_user_id: int  # the supervisor


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorModeChanged(EventPayload):
    """A monitoring supervisor switched between listen, whisper and barge (the same leg, no new call)."""

    event_type: ClassVar[str] = "monitor.mode_changed"
    mode: Literal["listen", "whisper", "barge"]  # the new mode
    by_user_id: int  # the supervisor


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorEnded(EventPayload):
    """A supervisor stopped monitoring."""

    event_type: ClassVar[str] = "monitor.ended"
    by_user_id: int  # the supervisor
    reason: str | None = None  # stopped (the API), supervisor_hangup, call_ended


# -- queues and agents (call_id, queue_id and agent_id are on the envelope) -----------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class QueueEntered(EventPayload):
    """A call joined a queue."""

    event_type: ClassVar[str] = "queue.entered"
    priority: int = 0  # higher is served first
    position: int | None = None  # 1 = next to be served, when it joined


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLeft(EventPayload):
    """A call left a queue."""

    event_type: ClassVar[str] = "queue.left"
    reason: Literal["answered", "abandoned", "overflow", "timeout", "callback"]  # callback: kept place
    waited_ms: int | None = None  # time in this queue
    to_queue_id: int | None = None  # where an overflow went (another queue, e.g. the next support tier)
    # the queue's overflow action that took the call: another queue, voicemail or a callback offer
    overflow_to: Literal["queue", "voicemail", "callback"] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueEscalated(EventPayload):
    """A call's waiting relaxed to the next step: lower minimum proficiency or the next support tier."""

    event_type: ClassVar[str] = "queue.escalated"
    step: int  # 1 = the first escalation step
    min_proficiency: int | None = None  # the skill level now accepted
    to_queue_id: int | None = None  # the next tier's queue, if the step moves the call


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered(EventPayload):
    """A call was offered to an agent (the agent is reserved and ringing)."""

    event_type: ClassVar[str] = "agent.offered"
    strategy: str | None = None  # the routing strategy that chose the agent
    ring_timeout_s: float | None = None  # no answer within it -> agent.no_answer


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAccepted(EventPayload):
    """An agent accepted an offered call."""

    event_type: ClassVar[str] = "agent.accepted"
    ring_ms: int | None = None  # time from the offer


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRejected(EventPayload):
    """An agent declined an offered call (the call goes back to the head of its queue)."""

    event_type: ClassVar[str] = "agent.rejected"
    sip_status: int | None = None  # the phone's answer (486, 603), if it came from the phone


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNoAnswer(EventPayload):
    """An agent did not answer an offered call in time (the agent becomes not-responding)."""

    event_type: ClassVar[str] = "agent.no_answer"
    ring_ms: int | None = None  # how long it rang


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged(EventPayload):
    """An agent's state changed (offline, available, reserved, on_call, wrap_up, break, ...)."""

    event_type: ClassVar[str] = "agent.state_changed"
    from_: str | None = field(metadata=json_name("from"))  # None when not known (first state)
    to: str  # the new state
    reason: str | None  # the aux/break reason code, or why the ACD changed it
    by_user_id: int | None  # who changed it (None: the ACD or the phone)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn(EventPayload):
    """An agent logged in."""

    event_type: ClassVar[str] = "agent.logged_in"
    via: str | None = None  # api, phone (a feature code) or console


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut(EventPayload):
    """An agent logged out."""

    event_type: ClassVar[str] = "agent.logged_out"
    via: str | None = None  # api, phone, console, or auto (e.g. not responding)


# -- outbound (campaign_id and lead_id are on the envelope) ---------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignCreated(EventPayload):
    """A campaign was created."""

    event_type: ClassVar[str] = "campaign.created"
    action: str  # the API write: create
    id: int  # the campaign's row


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignStatusChanged(EventPayload):
    """A campaign started, paused, resumed or finished."""

    event_type: ClassVar[str] = "campaign.status_changed"
    from_: str = field(metadata=json_name("from"))  # the status before
    to: str  # the status now


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignPacing(EventPayload):
    """The dialer changed how many lines it dials per available agent."""

    event_type: ClassVar[str] = "campaign.pacing"
    mode: str  # preview, progressive, power, predictive, agentless
    lines_per_agent: float  # lines dialled per available agent (1.0 = progressive)
    abandon_rate: float | None = None  # the measure the pacing steered by, when it has one
    agents_available: int | None = None  # agents free to take a connected call


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadCreated(EventPayload):
    """A lead was added to a list."""

    event_type: ClassVar[str] = "lead.created"
    action: str  # the API write: create
    id: int  # the lead's row
    phone: str | None = None  # E.164


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadImported(EventPayload):
    """A batch of leads was imported (the import's counts)."""

    event_type: ClassVar[str] = "lead.imported"
    list_id: int  # the lead list
    imported: int  # new leads
    updated: int  # existing leads updated
    skipped_duplicates: int  # duplicates left as they were
    rejected: int  # rows with errors
    dnc_flagged: int  # rows whose number is on a do-not-call list
    data_rows: int  # rows in the file
    on_duplicate: str  # what a duplicate did: skip, update, ...
    filename: str  # the uploaded file's name
    by_user_id: int | None  # who imported it
    via: str | None = None  # "cli" for `duplex leads import`; absent for the API


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadRecycled(EventPayload):
    """A list's leads in chosen end states were reset to be dialed again."""

    event_type: ClassVar[str] = "lead.recycled"
    list_id: int  # the lead list
    recycled: int  # how many leads were reset
    statuses: tuple[str, ...]  # the end states that were recycled (no_answer, busy, ...)
    outcomes: tuple[str, ...]  # only leads whose last outcome is one of these (empty: any)
    after_days: float  # only leads last dialed at least this long ago
    filter: str | None  # the lead filter that narrowed it (docs/leads.md)
    via: str | None = None  # "cli" for `duplex leads recycle`; absent for the API


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadUpdated(EventPayload):
    """A lead's data or status changed."""

    event_type: ClassVar[str] = "lead.updated"
    action: str  # the API write (update), or the dialer's: status
    id: int  # the lead's row
    phone: str | None = None  # E.164
    status: str | None = None  # the new lead status, when that is what changed


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadDialed(EventPayload):
    """The dialer placed a call to a lead (call_id is the new call)."""

    event_type: ClassVar[str] = "lead.dialed"
    phone: str  # E.164
    attempt: int  # 1 = the first call to this lead
    mode: str  # the campaign's dial mode
    caller_id: str | None = None  # the number presented (fixed or local presence)
    trunk_id: int | None = None  # the trunk it went out through


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadSkipped(EventPayload):
    """The dialer did not dial a lead it considered, and why: every compliance refusal is one."""

    event_type: ClassVar[str] = "lead.skipped"
    reason: Literal[
        "dnc",  # on the internal or a national do-not-call list
        "dnc_list_stale",  # a national list is older than allowed
        "no_consent",
        "consent_revoked",
        "outside_window",  # outside the callee-local calling hours, a holiday or Sunday
        "no_timezone",  # the callee's time zone is unknown
        "recent_abandon",  # abandoned within the no-re-call period (72 h)
        "max_attempts",
        "trunk_limit",  # no trunk capacity (CPS or channels)
        "invalid_number",
    ]
    detail: str | None = None  # e.g. the list name or the callee-local time


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadCallbackScheduled(EventPayload):
    """A callback was scheduled for a lead (agent_id: a personal callback)."""

    event_type: ClassVar[str] = "lead.callback_scheduled"
    due_ms: int  # when, in ms since the epoch
    phone: str | None = None  # the number to call back, if not the lead's


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptAnswered(EventPayload):
    """An agent saved the answers of one page of a call script (on the call and the lead of the envelope)."""

    event_type: ClassVar[str] = "script.answered"
    script_id: int  # the call script's row
    page: str  # the page whose questions were answered
    answers: dict[str, Any]  # question key -> the normalised answer (text, number, choice, true/false, date)
    by_user_id: int | None  # who answered


@dataclass(frozen=True, slots=True, kw_only=True)
class DispositionSet(EventPayload):
    """An outcome code was set on a call."""

    event_type: ClassVar[str] = "disposition.set"
    disposition_id: int  # the disposition's row
    code: str  # its code (sale, no_interest, dnc, ...)
    notes: str  # the agent's notes
    revenue: float | None  # the sale's value, if any
    by_user_id: int | None  # who set it


@dataclass(frozen=True, slots=True, kw_only=True)
class DncAdded(EventPayload):
    """A number was added to the do-not-call list."""

    event_type: ClassVar[str] = "dnc.added"
    phone: str  # E.164
    action: str | None = None  # the API write that added it (create)
    id: int | None = None  # the list entry's row
    source: str | None = None  # api, import, disposition or dtmf (the callee pressed the opt-out key)


@dataclass(frozen=True, slots=True, kw_only=True)
class DncRemoved(EventPayload):
    """A number was removed from the do-not-call list."""

    event_type: ClassVar[str] = "dnc.removed"
    phone: str  # E.164
    action: str | None = None  # the API write (delete)
    id: int | None = None  # the list entry's row


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentRecorded(EventPayload):
    """Consent was granted or withdrawn (the consent row holds source, time and scope)."""

    event_type: ClassVar[str] = "consent.recorded"
    action: str  # the write: create, update (e.g. a revocation)
    id: int  # the consent row
    phone: str | None = None  # E.164
    granted: bool | None = None  # False: withdrawn


@dataclass(frozen=True, slots=True, kw_only=True)
class CsatRecorded(EventPayload):
    """A customer-satisfaction score was recorded."""

    event_type: ClassVar[str] = "csat.recorded"
    score: int  # 1 (worst) to 5
    source: str | None = None  # ivr_survey, or the integration that posted it


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


@dataclass(frozen=True, slots=True, kw_only=True)
class CallNoteAdded(EventPayload):
    """An agent or supervisor wrote a note on a call (shown in the caller's history)."""

    event_type: ClassVar[str] = "call.note_added"
    text: str  # the note
    by_user_id: int | None  # who wrote it (None: an API key)


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


def _catalogue(*classes: type[EventPayload]) -> dict[str, type[EventPayload]]:
    by_type = {cls.event_type: cls for cls in classes}
    assert len(by_type) == len(classes), "two payload classes share an event type"
    return by_type


# type -> payload class. Only these may be recorded.
PAYLOADS: Mapping[str, type[EventPayload]] = _catalogue(
    CallCreated, CallRinging, CallAnswered, CallBridged, CallHeld, CallResumed, CallTransferred, CallOutcome,
    CallEnded, CallQuality, LegCreated, LegAnswered, LegEnded, LegLeft, LegMoved, DtmfReceived,
    IvrEntered, IvrNodeEntered, IvrLeft, RecordingStarted, RecordingSaved, RecordingAccessed, VoicemailRecorded,
    MonitorStarted, MonitorModeChanged, MonitorEnded,
    QueueEntered, QueueLeft, QueueEscalated, AgentOffered, AgentAccepted, AgentRejected, AgentNoAnswer,
    AgentStateChanged, AgentLoggedIn, AgentLoggedOut,
    CampaignCreated, CampaignStatusChanged, CampaignPacing, LeadCreated, LeadImported, LeadRecycled, LeadUpdated,
    LeadDialed, LeadSkipped, LeadCallbackScheduled, ScriptAnswered, DispositionSet, DncAdded, DncRemoved,
    ConsentRecorded, CsatRecorded, QualityEvaluated,
    ConfigChanged, SipRegistered, SipUnregistered, TrunkStatusChanged, NodeStarted,
    IvrVariableSet, CallNoteAdded, ContactCreated, ContactUpdated, ContactDeleted,
)  # fmt: skip
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
