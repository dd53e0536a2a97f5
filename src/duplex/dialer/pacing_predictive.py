"""Duplex's closed-loop predictive pacer.

Each decision balances two expectations over the next "dial-to-human" delay D (how long a placed call takes to
become a human ready for an agent, learned online):

* supply: humans still to come from the calls in flight, plus p_human per new call;
* demand: agents ready now (less humans already waiting) plus busy agents expected to be released within D.

It places the largest n with  supply(n) + z * sd  <=  demand, where sd is the standard deviation of the
difference (binomial terms). Everything it uses is estimated online with forgetting, so it follows a change of
answer rate or talk time mid-shift: p_human per resolved call, the dial-to-human delay distribution (1-s bins),
the mean handle time (talk + wrap, memoryless release model).

The safety factor z is the abandon controller: a stochastic-approximation step after every human answer pushes
z up when the call was dropped and down otherwise, so the drop rate settles at a set point. The set point is
the abandon target less what AMD false positives are estimated to add (they hang up on humans, which counts as
an abandon), lowered further while the campaign's measured rate (its life, and the rolling 24 h) is close to the
target; so the regulatory rate, not only the recent one, stays under the limit. The aim itself sits below the
target by the sampling noise of a day's rate at the day's expected number of live answers (a 5-agent team's day
is too few answers for 85% of the target to be safe); where the AMD false positives alone then fill the aim, no
drop is affordable and the pacer dials progressively.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import NormalDist

from duplex.dialer.pacing import AgentReleased, CallResult, DialOutcome, PacingEvent, PacingState

__all__ = ["PredictiveConfig", "PredictivePacer"]

_MAX_DELAY = 90  # seconds: dial-to-human delays are tracked in 1-s bins up to this
_PRIOR_WEIGHT = 20  # observations the priors are worth
_ELAPSED_BIN = 5.0  # seconds: talking agents' release probabilities are tabulated per elapsed-talk bin
_ELAPSED_BINS = 240  # up to 20 minutes of talk (longer calls use the last bin)


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictiveConfig:
    abandon_target: float = 0.03  # fraction of live-answered calls
    amd_false_positive: float = 0.0  # estimated P(machine verdict | human); counted as abandons
    margin: float = 0.85  # aim at this share of the target
    memory_calls: float = 400.0  # forgetting horizon of p_human and the delay histogram (resolved calls)
    memory_releases: float = 100.0  # forgetting horizon of the mean handle time (agent releases)
    gain: float = 0.002  # controller step per human answer (x10 per unit error)
    rule: str = (
        "safety"  # "share": humans in flight <= fill x agents free; "safety": mean + z sd <= agents free
    )
    fill_initial: float = 0.5
    fill_step: float = 0.2  # log-step of the fill per unit error
    z_initial: float = 3.0  # start cautious: the estimates are priors until calls resolve
    z_min: float = -1.5
    z_max: float = 6.0
    max_lines_per_agent: float = 10.0  # a hard cap on calls in flight per logged-in agent
    prior_p_human: float = 0.3
    prior_delay: float = 20.0
    prior_handle: float = 150.0
    horizon_shares: tuple[float, ...] = (0.5,)  # check the balance where these shares of humans arrived
    talk_release_weight: float = 1.0  # share of the predicted talk releases counted as agents to come
    wrap_seconds: float = 0.0  # the campaign's after-call work time: a wrapping agent is free within it
    # a cautious start: the estimates are still priors and the rolling 24-h rate has few calls behind it, so the
    # safety factor gets this much more at the first decision, fading linearly to none over warmup_seconds
    # (2.0: the first hour's abandon rate at N=20 fell from 3.1% to 1.8% on average at the same talk time)
    warmup_z: float = 2.0
    warmup_seconds: float = 3600.0
    # the regulatory rate is counted over a day of calling (a shift) with a finite number of live answers, so it
    # is noisy: a small team's ~500 answers give it a standard deviation near 0.75 points at 3%. The aim is
    # lowered until the day's rate stays under the target with this probability at the day's expected number of
    # answers (observed answer rate x day_seconds; at first the agents' capacity, day_seconds / handle time each)
    compliance_quantile: float = 0.95
    day_seconds: float = 8 * 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.abandon_target < 1 or not 0 <= self.amd_false_positive < 1:
            raise ValueError("predictive: abandon_target in (0, 1), amd_false_positive in [0, 1)")
        if not 0 < self.margin <= 1 or self.memory_calls < 1 or self.memory_releases < 1:
            raise ValueError("predictive: margin in (0, 1], memories >= 1")
        if self.warmup_z < 0 or self.warmup_seconds <= 0:
            raise ValueError("predictive: warmup_z >= 0, warmup_seconds > 0")
        if not 0.5 <= self.compliance_quantile < 1 or self.day_seconds <= 0:
            raise ValueError("predictive: compliance_quantile in [0.5, 1), day_seconds > 0")


class _DecayingHistogram:
    """Delays in 1-s bins with exponential forgetting (new observations weigh more instead of old ones decaying)."""

    def __init__(self, prior: float, forget: float) -> None:
        self._bins = [0.0] * (_MAX_DELAY + 1)
        self._bins[min(_MAX_DELAY, int(prior))] = 1.0
        self._weight = 1.0
        self._forget = forget
        self._count = 0
        self._survival: list[float] | None = None

    def add(self, delay: float) -> None:
        self._count += 1
        # a plain mean while young (the prior is one observation), then the memory's forgetting
        self._weight /= 1 - max(self._forget, 1 / (self._count + 1))
        self._bins[min(_MAX_DELAY, max(0, int(delay)))] += self._weight
        if self._weight > 1e9:
            self._bins = [w / self._weight for w in self._bins]
            self._weight = 1.0
        if self._count < 50 or self._count % 20 == 0:
            self._survival = None

    def survival(self) -> list[float]:
        """P(delay > a) for a = 0.._MAX_DELAY."""
        if self._survival is None:
            left = total = sum(self._bins)
            survival = []
            for weight in self._bins:
                left -= weight
                survival.append(max(0.0, left / total))
            self._survival = survival
        return self._survival


class PredictivePacer:
    name = "predictive"
    pace_on_ready = False  # it dials ahead of releases: the 1-s decisions suffice

    def __init__(self, config: PredictiveConfig | None = None) -> None:
        self.config = cfg = config or PredictiveConfig()
        self.z = cfg.z_initial
        self._started_at: float | None = None  # the first decision's time (the warm-up runs from it)
        self._warmup = 0.0  # the warm-up's addition to z at the current decision
        self.fill = cfg.fill_initial
        self._p_human = cfg.prior_p_human
        self._handle = cfg.prior_handle
        # lognormal talk-time model (log mean and variance), learned from releases
        self._log_talk_mean = math.log(max(1.0, cfg.prior_handle - cfg.wrap_seconds)) - 0.35
        self._log_talk_var = 0.7
        self._release_table: list[float] = []
        self._release_key: tuple[int, int] = (-1, -1)
        self._releases = 0
        self._resolved = 0
        # dial-to-human delays (humans forget 4x faster per observation: they are fewer) and dial-to-end delays
        self._human_delays = _DecayingHistogram(cfg.prior_delay, 4 / cfg.memory_calls)
        self._end_delays = _DecayingHistogram(cfg.prior_delay, 1 / cfg.memory_calls)
        self._in_flight: dict[float, int] = {}  # placement time -> calls still unresolved
        # placement time -> [calls, humans so far]: p_human learns from whole batches only, once all of a batch's
        # calls are resolved; per outcome it would be biased low early on (busy signals come back first)
        self._batches: dict[float, list[int]] = {}
        self._calls_learned = 0
        self._fp_ratio = cfg.amd_false_positive / (1 - cfg.amd_false_positive)
        self.humans = 0  # life of the campaign
        self.drops = 0
        self._day: deque[tuple[float, bool]] = deque()  # human answers in the last 24 h: (time, dropped)
        self._day_drops = 0
        self._agents = 0  # logged in at the last decision
        self._now = 0.0  # the last event's or decision's time

    # -- observations ----------------------------------------------------------------------------
    def observe(self, event: PacingEvent) -> None:
        if isinstance(event, AgentReleased):
            self._releases += 1
            # the prior counts as _PRIOR_WEIGHT observations; a plain mean until the memory is reached
            forget = 1 / min(self.config.memory_releases, self._releases + _PRIOR_WEIGHT)
            self._handle += (event.handle_seconds - self._handle) * forget
            log_talk = math.log(max(1.0, event.handle_seconds - self.config.wrap_seconds))
            deviation = log_talk - self._log_talk_mean
            self._log_talk_mean += deviation * forget
            self._log_talk_var += (deviation * deviation - self._log_talk_var) * forget
            return
        left = self._in_flight.get(event.placed_at)
        if left is not None:
            if left > 1:
                self._in_flight[event.placed_at] = left - 1
            else:
                del self._in_flight[event.placed_at]
        human = event.result is CallResult.HUMAN
        batch = self._batches.get(event.placed_at)
        if batch is not None:
            batch[1] += human
            if left is not None and left <= 1:
                self._learn_p_human(*self._batches.pop(event.placed_at))
        else:  # a call this pacer did not place (e.g. a manual dial): learn from it alone
            self._learn_p_human(1, int(human))
        delay = event.now - event.placed_at
        if human:
            # an answered human stops ringing when it is ready for an agent, up to 2 s before this event
            self._human_delays.add(delay)
            self._control(event)
        self._end_delays.add(delay)

    # -- decision ---------------------------------------------------------------------------------
    def calls_to_place(self, state: PacingState) -> int:
        now = state.now
        if self._started_at is None:
            self._started_at = now
        self._agents, self._now = state.agents_logged_in, now
        self._warmup = self.warmup_z_at(now)
        for placed_at in [t for t in self._in_flight if t < now - _MAX_DELAY]:
            del self._in_flight[placed_at]  # lost track (e.g. an outcome never reported): stop counting it
            if placed_at in self._batches:
                self._learn_p_human(*self._batches.pop(placed_at))
        # never fewer lines than progressive dialing: one call in flight per ready agent
        n = state.agents_ready - state.calls_waiting - state.calls_dialing
        if self._drop_budget(self.compliance_aim()) > 0:  # else AMD false positives spend it all
            humans, ends = self._human_delays.survival(), self._end_delays.survival()
            ages = [(min(_MAX_DELAY, int(now - t)), calls) for t, calls in self._in_flight.items()]
            n = max(n, min(self._safe_at(state, ages, h, humans, ends) for h in self._horizons(humans)))
        cap = math.floor(self.config.max_lines_per_agent * state.agents_logged_in) - state.calls_dialing
        n = max(0, min(n, cap))
        if n:
            self._in_flight[now] = self._in_flight.get(now, 0) + n
            self._batches.setdefault(now, [0, 0])[0] += n
        return n

    def warmup_z_at(self, now: float) -> float:
        """What the cautious start adds to the safety factor at `now` (0 once the warm-up is over)."""
        cfg = self.config
        if self._started_at is None or cfg.warmup_z <= 0:
            return 0.0
        return cfg.warmup_z * max(0.0, 1 - (now - self._started_at) / cfg.warmup_seconds)

    def _learn_p_human(self, calls: int, humans: int) -> None:
        if calls <= 0:
            return
        self._calls_learned += calls
        forget = 1.0 / min(self.config.memory_calls, self._calls_learned + _PRIOR_WEIGHT)
        keep = (1 - forget) ** calls
        self._p_human = self._p_human * keep + min(1.0, humans / calls) * (1 - keep)

    def _horizons(self, humans: list[float]) -> list[int]:
        last = len(humans) - 1
        return [
            next((i for i, v in enumerate(humans) if v <= 1 - share), last)
            for share in self.config.horizon_shares
        ]

    def _safe_at(
        self,
        state: PacingState,
        ages: list[tuple[int, int]],
        horizon: int,
        humans: list[float],
        ends: list[float],
    ) -> int:
        """New calls that keep humans arriving by `horizon` within the agents free by then."""
        p, last = self._p_human, _MAX_DELAY
        coming = variance = 0.0
        for age, calls in ages:
            unresolved = ends[age]
            if unresolved <= 0:
                continue
            # P(a human, ready within the horizon | still ringing at this age)
            q = min(1.0, p * (humans[age] - humans[min(last, age + horizon)]) / unresolved)
            coming += calls * q
            variance += calls * q * (1 - q)
        demand, release_variance = self._releases_within(state, float(horizon))
        p_new = p * (1 - humans[horizon])
        if self.config.rule == "share":
            return max(0, math.floor((self.fill * demand - coming) / p_new)) if p_new > 0 else 0
        return self._largest_safe(demand - coming, variance + release_variance, p_new)

    def placed(self, now: float, calls: int) -> None:
        """The trunk let only `calls` of the last decision's calls through: correct the in-flight count."""
        asked = self._in_flight.pop(now, 0)
        batch = self._batches.pop(now, None)
        if min(calls, asked):
            self._in_flight[now] = min(calls, asked)
            if batch is not None:
                self._batches[now] = [batch[0] - asked + min(calls, asked), batch[1]]

    def _control(self, event: DialOutcome) -> None:
        self._now = event.now
        self.humans += 1
        self.drops += event.abandoned
        self._day.append((event.now, event.abandoned))
        self._day_drops += event.abandoned
        while self._day and self._day[0][0] <= event.now - 86400:
            self._day_drops -= self._day.popleft()[1]
        error = float(event.abandoned) - self.drop_set_point()
        self.z = min(self.config.z_max, max(self.config.z_min, self.z + self.config.gain * error * 10))
        self.fill = min(4.0, max(0.05, self.fill * math.exp(-self.config.fill_step * error)))

    def abandon_rate_estimate(self, drops: int, humans: int) -> float:
        """Drops plus estimated AMD false positives over live answers (the regulatory rate)."""
        false_positives = humans * self._fp_ratio
        return (drops + false_positives) / (humans + false_positives) if humans else 0.0

    def expected_day_answers(self) -> float:
        """Live answers expected over a day of calling: the observed rate once there is a quarter hour of it,
        before that what the logged-in agents could take at the handle time (an upper bound)."""
        cfg = self.config
        elapsed = self._now - self._started_at if self._started_at is not None else 0.0
        if elapsed >= 900 and self._day:
            span = min(elapsed, 86400.0)
            return len(self._day) / span * cfg.day_seconds
        return max(1.0, self._agents * cfg.day_seconds / max(self._handle, 1.0))

    def compliance_aim(self) -> float:
        """The abandon rate to aim at on average: the target's margin share, or lower where the day's rate is
        too noisy for that to stay under the target with `compliance_quantile` probability."""
        cfg = self.config
        target = cfg.abandon_target
        noise = math.sqrt(target * (1 - target) / self.expected_day_answers())
        return max(
            0.0, min(target * cfg.margin, target - NormalDist().inv_cdf(cfg.compliance_quantile) * noise)
        )

    def drop_set_point(self) -> float:
        """The drop rate the controller aims at: the compliance aim less the AMD false positives."""
        aim = self.compliance_aim()
        worst = max(
            self.abandon_rate_estimate(self.drops, self.humans),
            self.abandon_rate_estimate(self._day_drops, len(self._day)),
        )
        if self.humans >= 50 and worst > aim:
            # over the aim: spend less than the aim until the measured rate is back under it
            aim = max(0.0, aim - 2 * (worst - aim))
        return self._drop_budget(aim)

    def _drop_budget(self, aim: float) -> float:
        """The drop rate that keeps drops plus AMD false positives at `aim` of live answers."""
        return max(0.0, aim * (1 + self._fp_ratio) - self._fp_ratio)

    # -- decision ---------------------------------------------------------------------------------

    def _largest_safe(self, room: float, variance: float, p: float) -> int:
        """The largest n with  n*p + z*sqrt(variance + n*p*(1-p)) <= room  (a quadratic in the root)."""
        if p <= 0:
            return 0
        s, z = p * (1 - p), self.z + self._warmup
        if s <= 0:
            return max(0, math.floor((room - z * math.sqrt(variance)) / p))
        a = p / s
        c = room + a * variance
        discriminant = z * z + 4 * a * c
        if discriminant < 0:
            return 0
        root = (-z + math.sqrt(discriminant)) / (2 * a)
        if root < 0:
            return 0
        return max(0, math.floor((root * root - variance) / s + 1e-9))

    def _releases_within(self, state: PacingState, horizon: float) -> tuple[float, float]:
        """Agents expected free by `horizon` (ready now, less waiting humans, plus releases) and its variance."""
        now, wrap = state.now, self.config.wrap_seconds
        demand = float(state.agents_ready - state.calls_waiting)
        variance = 0.0
        if state.wrap_started or not state.agents_wrapping:
            demand += sum(1 for started in state.wrap_started if wrap - (now - started) <= horizon)
        else:  # no start times: the wrap left is uniform
            share = 1.0 if horizon >= wrap else horizon / wrap
            demand += state.agents_wrapping * share
            variance += state.agents_wrapping * share * (1 - share)
        table = self._release_probabilities(horizon)
        weight = self.config.talk_release_weight
        if state.talk_started or not state.agents_talking:
            for started in state.talk_started:
                q = weight * table[min(_ELAPSED_BINS - 1, int((now - started) / _ELAPSED_BIN))]
                demand += q
                variance += q * (1 - q)
        else:  # no start times: every talking agent as if its call had just begun
            demand += state.agents_talking * table[0]
            variance += state.agents_talking * table[0] * (1 - table[0])
        return demand, variance

    def _release_probabilities(self, horizon: float) -> list[float]:
        """P(talk ends and the wrap-up too within `horizon` | talked for bin x 5 s), by elapsed bin."""
        key = (int(horizon) // 2, self._releases // 100)
        if key != self._release_key:
            self._release_key = key
            wrap = self.config.wrap_seconds
            talk = NormalDist(self._log_talk_mean, math.sqrt(max(self._log_talk_var, 1e-4)))
            table = []
            for b in range(_ELAPSED_BINS):
                elapsed = (b + 0.5) * _ELAPSED_BIN
                alive = 1 - talk.cdf(math.log(elapsed))
                end = elapsed + horizon - wrap
                ended = talk.cdf(math.log(end)) if end > 0 else 0.0
                table.append(max(0.0, ended - (1 - alive)) / alive if alive > 1e-12 else 1.0)
            self._release_table = table
        return self._release_table
