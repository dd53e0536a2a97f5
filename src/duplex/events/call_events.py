"""Events of calls and their legs: signalling, media quality, DTMF, the IVR, recordings, supervisor monitoring,
notes. Part of the catalogue in `duplex.events.types`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from duplex.events.payload import EventPayload, json_name

__all__ = [
    "CallNoteAdded",
    "CallAnswered",
    "CallBridged",
    "CallConferenceEnded",
    "CallConferenced",
    "CallCreated",
    "CallEnded",
    "CallHeld",
    "CallOutcome",
    "CallQuality",
    "CallResumed",
    "CallRinging",
    "CallTransferred",
    "DtmfReceived",
    "IvrEntered",
    "IvrLeft",
    "IvrNodeEntered",
    "IvrVariableSet",
    "LegAnswered",
    "LegCreated",
    "LegEnded",
    "LegLeft",
    "LegMoved",
    "MonitorEnded",
    "MonitorModeChanged",
    "MonitorStarted",
    "RecordingAccessed",
    "RecordingSaved",
    "RecordingStarted",
    "VoicemailRecorded",
]


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
class CallConferenced(EventPayload):
    """A three-way conference began: the consulted party's leg (on the envelope) joined the call from the
    agent's consultation call, and the call's three legs are mixed: each party hears the other two."""

    event_type: ClassVar[str] = "call.conferenced"
    legs: tuple[str, ...]  # the conference's legs: the customer's, the agent's, the one that joined
    from_call_id: str  # the consultation call the joined leg came from (it ends, reason conferenced)
    by_user_id: int | None  # who asked for it (the agent or a supervisor; None: an API key)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallConferenceEnded(EventPayload):
    """A party left a three-way conference (the leg on the envelope): the other two are bridged and talk on,
    or the call ends with it."""

    event_type: ClassVar[str] = "call.conference_ended"
    reason: Literal["agent_left", "party_left", "call_ended"]  # party_left: the customer or consulted party
    legs: tuple[str, ...]  # the two legs bridged from now on (none when the call ended)


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
    digit: str  # 0-9, *, #, A-D; "•" for a key pressed at a sensitive IVR input
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
    sensitive: bool | None = None  # true: a secret (an input node's `sensitive`), the value is "••••"


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


@dataclass(frozen=True, slots=True, kw_only=True)
class CallNoteAdded(EventPayload):
    """An agent or supervisor wrote a note on a call (shown in the caller's history)."""

    event_type: ClassVar[str] = "call.note_added"
    text: str  # the note
    by_user_id: int | None  # who wrote it (None: an API key)
