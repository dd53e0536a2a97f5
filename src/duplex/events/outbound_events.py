"""Events of outbound work: campaigns, leads, scripts, dispositions, DNC, consent, CSAT. Part of the catalogue
in `duplex.events.types`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from duplex.events.payload import EventPayload, json_name

__all__ = [
    "CampaignCreated",
    "CampaignPacing",
    "CampaignStatusChanged",
    "ConsentRecorded",
    "CsatRecorded",
    "DispositionSet",
    "DncAdded",
    "DncRemoved",
    "LeadCallbackScheduled",
    "LeadCreated",
    "LeadDialed",
    "LeadImported",
    "LeadRecycled",
    "LeadSkipped",
    "LeadUpdated",
    "ScriptAnswered",
]


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
    mode: str  # the campaign's dial mode, or "manual": an agent dialled the number by hand
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
    mode: str | None = (
        None  # "manual": a number an agent dialled by hand was refused (lead_id: its lead, if any)
    )


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
