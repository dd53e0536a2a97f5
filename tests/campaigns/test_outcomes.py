"""How an attempt's SIP status, tones and AMD verdict name its outcome; local-presence caller ID."""

from __future__ import annotations

import pytest

from duplex.dialer.hopper import DialResult
from duplex.dialer.pacing import CallResult
from duplex.media.amd import AmdOutcome
from duplex.media.tones import CallProgress
from duplex.services.campaigns.outcomes import amd_outcome, failed_outcome, for_pacer, for_retry
from duplex.services.campaigns.runtime import local_presence_caller_id


@pytest.mark.parametrize(
    ("status", "heard", "outcome"),
    [
        (486, set(), "busy"), (600, set(), "busy"), (480, set(), "no_answer"), (None, set(), "no_answer"),
        (404, set(), "invalid"), (503, set(), "congestion"), (403, set(), "failed"),
        (404, {CallProgress.SIT}, "sit"), (500, {CallProgress.BUSY}, "busy"),
    ],
)  # fmt: skip
def test_unanswered_outcome(status: int | None, heard: set[CallProgress], outcome: str) -> None:
    assert failed_outcome(status, heard) == outcome


def test_amd_verdicts_and_what_follows() -> None:
    assert amd_outcome(None) == "human"  # AMD off: a person is never dropped on a guess
    assert amd_outcome(AmdOutcome.MACHINE) == "machine" and amd_outcome(AmdOutcome.FAX) == "fax"
    assert for_retry("human", connected=False, opted_out=False) is DialResult.ABANDONED
    assert for_retry("human", connected=True, opted_out=False) is DialResult.CONNECTED
    assert for_retry("human", connected=True, opted_out=True) is DialResult.OPT_OUT
    assert for_retry("busy", connected=False, opted_out=False) is DialResult.BUSY
    assert for_retry("sit", connected=False, opted_out=False) is DialResult.INVALID
    assert for_pacer("not_sure") is CallResult.HUMAN and for_pacer("fax") is CallResult.MACHINE


def test_local_presence_matches_the_area_code() -> None:
    pool = ("+13105550100", "+12125550100", "+442079460000")
    assert local_presence_caller_id("+12125550199", pool, "+18005550100") == "+12125550100"
    assert local_presence_caller_id("+13105550199", pool, "+18005550100") == "+13105550100"
    assert local_presence_caller_id("+442079460123", pool, None) == "+442079460000"
    assert local_presence_caller_id("+14155550199", pool, "+18005550100") == "+18005550100"  # none local
