"""Pacing cores: each mode's rule, the trunk gate in every mode, the anchors' algorithms, the predictive loop."""

from __future__ import annotations

import random

import pytest

from duplex.dialer.pacing import (
    AgentReleased,
    CallResult,
    DialGate,
    DialOutcome,
    PacingState,
    PoissonPacer,
    PowerPacer,
    ProgressivePacer,
    TrunkLimits,
    erlang_b,
    offered_load_for_blocking,
)
from duplex.dialer.pacing_anchors import AdaptMethod, VicidialAdaptPacer, WebitelPacer, webitel_wrap_over_dial
from duplex.dialer.pacing_predictive import PredictiveConfig, PredictivePacer
from duplex.sim.engine import Simulation
from duplex.sim.runner import make_pacer
from duplex.sim.scenario import MODES, parse_scenario


def state(
    now: float = 0.0, ready: int = 0, talking: int = 0, wrapping: int = 0, dialing: int = 0
) -> PacingState:
    return PacingState(
        now=now, agents_ready=ready, agents_talking=talking, agents_wrapping=wrapping, calls_dialing=dialing
    )


def test_progressive_one_line_per_free_agent() -> None:
    pacer = ProgressivePacer()
    assert pacer.calls_to_place(state(ready=5, dialing=2)) == 3
    assert pacer.calls_to_place(state(ready=2, dialing=4)) == 0


def test_power_fixed_lines_per_free_agent() -> None:
    assert PowerPacer(2.0).calls_to_place(state(ready=3, dialing=1)) == 5
    assert PowerPacer(1.5).calls_to_place(state(ready=3)) == 5  # 4.5 rounds half up
    with pytest.raises(ValueError):
        PowerPacer(0.5)


def test_state_refuses_negative_counts() -> None:
    with pytest.raises(ValueError):
        state(ready=-1)


def test_gate_holds_cps_and_channels() -> None:
    gate = DialGate(TrunkLimits(cps=5.0, channels=12, burst=5.0))
    rng = random.Random(7)
    placed: list[tuple[float, int]] = []
    in_use = 0
    now = 0.0
    for _ in range(2000):
        now += rng.uniform(0.0, 0.3)
        in_use = max(0, in_use - rng.randint(0, 3))
        allowed = gate.admit(now, rng.randint(0, 20), in_use)
        in_use += allowed
        assert in_use <= 12
        placed.append((now, allowed))
    for start, _ in placed:  # any 1-s window: at most cps x 1 s + the burst
        assert sum(n for t, n in placed if start <= t < start + 1.0) <= 5 + 5
    assert gate.refused > 0
    with pytest.raises(ValueError):
        gate.admit(now - 1, 1, 0)


@pytest.mark.parametrize("mode", MODES)
def test_trunk_limits_hold_in_every_mode(mode: str) -> None:
    scenario = parse_scenario({"shift_hours": 0.5, "agents": 30, "p_human": 0.3})
    ratio = 3.0 if mode == "oracle" else None
    pacer = make_pacer(mode, scenario, 3, ratio=ratio)
    sim = Simulation(
        scenario, pacer, seed=3, trunk=TrunkLimits(cps=2.0, channels=25, burst=2.0), record_dials=True
    )
    result = sim.run()
    assert result.dials > 100
    assert result.max_channels_used <= 25
    times = result.dial_times
    for i, start in enumerate(times):  # every 1-s window from a dial on holds at most cps + burst dials
        j = i
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        assert j - i <= 4


def test_erlang_b_and_its_inverse() -> None:
    assert erlang_b(5, 3.0) == pytest.approx(0.1101, abs=1e-4)
    load = offered_load_for_blocking(20, 0.01)
    assert erlang_b(20, load) == pytest.approx(0.01, rel=1e-6)


def test_poisson_pacer_is_open_loop_at_the_erlang_rate() -> None:
    pacer = PoissonPacer(rng=random.Random(1), p_connect=0.3, handle_seconds=140.0, blocking=0.01)
    rate = pacer.rate(20)
    assert rate == pytest.approx(offered_load_for_blocking(20, 0.01) / 140.0 / 0.3)
    placed = sum(pacer.calls_to_place(state(now=float(t), ready=20)) for t in range(1, 3601))
    assert placed == pytest.approx(rate * 3600, rel=0.1)
    # open loop: the same number whether agents are ready or busy
    busy = PoissonPacer(rng=random.Random(1), p_connect=0.3, handle_seconds=140.0, blocking=0.01)
    assert sum(busy.calls_to_place(state(now=float(t), talking=20)) for t in range(1, 3601)) == placed


def test_vicidial_level_rises_with_idle_agents_and_hard_limit_drops_it() -> None:
    pacer = VicidialAdaptPacer(intensity=0, maximum_level=3.0)
    for t in range(31):  # 10 agents ready, none waiting: differential +10 per 10 agents -> level doubles
        pacer.calls_to_place(state(now=float(t), ready=10))
    assert pacer.level == pytest.approx(3.0)  # 1 -> 2 -> 4 capped at 3
    assert pacer.calls_to_place(state(now=31.0, ready=10, dialing=5)) == 25  # 3 x 10 - 5 active
    for i in range(60):  # over 3% of answers dropped today
        result = CallResult.HUMAN if i % 2 else CallResult.NO_ANSWER
        pacer.observe(DialOutcome(now=40.0, placed_at=20.0, result=result, connected=i % 4 != 1))
    pacer.calls_to_place(state(now=46.0, ready=10))
    assert pacer.level == 1.0


def test_vicidial_average_method_halves() -> None:
    pacer = VicidialAdaptPacer(initial_level=2.0, method=AdaptMethod.AVERAGE)
    for i in range(60):
        pacer.observe(DialOutcome(now=1.0, placed_at=0.0, result=CallResult.HUMAN, connected=i % 10 != 0))
    for t in range(16):  # no differential: the level stays 2.0 before the drop rule, then halves
        pacer.calls_to_place(state(now=float(t), talking=10))
    assert pacer.level == pytest.approx(1.0)


def test_webitel_wrap_over_dial() -> None:
    assert webitel_wrap_over_dial(3.0, 1.0, 3.0, 3.0) == pytest.approx(3.6)
    assert webitel_wrap_over_dial(3.0, 3.0, 3.0, 3.0) == 1.0
    assert webitel_wrap_over_dial(2.0, 2.5, 2.0, 3.0) == pytest.approx(2.0 * (0.5 * 110 / 3) / 100)
    assert webitel_wrap_over_dial(2.0, 2.0, 2.0, 3.0) == pytest.approx(2.0 + 2.0 * 0.99 * 10 / 100)


def test_webitel_over_dial_follows_hit_rate_and_window() -> None:
    pacer = WebitelPacer()
    for i in range(100):  # 25% humans, none abandoned
        result = CallResult.HUMAN if i % 4 == 0 else CallResult.BUSY
        pacer.observe(DialOutcome(now=10.0, placed_at=0.0, result=result, connected=True))
    assert pacer.over_dial(20.0) == pytest.approx(4.0 * 1.3)
    assert pacer.calls_to_place(state(now=20.0, ready=2, dialing=3)) == 7  # round(2 x 5.2) - 3
    assert pacer.over_dial(3700.0) == 1.0  # the hour has passed: no data


def test_predictive_learns_answer_rate_and_tightens_after_drops() -> None:
    pacer = PredictivePacer(PredictiveConfig(wrap_seconds=20.0))
    for i in range(400):
        result = CallResult.HUMAN if i % 2 == 0 else CallResult.NO_ANSWER
        pacer.observe(DialOutcome(now=30.0 + i, placed_at=10.0 + i, result=result, connected=True))
    assert pacer._p_human == pytest.approx(0.5, abs=0.05)
    wide = pacer.calls_to_place(state(now=500.0, ready=10))
    assert wide >= 10  # at least one line per ready agent
    z_before = pacer.z
    for _ in range(20):
        pacer.observe(DialOutcome(now=501.0, placed_at=480.0, result=CallResult.HUMAN, connected=False))
    assert pacer.z > z_before
    assert pacer.calls_to_place(state(now=502.0, ready=10)) <= wide


def test_predictive_counts_agents_about_to_be_released() -> None:
    pacer = PredictivePacer(PredictiveConfig(wrap_seconds=20.0))
    pacer.observe(AgentReleased(now=1.0, handle_seconds=140.0))
    base = PacingState(now=100.0, agents_ready=0, agents_talking=0, agents_wrapping=10, calls_dialing=0)
    ending = PacingState(
        now=100.0,
        agents_ready=0,
        agents_talking=0,
        agents_wrapping=10,
        calls_dialing=0,
        wrap_started=(95.0,) * 10,
    )
    far = PredictivePacer(PredictiveConfig(wrap_seconds=60.0))
    far_state = PacingState(
        now=100.0,
        agents_ready=0,
        agents_talking=0,
        agents_wrapping=10,
        calls_dialing=0,
        wrap_started=(99.0,) * 10,
    )
    assert pacer.calls_to_place(ending) > 0  # their wrap ends before a new call's human answers
    assert far.calls_to_place(far_state) == 0  # still 59 s of wrap: nothing to dial for yet
    assert pacer.calls_to_place(base) >= 0


def test_predictive_warmup_dials_fewer_at_first_then_fades() -> None:
    def half_ready(now: float) -> PacingState:
        return PacingState(
            now=now,
            agents_ready=10,
            agents_talking=10,
            agents_wrapping=0,
            calls_dialing=0,
            talk_started=(now - 60.0,) * 10,
        )

    plain = PredictivePacer(PredictiveConfig(wrap_seconds=20.0, warmup_z=0.0))
    cautious = PredictivePacer(PredictiveConfig(wrap_seconds=20.0, warmup_z=2.0, warmup_seconds=3600.0))
    assert plain.calls_to_place(half_ready(0.0)) > cautious.calls_to_place(half_ready(0.0)) >= 10
    assert cautious.warmup_z_at(0.0) == pytest.approx(2.0)
    assert cautious.warmup_z_at(1800.0) == pytest.approx(1.0)
    assert cautious.warmup_z_at(3600.0) == 0.0
    assert plain.warmup_z_at(0.0) == 0.0
    with pytest.raises(ValueError, match="warmup"):
        PredictiveConfig(warmup_z=-1.0)


def test_predictive_aims_lower_when_a_day_has_few_answers() -> None:
    """The day's abandon rate over n answers has s.d. sqrt(t(1-t)/n): the aim leaves room for it."""
    cfg = PredictiveConfig(abandon_target=0.03, margin=0.85, amd_false_positive=0.02, day_seconds=8 * 3600.0)
    large, small = PredictivePacer(cfg), PredictivePacer(cfg)
    large.calls_to_place(state(now=0.0, ready=100))  # 100 agents x 8 h / 150 s: 19,200 answers a day
    small.calls_to_place(state(now=0.0, ready=5))  # 960 answers
    assert large.expected_day_answers() == pytest.approx(19200.0)
    assert large.compliance_aim() == pytest.approx(0.03 * 0.85)  # the margin already covers the noise
    noise = (0.03 * 0.97 / 960) ** 0.5
    assert small.compliance_aim() == pytest.approx(0.03 - 1.6449 * noise, abs=1e-4)  # 2.09%
    # AMD false positives (2%) leave ~0.1 points of drops to the small team, 0.56 to the large one
    assert small.drop_set_point() < 0.2 * large.drop_set_point()


def test_predictive_learns_the_day_volume_from_answers() -> None:
    pacer = PredictivePacer(PredictiveConfig(day_seconds=8 * 3600.0))
    pacer.calls_to_place(state(now=0.0, ready=20))
    for i in range(60):  # a human answer every 30 s for half an hour: 960 a day
        pacer.observe(
            DialOutcome(now=30.0 * (i + 1), placed_at=30.0 * i + 10, result=CallResult.HUMAN, connected=True)
        )
    assert pacer.expected_day_answers() == pytest.approx(960.0)


def test_predictive_dials_progressively_when_false_positives_spend_the_budget() -> None:
    """With AMD false positives at 2.5% of humans and a 3% target, a 5-agent day cannot afford one drop."""
    pacer = PredictivePacer(PredictiveConfig(abandon_target=0.03, amd_false_positive=0.025, warmup_z=0.0))
    assert pacer.calls_to_place(state(now=0.0, ready=5, dialing=1)) == 4  # progressive: free agents, no more
    assert pacer.drop_set_point() == 0.0
    roomy = PredictivePacer(PredictiveConfig(abandon_target=0.03, amd_false_positive=0.0, warmup_z=0.0))
    assert roomy.calls_to_place(state(now=0.0, ready=5, dialing=1)) > 4
    with pytest.raises(ValueError, match="compliance_quantile"):
        PredictiveConfig(compliance_quantile=1.0)
