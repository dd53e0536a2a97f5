"""A queue's own overflow action run by the flow: voicemail (to the queue's webhook) or a callback offer that
keeps the caller's place, in the caller's language; the flow's own on_overflow / on_timeout overrides it."""

from __future__ import annotations

from typing import Any

from flowkit import CALLER, MONDAY_10, commands, entered, flow, run

from duplex.ivr import (
    CollectDigits,
    Digit,
    Hangup,
    OfferCallback,
    PromptDone,
    QueueOutcome,
    QueueResult,
    Say,
    Voicemail,
)

T = MONDAY_10


def _queued(**queue_node: Any) -> dict[str, Any]:
    return flow({
        "answer": {"type": "answer", "next": "ro"},
        "ro": {"type": "set", "variables": {"language": "ro"}, "next": "q"},
        "q": {"type": "queue", "queue": "support", "after_call": "bye", **queue_node},
        "bye": {"type": "hangup", "reason": "flow_bye"},
    }, language="en")  # fmt: skip


def test_voicemail_action_records_for_the_queues_webhook_in_the_callers_language() -> None:
    r, _ = run(_queued())
    result = QueueResult(outcome=QueueOutcome.OVERFLOW, target="voicemail",
                         voicemail_webhook="https://crm.example/voicemail", queue="7")  # fmt: skip
    out = r.handle(result, T + 60)
    assert entered(out) == ["queue:voicemail"]
    said, recorded = commands(out)
    assert isinstance(said, Say) and said.language == "ro" and "mesaj" in said.text
    assert recorded == Voicemail(max_seconds=120, webhook="https://crm.example/voicemail", mailbox="7")


def test_callback_action_offers_a_callback_that_keeps_the_place() -> None:
    r, _ = run(_queued())
    out = r.handle(QueueResult(outcome=QueueOutcome.TIMEOUT, target="callback", queue="7"), T + 60)
    assert entered(out) == ["queue:callback_offer"]
    assert [type(c) for c in commands(out)] == [Say, CollectDigits]
    out = r.handle(Digit(digit="1"), T + 65)
    assert OfferCallback(queue="7", number=CALLER, at_head=True) in out
    assert entered(out) == ["queue:callback_request", "queue:callback_confirmed"]
    out = r.handle(PromptDone(), T + 70)
    assert Hangup(reason="callback_requested") in out and r.finished


def test_a_declined_callback_offer_says_goodbye() -> None:
    r, _ = run(_queued())
    r.handle(QueueResult(outcome=QueueOutcome.OVERFLOW, target="callback"), T + 60)
    r.handle(PromptDone(), T + 61)
    r.handle_timer(T + 67)  # no key: the offer again (one retry)
    r.handle(PromptDone(), T + 68)
    out = r.handle_timer(T + 74)
    assert entered(out) == ["queue:callback_declined"]
    out = r.handle(PromptDone(), T + 76)
    assert Hangup(reason="queue_overflow") in out and r.end_reason == "queue_overflow"


def test_the_flows_own_target_overrides_the_queues_action() -> None:
    r, _ = run(_queued(on_overflow="bye", on_timeout="bye"))
    out = r.handle(QueueResult(outcome=QueueOutcome.OVERFLOW, target="voicemail", queue="7"), T + 60)
    assert entered(out) == ["bye"] and Hangup(reason="flow_bye") in out


def test_without_an_action_or_a_target_the_call_hangs_up() -> None:
    r, _ = run(_queued())
    out = r.handle(QueueResult(outcome=QueueOutcome.TIMEOUT), T + 60)
    assert commands(out) == [Hangup(reason="queue_timeout")]
