"""Re-implementations of two open-source dialers' pacing, as baselines for the predictive pacer.

Both follow the published descriptions of the algorithms (not their code): VICIdial's `AST_VDadapt` adaptive dial
level and webitel's over-dial (`cc_wrap_over_dial`). Their inputs are what those systems measure themselves:
VICIdial counts drops (humans not connected) over the calendar day, webitel over a 60-minute window; neither sees
AMD false positives.
"""

from __future__ import annotations

import enum
import math
from collections import deque

from duplex.dialer.pacing import AgentReleased, CallResult, DialOutcome, PacingEvent, PacingState

__all__ = ["AdaptMethod", "VicidialAdaptPacer", "WebitelPacer", "webitel_wrap_over_dial"]


class AdaptMethod(enum.StrEnum):
    """What VICIdial does once the day's drop percentage is over the limit."""

    HARD_LIMIT = "ADAPT_HARD_LIMIT"  # dial level to 1.0
    AVERAGE = "ADAPT_AVERAGE"  # halve the dial level
    TAPERED = "ADAPT_TAPERED"  # scale down as the latest call time approaches


class VicidialAdaptPacer:
    """VICIdial's adaptive dial level (`AST_VDadapt`).

    Every second it samples (ready agents - calls waiting for an agent) and the agents counted for the ratio
    (ready + in call). Every 15 s the differential is the mean of the last 15 samples plus `dl_diff_target`;
    divided by the mean agent count it gives `differential_mul`, which the intensity setting scales (x(1+i/100)
    when positive, x|i/100-1| when negative) into the new `auto_dial_level`, clamped to [1, maximum_level]. If the
    last minute had more than 20 calls with over 50% dropped, the level is halved; once today's drops exceed
    `dropped_percentage` of answers (after 50 calls) the method's rule applies. Calls to place are then
    level x (ready + in call) minus the calls already active (ringing, waiting and in progress).
    """

    name = "vicidial_adapt"

    def __init__(
        self,
        *,
        initial_level: float = 1.0,
        maximum_level: float = 3.0,
        intensity: float = 0.0,
        dl_diff_target: float = 0.0,
        dropped_percentage: float = 3.0,
        method: AdaptMethod = AdaptMethod.HARD_LIMIT,
        latest_hour: float | None = None,
    ) -> None:
        self.level = initial_level
        self.maximum_level = maximum_level
        self.intensity = intensity
        self.dl_diff_target = dl_diff_target
        self.dropped_percentage = dropped_percentage
        self.method = method
        self.latest_hour = latest_hour  # TAPERED: shift-relative hour of the latest call time
        self._samples: deque[tuple[float, float]] = deque(maxlen=15)
        self._next_sample: float | None = None
        self._next_adapt: float | None = None
        self._last_minute: deque[tuple[float, bool]] = deque()  # (time, dropped) for calls resolved
        self.calls_today = 0
        self.answers_today = 0
        self.drops_today = 0

    def observe(self, event: PacingEvent) -> None:
        if isinstance(event, AgentReleased):
            return
        self.calls_today += 1
        self._last_minute.append((event.now, event.abandoned))
        if event.result is CallResult.HUMAN:
            self.answers_today += 1
            self.drops_today += event.abandoned

    def calls_to_place(self, state: PacingState) -> int:
        self._sample_and_adapt(state)
        counted_agents = state.agents_ready + state.agents_talking
        goal = math.floor(self.level * counted_agents + 0.5)
        active = state.calls_dialing + state.calls_waiting + state.agents_talking
        return max(0, goal - active)

    def _sample_and_adapt(self, state: PacingState) -> None:
        now = state.now
        if self._next_sample is None:
            self._next_sample, self._next_adapt = now, now + 15.0
        while self._next_sample <= now:
            self._samples.append(
                (state.agents_ready - state.calls_waiting, state.agents_ready + state.agents_talking)
            )
            self._next_sample += 1.0
        assert self._next_adapt is not None
        if now >= self._next_adapt:
            self._adapt(now)
            self._next_adapt = now + 15.0

    def _adapt(self, now: float) -> None:
        if not self._samples:
            return
        differential = sum(s[0] for s in self._samples) / len(self._samples) + self.dl_diff_target
        agents = sum(s[1] for s in self._samples) / len(self._samples)
        differential_pct = differential / agents * 100 if differential and agents else 0.0
        intensity_mul = self.intensity / 100
        if differential_pct < 0:
            intensity_diff = differential_pct * abs(intensity_mul - 1)
        else:
            intensity_diff = differential_pct * (intensity_mul + 1)
        level = self.level * (intensity_diff / 100 + 1)
        level = min(max(level, 1.0), self.maximum_level)
        while self._last_minute and self._last_minute[0][0] <= now - 60:
            self._last_minute.popleft()
        calls_one = len(self._last_minute)
        drops_one = sum(dropped for _, dropped in self._last_minute)
        if calls_one > 20 and drops_one / calls_one > 0.5:
            level /= 2
        drops_pct = self.drops_today / self.answers_today * 100 if self.answers_today else 0.0
        if self.calls_today > 50 and drops_pct > self.dropped_percentage:
            level = self._over_limit(level, now)
        self.level = max(level, 1.0)

    def _over_limit(self, level: float, now: float) -> float:
        if self.method is AdaptMethod.HARD_LIMIT:
            return 1.0
        if self.method is AdaptMethod.AVERAGE:
            return level / 2
        hours_left = (self.latest_hour or 0.0) - now / 3600
        # VICIdial's HHMM arithmetic: 1000 = ten hours; further away than that leaves the level as it is
        return 1.0 if hours_left < 0 else level * min(1.0, hours_left / 10)


def webitel_wrap_over_dial(
    over: float, current: float, target: float, maximum: float, q: float = 10.0
) -> float:
    """webitel's `cc_wrap_over_dial`: scale the over-dial by the abandon rate (percentages)."""
    if current >= maximum:
        return 1.0
    dx = target - current
    if dx == 0:
        dx = 0.99
    if dx > 0:
        return over + over * dx * q / 100
    return over * ((maximum - current) * (100 + q) / maximum) / 100


class WebitelPacer:
    """webitel's predictive over-dial.

    hit_rate = human answers / attempts over the last 60 minutes; the base over-dial is 1/hit_rate, adjusted by
    `webitel_wrap_over_dial` with the abandon rate of the same window (target and maximum 3%, load factor 10).
    Calls to place: over-dial x free agents minus calls already ringing.
    """

    name = "webitel"

    def __init__(
        self, *, target: float = 3.0, maximum: float = 3.0, load_factor: float = 10.0, window: float = 3600.0
    ) -> None:
        self.target = target
        self.maximum = maximum
        self.load_factor = load_factor
        self.window = window
        self._attempts: deque[tuple[float, bool, bool]] = deque()  # (time, human, abandoned)
        self._humans = 0
        self._abandons = 0

    def observe(self, event: PacingEvent) -> None:
        if isinstance(event, DialOutcome):
            human = event.result is CallResult.HUMAN
            self._attempts.append((event.now, human, event.abandoned))
            self._humans += human
            self._abandons += event.abandoned

    def over_dial(self, now: float) -> float:
        while self._attempts and self._attempts[0][0] <= now - self.window:
            _, human, abandoned = self._attempts.popleft()
            self._humans -= human
            self._abandons -= abandoned
        if not self._attempts or not self._humans:
            return 1.0
        hit_rate = self._humans / len(self._attempts)
        abandon_pct = self._abandons / self._humans * 100
        return webitel_wrap_over_dial(1 / hit_rate, abandon_pct, self.target, self.maximum, self.load_factor)

    def calls_to_place(self, state: PacingState) -> int:
        free = max(0, state.agents_ready - state.calls_waiting)
        return max(0, math.floor(free * self.over_dial(state.now) + 0.5) - state.calls_dialing)
