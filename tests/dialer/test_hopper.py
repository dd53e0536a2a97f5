"""Lead hopper: order by priority, window closing and retry time; retry rules per outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

import pytest

from duplex.dialer.hopper import DialResult, HopperLead, LeadHopper
from duplex.dialer.types import LeadStatus

NOW = datetime(2026, 3, 9, 22, 0, tzinfo=UTC)  # 18:00 New York, 15:00 Los Angeles, 22:00 London


def hopper(*leads: HopperLead) -> LeadHopper:
    h = LeadHopper()
    for lead in leads:
        h.add(lead)
    return h


def ids(batch: list[HopperLead]) -> list[int]:
    return [lead.lead_id for lead in batch]


def test_order_priority_then_window_closing_then_retry_time() -> None:
    h = hopper(
        HopperLead(lead_id=1, phone="+13105550001", time_zone="America/Los_Angeles"),
        HopperLead(lead_id=2, phone="+12125550002", time_zone="America/New_York"),
        HopperLead(lead_id=3, phone="+13105550003", time_zone="America/Los_Angeles", priority=5),
        HopperLead(lead_id=4, phone="+442079460004", time_zone="Europe/London"),  # 22:00: window closed
        HopperLead(
            lead_id=5,
            phone="+12125550005",
            time_zone="America/New_York",
            next_attempt_at=NOW - timedelta(hours=1),
        ),
        HopperLead(
            lead_id=6,
            phone="+12125550006",
            time_zone="America/New_York",
            next_attempt_at=NOW + timedelta(minutes=1),
        ),
    )
    # 3 (priority), then New York (closes in 3 h: 5 retry-due earlier than 2's "now"), then Los Angeles
    assert ids(h.next_batch(NOW, 10)) == [3, 5, 2, 1]
    assert h.get(3).status is LeadStatus.DIALING
    assert ids(h.next_batch(NOW, 10)) == []  # all handed out; 4 out of window, 6 not due yet
    assert ids(h.next_batch(NOW + timedelta(minutes=1), 10)) == [6]


def test_batch_size_is_respected() -> None:
    h = hopper(*(HopperLead(lead_id=i, phone="+12125550000", time_zone="America/New_York") for i in range(5)))
    assert ids(h.next_batch(NOW, 2)) == [0, 1]


def test_retry_rules_per_outcome_and_max_attempts() -> None:
    h = LeadHopper(max_attempts=2)
    h.add(HopperLead(lead_id=1, phone="+12125550001", time_zone="America/New_York"))
    h.next_batch(NOW, 1)
    busy = h.record(1, DialResult.BUSY, NOW)
    assert busy.status is LeadStatus.RETRY and busy.next_attempt_at == NOW + timedelta(minutes=10)
    assert ids(h.next_batch(NOW + timedelta(minutes=9), 1)) == []
    assert ids(h.next_batch(NOW + timedelta(minutes=10), 1)) == [1]
    assert h.record(1, DialResult.NO_ANSWER, NOW).status is LeadStatus.DONE  # second attempt: the last
    for result, status, delay in [
        (DialResult.ABANDONED, LeadStatus.RETRY, timedelta(hours=72)),
        (DialResult.MACHINE, LeadStatus.RETRY, timedelta(hours=4)),
        (DialResult.INVALID, LeadStatus.INVALID, None),
        (DialResult.OPT_OUT, LeadStatus.DNC, None),
        (DialResult.CONNECTED, LeadStatus.DONE, None),
    ]:
        fresh = LeadHopper()
        fresh.add(HopperLead(lead_id=2, phone="+12125550002", time_zone="America/New_York"))
        lead = fresh.record(2, result, NOW)
        assert lead.status is status
        assert lead.next_attempt_at == (NOW + delay if delay else None)


def test_callback_disposition_overrides_the_rule() -> None:
    h = hopper(HopperLead(lead_id=1, phone="+12125550001", time_zone="America/New_York"))
    later = NOW + timedelta(days=1)
    lead = h.record(1, DialResult.CONNECTED, NOW, callback_at=later)
    assert lead.status is LeadStatus.CALLBACK and lead.next_attempt_at == later
    assert ids(h.next_batch(later, 1)) == [1]


def test_unknown_zone_is_refused_on_add() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        LeadHopper().add(HopperLead(lead_id=1, phone="+12125550001", time_zone="Mars/Olympus"))


class FakeClock:
    """Wall time moved by hand: the hopper never reads a clock of its own."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def test_callbacks_wait_for_their_time_then_go_first_and_personal_ones_wait_for_their_agent() -> None:
    clock = FakeClock(datetime(2026, 3, 9, 14, 0, tzinfo=UTC))  # 10:00 in New York
    h = hopper(
        HopperLead(lead_id=1, phone="+12125550001", time_zone="America/New_York", priority=9),
        HopperLead(lead_id=2, phone="+12125550002", time_zone="America/New_York"),
        HopperLead(lead_id=3, phone="+12125550003", time_zone="America/New_York"),
    )
    h.schedule_callback(h.get(2), clock.now + timedelta(minutes=30), agent_id=None)  # any agent
    h.schedule_callback(h.get(3), clock.now + timedelta(minutes=30), agent_id=7)  # agent 7's own
    assert ids(h.next_batch(clock.now, 10, free_agents={7})) == [1]  # callbacks are not due yet
    h.add(replace(h.get(1), status=LeadStatus.RETRY, next_attempt_at=None))  # lead 1 back in the hopper
    clock.advance(timedelta(minutes=30))
    # due: the callbacks before lead 1's higher priority; agent 7 is busy, so only the any-agent one
    assert ids(h.next_batch(clock.now, 10, free_agents={5})) == [2, 1]
    assert ids(h.next_batch(clock.now, 10)) == []  # lead 3 still waits for agent 7
    assert ids(h.next_batch(clock.now, 10, free_agents={5, 7})) == [3]


def test_a_callback_outside_the_callee_window_waits_for_the_window() -> None:
    clock = FakeClock(datetime(2026, 3, 9, 11, 0, tzinfo=UTC))  # 07:00 in New York, before the 08:00 start
    h = hopper(HopperLead(lead_id=1, phone="+12125550001", time_zone="America/New_York"))
    h.schedule_callback(h.get(1), clock.now, agent_id=None)
    assert ids(h.next_batch(clock.now, 1)) == []
    assert ids(h.next_batch(clock.advance(timedelta(hours=1)), 1)) == [1]
