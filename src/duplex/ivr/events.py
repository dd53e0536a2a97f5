"""What goes into a `FlowRun` (call events) and what comes out (commands for the call layer, record events).

All are immutable values. The call layer carries out commands and reports back with events; record events
(`NodeEntered`, `VariableSet`, `SurveyAnswered`, `FlowEnded`) are for the event record and change nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from duplex.ivr.flow import Scalar

# What the record keeps of a sensitive variable's value (an input node with `sensitive`): always the same four
# dots, so neither the digits nor their number show.
SENSITIVE_MASK = "••••"
KEY_MASK = "•"  # what the record keeps of each key pressed at a sensitive input (`dtmf.received`)

__all__ = [
    "KEY_MASK",
    "SENSITIVE_MASK",
    "Answer",
    "AgentHungUp",
    "Answered",
    "CallerHungUp",
    "CollectDigits",
    "Command",
    "Digit",
    "Enqueue",
    "FlowEnded",
    "Hangup",
    "HttpLookup",
    "InputEvent",
    "LookupResult",
    "NodeEntered",
    "OfferCallback",
    "Output",
    "Play",
    "PromptDone",
    "QueueOutcome",
    "QueueResult",
    "RecordEvent",
    "RecordingDone",
    "Say",
    "StopPrompt",
    "SurveyAnswered",
    "Transfer",
    "VariableSet",
    "Voicemail",
]


# ---- events fed in ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """The call is answered (media flows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Digit:
    """One DTMF digit from the caller (RFC 4733 or SIP INFO, the call layer does not care)."""

    digit: str

    def __post_init__(self) -> None:
        if len(self.digit) != 1:
            raise ValueError(f"one DTMF digit expected, got {self.digit!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptDone:
    """Every prompt asked for so far has finished playing (or was stopped)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupResult:
    """The answer to an `HttpLookup`: an HTTP status and decoded JSON body, or an error (timeout, refused...)."""

    request_id: str
    status: int | None = None
    body: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class QueueOutcome(enum.StrEnum):
    ANSWERED = "answered"
    OVERFLOW = "overflow"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueResult:
    outcome: QueueOutcome
    agent: str | None = None
    # overflow: the queue's own overflow action ("voicemail" or "callback"), run unless the node overrides it
    target: str | None = None
    voicemail_webhook: str | None = None  # where the queue sends a voicemail left after its overflow
    queue: str | None = None  # the queue the call overflowed from (an escalation may have moved it on)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentHungUp:
    """The agent left a call the queue had connected; the caller is still on the line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerHungUp:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingDone:
    """The voicemail recording finished (silence, key press or length limit)."""


InputEvent = (
    Answered | Digit | PromptDone | LookupResult | QueueResult | AgentHungUp | CallerHungUp | RecordingDone
)

# ---- commands for the call layer -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Play:
    file: str  # a file name in the prompts folder


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    text: str
    language: str
    voice: str  # espeak-ng voice


@dataclass(frozen=True, slots=True, kw_only=True)
class StopPrompt:
    """The caller pressed a key during a prompt: stop it (barge-in)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectDigits:
    """Pass DTMF digits on to the flow; `timeout_seconds` counts from the end of the prompt."""

    max_digits: int
    terminator: str
    timeout_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpLookup:
    request_id: str
    url: str
    timeout_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueue:
    queue: str | int  # name or id
    skills: tuple[tuple[str, int | None], ...]  # (skill name, minimum proficiency or None)
    priority: int
    max_wait_seconds: int | None
    language: str = "en"  # of the position and wait announcements (`announcements.announcement_language`)


@dataclass(frozen=True, slots=True, kw_only=True)
class Voicemail:
    max_seconds: int
    webhook: str | None
    mailbox: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    agent: str | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCallback:
    queue: str | int
    number: str
    at_head: bool = False  # after a queue's overflow: the callback keeps the place at the head of the queue


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup:
    reason: str


Command = (
    Answer | Play | Say | StopPrompt | CollectDigits | HttpLookup | Enqueue | Voicemail | Transfer
    | OfferCallback | Hangup
)  # fmt: skip

# ---- events for the record -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEntered:
    name: ClassVar[str] = "ivr.node_entered"
    node_id: str
    node_type: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableSet:
    """A variable the run set; a sensitive one's value is `SENSITIVE_MASK` here (the run keeps the real one)."""

    name: ClassVar[str] = "ivr.variable_set"
    variable: str
    value: Scalar
    node_id: str
    sensitive: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyAnswered:
    name: ClassVar[str] = "ivr.survey_answered"
    score: int
    node_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowEnded:
    name: ClassVar[str] = "ivr.flow_ended"
    reason: str
    node_id: str | None


RecordEvent = NodeEntered | VariableSet | SurveyAnswered | FlowEnded
Output = Command | RecordEvent
