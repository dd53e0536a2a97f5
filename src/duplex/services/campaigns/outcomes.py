"""How an attempt's SIP status, call-progress tones and AMD verdict name its outcome, for the event record
(`call.outcome`), the retry rules (`dialer.hopper.DialResult`) and the pacer (`dialer.pacing.CallResult`)."""

from __future__ import annotations

from typing import Literal

from duplex.dialer.hopper import DialResult
from duplex.dialer.pacing import CallResult
from duplex.media.amd import AmdOutcome
from duplex.media.tones import CallProgress

__all__ = ["Outcome", "amd_outcome", "failed_outcome", "for_pacer", "for_retry"]

Outcome = Literal[
    "human", "machine", "fax", "not_sure", "busy", "no_answer", "congestion", "invalid", "sit", "failed"
]

_BUSY = {486, 600}
_NO_ANSWER = {408, 480, 487}
_INVALID = {404, 410, 484, 485, 604}
_CONGESTION = {500, 502, 503, 504}


def failed_outcome(status: int | None, heard: set[CallProgress]) -> Outcome:
    """An attempt that was never answered: the SIP status says most, tones heard in early media the rest
    (a carrier that answers 183 with a SIT or busy tone and then a generic failure)."""
    if CallProgress.SIT in heard:
        return "sit"
    if status in _BUSY or CallProgress.BUSY in heard:
        return "busy"
    if status is None or status in _NO_ANSWER:
        return "no_answer"
    if status in _INVALID:
        return "invalid"
    if status in _CONGESTION:
        return "congestion"
    return "failed"


_AMD: dict[AmdOutcome, Outcome] = {
    AmdOutcome.HUMAN: "human", AmdOutcome.MACHINE: "machine", AmdOutcome.FAX: "fax",
    AmdOutcome.NOT_SURE: "not_sure",
}  # fmt: skip


def amd_outcome(verdict: AmdOutcome | None) -> Outcome:
    """No verdict (AMD off, or no audio to analyse) counts as a person: a live caller is never dropped on a guess."""
    return _AMD[verdict] if verdict is not None else "human"


_RETRY: dict[str, DialResult] = {
    "machine": DialResult.MACHINE, "fax": DialResult.INVALID, "busy": DialResult.BUSY,
    "no_answer": DialResult.NO_ANSWER, "congestion": DialResult.NO_ANSWER, "invalid": DialResult.INVALID,
    "sit": DialResult.INVALID, "failed": DialResult.NO_ANSWER,
}  # fmt: skip


def for_retry(outcome: Outcome, *, connected: bool, opted_out: bool) -> DialResult:
    if opted_out:
        return DialResult.OPT_OUT
    if outcome in ("human", "not_sure"):
        return DialResult.CONNECTED if connected else DialResult.ABANDONED
    return _RETRY[outcome]


def for_pacer(outcome: Outcome) -> CallResult:
    if outcome in ("human", "not_sure"):
        return CallResult.HUMAN
    if outcome in ("machine", "fax"):
        return CallResult.MACHINE
    if outcome == "busy":
        return CallResult.BUSY
    if outcome == "no_answer":
        return CallResult.NO_ANSWER
    return CallResult.INVALID
