"""Every KPI on hand-built event sequences (kpi_events.py), against values worked out by hand."""

from __future__ import annotations

import pytest
from kpi_events import DAY, DAY_END, SALE, campaign_day, inbound_day

from duplex.reports.kpis import KpiInputs, agent_kpis, campaign_kpis, queue_kpis, source_kpis

INPUTS = KpiInputs(
    service_level_seconds={1: 20}, success_dispositions=frozenset({SALE}), cost_per_minute={5: 0.5}
)


def test_queue_counts_service_level_and_waits() -> None:
    [q] = queue_kpis(inbound_day(), DAY, DAY_END, INPUTS)
    # entered a, b, c, d, e, f (g entered the day before); c is a short abandon, e still waits
    assert (q.queue_id, q.entered, q.answered, q.abandoned, q.short_abandoned, q.waiting) == (
        1,
        6,
        3,
        1,
        1,
        1,
    )
    counted = 6 - 1 - 1  # ended visits less the short abandon
    assert q.abandon_rate == 1 / counted
    assert q.service_level == 2 / counted  # a (10 s) and f (15 s) within 20 s; b waited 30 s
    assert q.avg_speed_of_answer_s == pytest.approx((10 + 30 + 15) / 3)
    assert q.avg_time_in_queue_s == pytest.approx((10 + 30 + 3 + 60 + 15) / 5)
    assert q.longest_wait_s == 60


def test_queue_outcomes_handle_time_transfers_fcr_csat_mos_revenue() -> None:
    [q] = queue_kpis(inbound_day(), DAY, DAY_END, INPUTS)
    o = q.outcomes
    assert (o.calls, o.answered_by_agent) == (6, 3)
    # a: talk 100 + hold 20 + wrap 30; b: talk 100; f: talk 95 (after midnight, counted on its day)
    assert o.avg_handle_s == pytest.approx((150 + 100 + 95) / 3)
    assert o.avg_talk_s == pytest.approx((100 + 100 + 95) / 3)
    assert o.avg_hold_s == pytest.approx(20 / 3)
    assert o.avg_wrap_s == pytest.approx(30 / 3)
    assert o.transfer_rate == pytest.approx(1 / 3)
    assert o.avg_transfer_s == 60  # b answered at 230, transferred at 290
    assert o.first_call_resolution == pytest.approx(2 / 3)  # +401 called again (d): a not resolved
    assert (o.csat_avg, o.csat_responses) == (4.0, 1)
    assert o.mos_avg == 3.8  # a's worse leg
    assert (o.conversions, o.revenue) == (1, 100.0)
    assert o.conversion_rate == pytest.approx(1 / 3)
    # durations of ended calls: a 130, b 130, c 3, d 60, f 110 (e is live)
    assert o.avg_duration_s == pytest.approx((130 + 130 + 3 + 60 + 110) / 5)


def test_service_level_threshold_is_the_queues() -> None:
    strict = KpiInputs(service_level_seconds={1: 10}, success_dispositions=frozenset(), cost_per_minute={})
    [q] = queue_kpis(inbound_day(), DAY, DAY_END, strict)
    assert (q.service_level, q.service_level_seconds) == (1 / 4, 10)  # only a (exactly 10 s)


def test_a_range_ending_before_midnight_still_reports_the_call_that_spans_it() -> None:
    [q] = queue_kpis(inbound_day(), DAY + 86_000_000, DAY_END, INPUTS)
    assert (q.entered, q.answered, q.outcomes.avg_talk_s) == (1, 1, 95)


def test_agent_time_by_state_and_occupancy() -> None:
    a1, a2 = agent_kpis(inbound_day(), DAY, DAY_END, INPUTS)
    assert a1.agent_id == 1
    assert a1.state_seconds == {"available": 110 + 740 + 1400, "break": 600, "offline": 86_400 - 3000,
                                "on_call": 120, "wrap_up": 30}  # fmt: skip
    assert a1.logged_in_s == 3000
    assert a1.occupancy == (120 + 30) / (3000 - 600)
    assert (a1.offered, a1.accepted, a1.rejected, a1.no_answer) == (1, 1, 0, 0)  # f's accept is the next day
    assert (a1.talk_s, a1.hold_s, a1.wrap_s) == (195, 20, 30)
    assert (a1.outcomes.answered_by_agent, a1.outcomes.conversions) == (2, 1)
    assert a2.agent_id == 2 and a2.occupancy is None  # no state events: no logged-in time
    assert (a2.accepted, a2.outcomes.transfer_rate) == (1, 1.0)


def test_campaign_connects_abandons_first_call_close_and_cost() -> None:
    [c] = campaign_kpis(campaign_day(), DAY, DAY_END, INPUTS)
    assert (c.campaign_id, c.dialed, c.skipped, c.connected, c.humans, c.machines) == (5, 4, 1, 3, 2, 1)
    assert (c.connect_rate, c.human_rate) == (3 / 4, 2 / 4)
    assert (c.abandoned, c.abandon_rate) == (1, 1 / 2)  # i: a person nobody took
    assert c.first_call_close == 1 / 3  # first attempts h, j, k; h sold
    assert c.billed_minutes == pytest.approx((120 + 5 + 30) / 60)
    assert c.cost == pytest.approx((120 + 5 + 30) / 60 * 0.5)
    assert c.cost_per_call == pytest.approx((120 + 5 + 30) / 60 * 0.5 / 4)
    assert (c.outcomes.conversions, c.outcomes.revenue, c.outcomes.conversion_rate) == (1, 50.0, 1.0)


def test_sources_split_inbound_calls_by_marketing_channel() -> None:
    rows = {r.tracking_source: r for r in source_kpis(inbound_day(), DAY, DAY_END, INPUTS)}
    assert set(rows) == {"", "bing", "google"}
    google = rows["google"]
    assert (google.outcomes.calls, google.answered, google.outcomes.revenue) == (2, 2, 100.0)
    assert (rows["bing"].outcomes.calls, rows["bing"].abandoned) == (1, 1)
    assert (rows[""].outcomes.calls, rows[""].abandoned) == (3, 0)  # c's abandon was short


def test_rates_without_a_denominator_are_none_and_rows_flatten() -> None:
    assert queue_kpis([], DAY, DAY_END, INPUTS) == []
    assert queue_kpis(inbound_day()[:3], DAY, DAY_END, INPUTS) == []  # only g, which began the day before
    [q] = queue_kpis([e for e in inbound_day() if e.call_id == "e"], DAY, DAY_END, INPUTS)  # still waiting
    assert (q.entered, q.waiting, q.abandon_rate, q.service_level) == (1, 1, None, None)
    assert (q.avg_speed_of_answer_s, q.longest_wait_s, q.outcomes.avg_handle_s) == (None, None, None)
    flat = agent_kpis(inbound_day(), DAY, DAY_END, INPUTS)[0].to_dict()
    assert flat["state_break_s"] == 600 and flat["csat_avg"] == 4.0 and "outcomes" not in flat
