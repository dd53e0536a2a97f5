"""Dial pacing: how many calls to place now, as a sans-IO core.

A pacer is fed what happened (`DialOutcome`, `AgentReleased`) and asked, with a `PacingState` snapshot that
carries `now`, how many new calls it wants. It never reads a clock, a socket or the global random module, so the
live dialer and the simulator (`duplex.sim`) run the same object. Whatever a pacer asks for passes through a
`DialGate`, which holds the trunk's calls-per-second and channel limits in every mode.

This module has the state and event values, the gate and the simple modes (progressive, power, open-loop
Poisson); the anchors' algorithms are in `pacing_anchors`, the closed-loop predictive pacer in `pacing_predictive`.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AgentReleased",
    "CallResult",
    "DialGate",
    "DialOutcome",
    "Pacer",
    "PacingEvent",
    "PacingState",
    "PoissonPacer",
    "PowerPacer",
    "ProgressivePacer",
    "TrunkLimits",
    "erlang_b",
    "offered_load_for_blocking",
]


class CallResult(enum.StrEnum):
    """What the dialer saw of a placed call (for an answered call: the AMD verdict, which can be wrong)."""

    HUMAN = "human"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingState:
    """The center as the pacer sees it at `now`."""

    now: float
    agents_ready: int  # logged in and waiting for a call
    agents_talking: int  # on a call (outbound or inbound)
    agents_wrapping: int  # after-call work
    calls_dialing: int  # placed and not yet resolved (ringing or in AMD analysis)
    calls_waiting: int = 0  # answered humans waiting for an agent (the 2-s safe-harbour window)
    # when each talking / wrapping agent's call or wrap-up began (optional: pacers that model release use them)
    talk_started: tuple[float, ...] = ()
    wrap_started: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        counts = (self.agents_ready, self.agents_talking, self.agents_wrapping, self.calls_dialing)
        if min(*counts, self.calls_waiting) < 0:
            raise ValueError("pacing state counts must not be negative")

    @property
    def agents_logged_in(self) -> int:
        return self.agents_ready + self.agents_talking + self.agents_wrapping


@dataclass(frozen=True, slots=True, kw_only=True)
class DialOutcome:
    """A placed call was resolved: failed, detected as a machine, or (HUMAN) connected or abandoned."""

    now: float
    placed_at: float
    result: CallResult
    connected: bool = False  # HUMAN only: reached an agent; False for a HUMAN means abandoned (dropped)

    @property
    def abandoned(self) -> bool:
        return self.result is CallResult.HUMAN and not self.connected


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReleased:
    """An agent finished a call and its wrap-up and is ready again; `handle_seconds` = talk + wrap."""

    now: float
    handle_seconds: float


PacingEvent = DialOutcome | AgentReleased


class Pacer(Protocol):
    """The dial-mode interface: observe outcomes, answer how many calls to place now (before trunk limits)."""

    name: str

    def observe(self, event: PacingEvent) -> None: ...

    def calls_to_place(self, state: PacingState) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkLimits:
    """A trunk's capacity: new calls per second (token bucket with `burst`) and simultaneous channels."""

    cps: float
    channels: int
    burst: float = 1.0

    def __post_init__(self) -> None:
        if self.cps <= 0 or self.channels <= 0 or self.burst < 1:
            raise ValueError("trunk limits: cps and channels must be > 0 and burst >= 1")


class DialGate:
    """Cuts a pacer's wish down to what the trunk allows: never over `cps` (token bucket) or `channels`."""

    def __init__(self, limits: TrunkLimits) -> None:
        self.limits = limits
        self._tokens = limits.burst
        self._last: float | None = None
        self.refused = 0  # calls a pacer asked for that the limits held back

    def admit(self, now: float, wanted: int, channels_in_use: int) -> int:
        """Return how many of `wanted` calls may be placed at `now`; the caller places exactly that many."""
        if self._last is not None and now < self._last:
            raise ValueError("time went backwards")
        if self._last is not None:
            self._tokens = min(self.limits.burst, self._tokens + (now - self._last) * self.limits.cps)
        self._last = now
        free_channels = max(0, self.limits.channels - channels_in_use)
        allowed = min(max(0, wanted), free_channels, int(self._tokens + 1e-9))
        self._tokens -= allowed
        self.refused += max(0, wanted) - allowed
        return allowed


class ProgressivePacer:
    """One line per free agent: never more calls ringing than agents ready to take them."""

    name = "progressive"

    def observe(self, event: PacingEvent) -> None:
        return None

    def calls_to_place(self, state: PacingState) -> int:
        return max(0, state.agents_ready - state.calls_dialing - state.calls_waiting)


class PowerPacer:
    """A fixed number of lines per free agent (`ratio` 2.0 = two calls ringing for each ready agent)."""

    def __init__(self, ratio: float, *, name: str = "power") -> None:
        if ratio < 1:
            raise ValueError("power ratio must be >= 1")
        self.ratio = ratio
        self.name = name

    def observe(self, event: PacingEvent) -> None:
        return None

    def calls_to_place(self, state: PacingState) -> int:
        lines = math.floor(self.ratio * max(0, state.agents_ready - state.calls_waiting) + 0.5)
        return max(0, lines - state.calls_dialing)


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of an M/M/c/c loss system (the recursion B_k = A·B_{k-1} / (k + A·B_{k-1}))."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def offered_load_for_blocking(servers: int, blocking: float) -> float:
    """The offered load (Erlangs) at which `servers` block exactly `blocking` of arrivals (bisection)."""
    low, high = 0.0, float(servers) * 4 + 10
    for _ in range(60):
        mid = (low + high) / 2
        if erlang_b(servers, mid) < blocking:
            low = mid
        else:
            high = mid
    return low


class PoissonPacer:
    """Open-loop pacing: dials as a Poisson process whose rate ignores the center's state.

    The rate is set once per staffing level from the true parameters: humans then arrive as a Poisson stream and
    the agents form an Erlang-B loss system, so the rate is the one at which blocking equals `blocking`.
    """

    name = "poisson"

    def __init__(
        self,
        *,
        rng: random.Random,
        p_connect: float,
        handle_seconds: float,
        blocking: float,
        start: float = 0.0,
    ) -> None:
        if not 0 < p_connect <= 1 or handle_seconds <= 0 or not 0 < blocking < 1:
            raise ValueError("poisson pacer: p_connect in (0, 1], handle_seconds > 0, blocking in (0, 1)")
        self._rng = rng
        self._p_connect = p_connect
        self._handle = handle_seconds
        self._blocking = blocking
        self._rates: dict[int, float] = {}
        self._next: float = start
        self._rate = 0.0

    def rate(self, agents: int) -> float:
        """Dials per second for `agents` logged in."""
        if agents not in self._rates:
            load = offered_load_for_blocking(agents, self._blocking) if agents else 0.0
            self._rates[agents] = load / self._handle / self._p_connect
        return self._rates[agents]

    def observe(self, event: PacingEvent) -> None:
        return None

    def calls_to_place(self, state: PacingState) -> int:
        rate = self.rate(state.agents_logged_in)
        if rate != self._rate:
            # staffing changed the rate: the next arrival is redrawn from now (the process is memoryless)
            self._rate = rate
            self._next = state.now + (self._rng.expovariate(rate) if rate > 0 else 0.0)
        if rate <= 0:
            return 0
        due = 0
        while self._next <= state.now:
            due += 1
            self._next += self._rng.expovariate(rate)
        return due
