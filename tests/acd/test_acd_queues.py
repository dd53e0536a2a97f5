"""Queue behaviour: skill relaxation, escalation, overflow, callback, priority, position and estimated wait."""

from __future__ import annotations

import pytest
from acd_helpers import agent, center, lefts, offers, run_until

from duplex.acd import (
    AcdError,
    CallbackDue,
    CancelReason,
    Escalation,
    LeftReason,
    OfferCancelled,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    QueueEntered,
    RelaxationStep,
    UnknownEntity,
)


def test_minimum_proficiency_relaxes_with_waiting_time() -> None:
    queue = QueueConfig(
        queue_id="q",
        min_proficiency=5,
        relaxation=(
            RelaxationStep(after_seconds=30, min_proficiency=3),
            RelaxationStep(after_seconds=60, min_proficiency=1),
        ),
    )
    acd = center([queue], [agent("junior", ("q", 1)), agent("mid", ("q", 3))])
    acd.enqueue("c1", "q", 100)
    assert offers(acd.events()) == []
    assert acd.get_timer() == 130
    run_until(acd, 129.9)
    assert offers(acd.events()) == []
    run_until(acd, 130)
    assert offers(acd.events()) == [("c1", "mid")]
    acd.accept("mid", 130)
    acd.enqueue("c2", "q", 131)
    run_until(acd, 190.9)
    assert offers(acd.events()) == []
    run_until(acd, 191)
    assert offers(acd.events()) == [("c2", "junior")]


def test_freed_agent_takes_the_oldest_call_it_is_proficient_enough_for() -> None:
    queue = QueueConfig(
        queue_id="q", min_proficiency=5, relaxation=(RelaxationStep(after_seconds=30, min_proficiency=2),)
    )
    acd = center([queue], [agent("a", ("q", 2))])
    acd.aux("a", "break", 0)
    acd.enqueue("old", "q", 0)
    acd.enqueue("new", "q", 20)
    run_until(acd, 40)  # "old" relaxed at 30 but nobody was free
    acd.ready("a", 41)
    assert offers(acd.events()) == [("old", "a")]


def test_escalation_moves_the_call_to_the_next_line_and_on() -> None:
    queues = [
        QueueConfig(queue_id="tier3"),
        QueueConfig(queue_id="tier2", escalation=Escalation(after_seconds=120, to_queue="tier3")),
        QueueConfig(queue_id="tier1", escalation=Escalation(after_seconds=60, to_queue="tier2")),
    ]
    acd = center(queues, [agent("t1", "tier1"), agent("t3", "tier3")])
    acd.aux("t1", "meeting", 0)
    acd.aux("t3", "meeting", 0)
    acd.enqueue("c1", "tier1", 10)
    run_until(acd, 300)
    moves = [(e.queue_id, e.reason, e.overflow_queue, e.waited) for e in lefts(acd.events())]
    assert moves == [
        ("tier1", LeftReason.OVERFLOW, "tier2", 60),
        ("tier2", LeftReason.OVERFLOW, "tier3", 120),
    ]
    assert acd.queue_of("c1") == "tier3"
    acd.ready("t3", 301)
    assert offers(acd.events()) == [("c1", "t3")]


def test_max_wait_overflows_to_the_target_queue() -> None:
    queues = [
        QueueConfig(queue_id="backup"),
        QueueConfig(
            queue_id="sales",
            max_wait_seconds=90,
            overflow=OverflowTarget(kind=OverflowKind.QUEUE, queue_id="backup"),
        ),
    ]
    acd = center(queues, [agent("b", "backup")])
    acd.aux("b", "break", 0)
    acd.enqueue("c1", "sales", 0)
    run_until(acd, 89)
    assert lefts(acd.events()) == []
    run_until(acd, 90)
    (left,) = lefts(acd.events())
    assert (left.reason, left.overflow_kind, left.overflow_queue) == (
        LeftReason.OVERFLOW,
        OverflowKind.QUEUE,
        "backup",
    )
    acd.ready("b", 91)
    assert offers(acd.events()) == [("c1", "b")]


def test_max_wait_without_a_target_times_out() -> None:
    acd = center([QueueConfig(queue_id="q", max_wait_seconds=30)], [])
    acd.enqueue("c1", "q", 0)
    run_until(acd, 31)
    assert [(e.reason, e.overflow_kind) for e in lefts(acd.events())] == [(LeftReason.TIMEOUT, None)]
    assert acd.queue_of("c1") is None


def test_full_queue_sends_the_next_call_to_voicemail() -> None:
    queue = QueueConfig(queue_id="q", max_size=2, overflow=OverflowTarget(kind=OverflowKind.VOICEMAIL))
    acd = center([queue], [])
    for i in range(3):
        acd.enqueue(f"c{i}", "q", i)
    events = acd.events()
    assert [e.position for e in events if isinstance(e, QueueEntered)] == [1, 2, 3]
    assert [(e.call_id, e.reason, e.overflow_kind) for e in lefts(events)] == [
        ("c2", LeftReason.OVERFLOW, OverflowKind.VOICEMAIL)
    ]
    assert acd.waiting_count("q") == 2


def test_overflow_loop_ends_after_max_hops() -> None:
    queues = [
        QueueConfig(queue_id="a", max_size=0, overflow=OverflowTarget(kind=OverflowKind.QUEUE, queue_id="b")),
        QueueConfig(queue_id="b", max_size=0, overflow=OverflowTarget(kind=OverflowKind.QUEUE, queue_id="a")),
    ]
    acd = center(queues, [], max_hops=3)
    acd.enqueue("c1", "a", 0)
    reasons = [e.reason for e in lefts(acd.events())]
    assert reasons == [LeftReason.OVERFLOW] * 3 + [LeftReason.OVERFLOW]
    assert acd.queue_of("c1") is None


def test_queued_callback_keeps_its_place_and_is_due_when_an_agent_is_reserved() -> None:
    acd = center([QueueConfig(queue_id="q", max_wait_seconds=60)], [agent("a", "q")])
    acd.aux("a", "break", 0)
    acd.enqueue("c1", "q", 0)
    acd.enqueue("c2", "q", 1)
    acd.request_callback("c1", "+40215550199", 5)
    assert acd.position("c1") == 1 and acd.position("c2") == 2
    run_until(acd, 100)  # c2 times out, the callback does not
    assert [(e.call_id, e.reason) for e in lefts(acd.events())] == [("c2", LeftReason.TIMEOUT)]
    acd.ready("a", 101)
    events = acd.events()
    assert [(e.call_id, e.agent_id, e.callback_number) for e in events if isinstance(e, CallbackDue)] == [
        ("c1", "a", "+40215550199")
    ]
    acd.accept("a", 110)
    assert [(e.reason, e.agent_id) for e in lefts(acd.events())] == [(LeftReason.CALLBACK, "a")]


def test_caller_priority_goes_ahead_of_older_calls() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q")])
    acd.aux("a", "break", 0)
    acd.enqueue("normal", "q", 0)
    acd.enqueue("vip", "q", 5, priority=10)
    assert (acd.position("vip"), acd.position("normal")) == (1, 2)
    acd.ready("a", 6)
    assert offers(acd.events()) == [("vip", "a")]


def test_agent_in_several_queues_serves_the_higher_priority_queue_first() -> None:
    queues = [QueueConfig(queue_id="sales", priority=1), QueueConfig(queue_id="support")]
    acd = center(queues, [agent("a", "support", "sales"), agent("s", "support")])
    acd.aux("a", "break", 0)
    acd.aux("s", "break", 0)
    acd.enqueue("support-call", "support", 0)
    acd.enqueue("sales-call", "sales", 10)
    acd.ready("a", 20)
    acd.ready("s", 21)
    assert offers(acd.events()) == [("sales-call", "a"), ("support-call", "s")]
    assert acd.staffed_agents("support") == 2 and acd.staffed_agents("sales") == 1


def test_per_queue_proficiency_and_penalty() -> None:
    queues = [QueueConfig(queue_id="en", min_proficiency=3), QueueConfig(queue_id="ro", min_proficiency=3)]
    agents = [agent("bilingual", ("en", 5), ("ro", 3, 1)), agent("ro_native", ("ro", 4))]
    acd = center(queues, agents)
    acd.enqueue("r1", "ro", 1)  # the native speaker has penalty 0 there
    acd.enqueue("r2", "ro", 2)
    acd.enqueue("e1", "en", 3)
    assert offers(acd.events()) == [("r1", "ro_native"), ("r2", "bilingual")]


def test_position_and_estimated_wait() -> None:
    acd = center(
        [QueueConfig(queue_id="q", initial_handle_seconds=120, wrap_up_seconds=0)],
        [agent(n, "q") for n in "ab"],
    )
    for i in range(4):
        acd.enqueue(f"c{i}", "q", i)
    assert acd.position("c0") is None and acd.estimated_wait("c0") == 0.0  # ringing
    assert [acd.position(f"c{i}") for i in (2, 3)] == [1, 2]
    assert acd.estimated_wait("c3") == pytest.approx(2 * 120 / 2)
    acd.accept("a", 4)
    acd.call_ended("a", 4 + 20)  # handle time 20 s: EWMA moves a tenth of the way
    assert acd.estimator.handle_time("q") == pytest.approx(120 + 0.1 * (20 - 120))


def test_bad_input_raises() -> None:
    with pytest.raises(UnknownEntity):
        center([QueueConfig(queue_id="q", escalation=Escalation(after_seconds=1, to_queue="nowhere"))], [])
    acd = center([QueueConfig(queue_id="q")], [])
    acd.enqueue("c1", "q", 0)
    with pytest.raises(AcdError):
        acd.enqueue("c1", "q", 1)
    with pytest.raises(UnknownEntity):
        acd.enqueue("c2", "nope", 1)
    assert acd.abandon("unknown", 1) is False
    with pytest.raises(ValueError):
        QueueConfig(
            queue_id="x", min_proficiency=3, relaxation=(RelaxationStep(after_seconds=5, min_proficiency=4),)
        )


def test_escalation_due_while_ringing_happens_when_the_offer_fails() -> None:
    queues = [
        QueueConfig(queue_id="tier2"),
        QueueConfig(
            queue_id="tier1",
            escalation=Escalation(after_seconds=10, to_queue="tier2"),
            offer_timeout_seconds=15,
        ),
    ]
    acd = center(queues, [agent("a", "tier1"), agent("b", "tier2")])
    acd.aux("b", "break", 0)
    acd.enqueue("c1", "tier1", 0)
    run_until(acd, 14)  # the escalation fell due at 10, during the offer: nothing moves yet
    assert lefts(acd.events()) == []
    run_until(acd, 15)  # no answer: the call moves on instead of back to the head
    assert [(e.reason, e.overflow_queue) for e in lefts(acd.events())] == [(LeftReason.OVERFLOW, "tier2")]
    acd.ready("b", 16)
    assert offers(acd.events()) == [("c1", "b")]


def test_escalation_loop_stops_after_max_hops_and_the_call_stays() -> None:
    queues = [
        QueueConfig(queue_id="x", escalation=Escalation(after_seconds=5, to_queue="y")),
        QueueConfig(queue_id="y", escalation=Escalation(after_seconds=5, to_queue="x")),
    ]
    acd = center(queues, [agent("a", "x")], max_hops=2)
    acd.aux("a", "break", 0)
    acd.enqueue("c1", "x", 0)
    run_until(acd, 100)
    assert [e.overflow_queue for e in lefts(acd.events())] == ["y", "x"]
    assert acd.queue_of("c1") == "x" and acd.position("c1") == 1
    acd.ready("a", 101)
    assert offers(acd.events()) == [("c1", "a")]


def test_callback_requested_while_ringing_is_offered_again_as_a_callback() -> None:
    acd = center([QueueConfig(queue_id="q")], [agent("a", "q")])
    acd.enqueue("c1", "q", 0)
    acd.events()
    acd.request_callback("c1", "+40215550199", 3)
    events = acd.events()
    assert [(e.agent_id, e.reason) for e in events if isinstance(e, OfferCancelled)] == [
        ("a", CancelReason.CALLBACK_REQUESTED)
    ]
    assert offers(events) == [("c1", "a")]
    assert [(e.agent_id, e.callback_number) for e in events if isinstance(e, CallbackDue)] == [
        ("a", "+40215550199")
    ]
    acd.accept("a", 5)
    assert [e.reason for e in lefts(acd.events())] == [LeftReason.CALLBACK]


def test_a_callback_chosen_after_overflow_takes_the_head_and_ignores_max_size() -> None:
    """After max wait with a callback target the caller leaves; the callback they choose enters at the head
    (the place they had earned), even though the queue is full: a callback holds no line."""
    queue = QueueConfig(queue_id="q", max_size=2, max_wait_seconds=30,
                        overflow=OverflowTarget(kind=OverflowKind.CALLBACK))  # fmt: skip
    acd = center([queue], [agent("a", "q")])
    acd.aux("a", "break", 0)
    acd.enqueue("c1", "q", 0)
    acd.enqueue("c2", "q", 10)
    run_until(acd, 30)
    assert [(e.call_id, e.reason, e.overflow_kind) for e in lefts(acd.events())] == [
        ("c1", LeftReason.OVERFLOW, OverflowKind.CALLBACK)
    ]
    acd.enqueue("c3", "q", 31)  # the queue holds c2 and c3: full
    acd.enqueue("c1", "q", 35, callback_number="+442071234567", at_head=True)
    assert acd.queue_of("c1") == "q" and acd.waiting_count("q") == 3
    assert [acd.position(c) for c in ("c1", "c2", "c3")] == [1, 2, 3]
    acd.enqueue("c4", "q", 36)  # a caller on the line is still refused by max_size
    assert [(e.call_id, e.reason) for e in lefts(acd.events())] == [("c4", LeftReason.OVERFLOW)]
    acd.ready("a", 40)
    due = [e for e in acd.events() if isinstance(e, CallbackDue)]
    assert [(e.call_id, e.callback_number) for e in due] == [("c1", "+442071234567")]
