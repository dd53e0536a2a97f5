"""The inbound simulation that measures the estimated-wait error: its waits against a hand computation, its
determinism, and the error statistics."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from duplex.sim.inbound import ESTIMATORS, EwtRecord, EwtScenario, error_stats, simulate_ewt


def test_one_agent_with_fixed_talk_times_gives_the_waits_of_a_hand_computation() -> None:
    """One agent, every call 60 s of talk + 10 s wrap-up + 2 s of ringing, nobody hangs up: a caller is offered
    when the agent's previous call is wrapped up (Lindley's recursion), so its wait is exact."""
    scenario = EwtScenario(agents=1, load=0.8, talk_mean=60, talk_cv=0, wrap=10, ring=2, patience_mean=None,
                           hours=2, seed=7)  # fmt: skip
    records = {r.call: r for r in simulate_ewt(scenario)}
    arrivals_rng, now, free_at, expected = random.Random("7-arrivals"), 0.0, 0.0, {}
    call = 0
    while True:
        now += arrivals_rng.expovariate(scenario.arrivals_per_second)
        if now > scenario.hours * 3600:
            break
        offered = max(now, free_at)
        if offered > now:
            expected[call] = offered + 2 - now
        free_at = offered + 2 + 60 + 10
        call += 1
    assert len(expected) > 20  # at 80 % load most callers queue
    assert sorted(records) == sorted(expected)
    for number, wait in expected.items():
        assert records[number].actual == pytest.approx(wait, abs=1e-6)


def test_the_baseline_is_position_times_planned_handle_over_agents_and_les_the_last_wait() -> None:
    scenario = EwtScenario(agents=5, load=0.95, hours=2, seed=3)
    records = simulate_ewt(scenario)
    assert records and all(set(r.estimates) == set(ESTIMATORS) for r in records)
    for r in records:
        assert r.estimates["mean_aht"] == pytest.approx(r.position * (180 + 15) / 5)
        assert r.estimates["ewma"] > 0 and r.estimates["les"] >= 0
        assert r.estimates["ewma_announced"] == 60 * max(1, math.ceil(r.estimates["ewma"] / 60))
    served = sorted((r for r in records if r.actual is not None), key=lambda r: r.arrived)
    assert any(r.estimates["les"] > 0 for r in served)


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    scenario = EwtScenario(agents=10, load=0.9, hours=1, seed=11)
    first = [(r.call, r.position, r.estimates, r.actual) for r in simulate_ewt(scenario)]
    again = [(r.call, r.position, r.estimates, r.actual) for r in simulate_ewt(scenario)]
    other = [(r.call, r.position, r.estimates, r.actual)
             for r in simulate_ewt(dataclasses.replace(scenario, seed=12))]  # fmt: skip
    assert first == again and first != other


def test_impatient_callers_have_no_actual_wait_and_are_left_out_of_the_errors() -> None:
    records = simulate_ewt(EwtScenario(agents=5, load=1.2, patience_mean=30, hours=1, seed=5))
    gone = [r for r in records if r.actual is None]
    assert gone and error_stats(records, "ewma").calls == len(records) - len(gone)


def _record(estimate: float, actual: float | None) -> EwtRecord:
    return EwtRecord(call=0, arrived=0.0, position=1, estimates={"x": estimate}, actual=actual)


def test_error_statistics() -> None:
    records = [_record(e, a) for e, a in [(10, 10), (20, 30), (50, 40), (0, 100), (5, None)]] + [
        _record(float(i), float(i)) for i in range(6)
    ]
    stats = error_stats(records, "x")
    assert stats.calls == 10
    assert stats.mae == pytest.approx((0 + 10 + 10 + 100) / 10)
    assert stats.bias == pytest.approx((0 - 10 + 10 - 100) / 10)
    assert stats.p90 == 10  # the 9th of the sorted absolute errors 0,0,0,0,0,0,0,10,10,100
    assert stats.mean_wait == pytest.approx((10 + 30 + 40 + 100 + 15) / 10)
    assert error_stats([_record(1, None)], "x").calls == 0
