"""Erlang C against published values and the forecast per 30-minute interval."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from duplex.reports.staffing import erlang_b, erlang_c, forecast_intervals, staff_for, staffing


def test_erlang_c_by_hand_for_two_erlangs_on_three_agents() -> None:
    # C = (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A)) = (8/6*3) / (1+2+2 + 8/6*3) = 4/9
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)


def test_erlang_b_table_value() -> None:
    assert erlang_b(10, 5.0) == pytest.approx(0.01838, abs=5e-6)  # Erlang B tables: 10 lines, 5 E -> 1.84 %


@pytest.mark.parametrize(("agents", "published"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)])
def test_erlang_c_published_table_for_ten_erlangs(agents: int, published: float) -> None:
    # the classic example: 100 calls per half hour at 180 s AHT = 10 erlangs
    assert erlang_c(agents, 10.0) == pytest.approx(published, abs=5e-5)


def test_service_level_and_asa_follow_from_erlang_c() -> None:
    s = staff_for(14, 200, 180, 20)
    assert s.traffic_erlangs == 10
    assert s.service_level == pytest.approx(1 - 0.17413 * math.exp(-4 * 20 / 180), abs=1e-5)
    assert s.avg_speed_of_answer_s == pytest.approx(0.17413 * 180 / 4, abs=1e-3)
    assert s.occupancy == pytest.approx(10 / 14)


def test_staffing_picks_the_fewest_agents_meeting_the_target() -> None:
    assert staffing(200, 180, 0.8, 20).agents == 14  # 13 agents give 79.6 %
    assert staff_for(13, 200, 180, 20).service_level < 0.8
    assert staffing(0, 180, 0.8, 20).agents == 0
    assert erlang_c(10, 10.0) == 1.0  # as many agents as erlangs: the queue grows without end
    with pytest.raises(ValueError):
        staffing(100, 0, 0.8, 20)


def test_forecast_averages_the_same_weekday_per_half_hour() -> None:
    day = dt.date(2026, 3, 16)  # a Monday

    def at(weeks_back: int, hh: int, mm: int) -> int:
        when = dt.datetime.combine(day - dt.timedelta(weeks=weeks_back), dt.time(hh, mm), dt.UTC)
        return int(when.timestamp() * 1000)

    arrivals = [at(1, 9, 0)] * 120 + [at(2, 9, 29)] * 80 + [at(1, 9, 30)] * 10 + [at(3, 9, 0)] * 500
    arrivals += [int(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)] * 99  # a Tuesday
    intervals = forecast_intervals(arrivals, day, weeks=2, aht_s=180, service_level=0.8, target_seconds=20)
    assert len(intervals) == 48
    nine = intervals[18]
    assert nine.start == dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)
    assert nine.expected_calls == (120 + 80) / 2  # 100 per half hour = 200/h = 10 erlangs
    assert nine.staffing.agents == 14
    assert intervals[19].expected_calls == 10 / 2
    assert intervals[0].staffing.agents == 0
