"""An inbound queue in virtual time, routed by the real ACD core, to measure the estimated-wait error.

Callers arrive as a Poisson stream at the rate that gives the scenario's load (offered erlangs per agent:
``load = rate x (talk + wrap) / agents``), wait in one queue of `duplex.acd.Acd` (longest idle), and are offered
to agents whose phones ring ``ring`` seconds before answering; talk times are lognormal, wrap-up is the queue's,
and callers hang up after an exponential patience. When a caller is put in the queue (no agent free), every
estimator in `ESTIMATORS` says how long it will wait; when an agent answers, the actual wait is recorded beside
them (a caller who hangs up first has no actual wait and is left out of the errors).

Estimators compared:

* ``ewma`` - Duplex's estimate: `Acd.estimated_wait`, position x EWMA handle time / staffed agents
  (`duplex.acd.EwmaHandleTimeEstimator`).
* ``ewma_announced`` - the same as callers hear it: whole minutes, rounded up, at least one
  (`duplex.ivr.announcements.announce_minutes`).
* ``mean_aht`` - the baseline: position x the planned average handle time (talk + wrap) / agents.
* ``les`` - last-to-enter-service: the wait of the caller who reached an agent last (ignores position).

Sans-IO like the other cores: no clock, no I/O; randomness from `random.Random` streams seeded by the scenario.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from duplex.acd import (
    Acd,
    AgentAccepted,
    AgentConfig,
    AgentOffered,
    Membership,
    OfferCancelled,
    QueueConfig,
)
from duplex.ivr.announcements import announce_minutes

__all__ = ["ESTIMATORS", "ErrorStats", "EwtRecord", "EwtScenario", "error_stats", "simulate_ewt"]

ESTIMATORS = ("ewma", "ewma_announced", "mean_aht", "les")
QUEUE = "inbound"
_ARRIVAL, _ANSWER, _TALK_END, _GIVE_UP = range(4)


@dataclass(frozen=True, slots=True, kw_only=True)
class EwtScenario:
    agents: int = 20
    load: float = 0.85  # offered erlangs per agent
    talk_mean: float = 180.0
    talk_cv: float = 1.0  # 0: every call lasts talk_mean
    wrap: float = 15.0
    ring: float = 2.0  # an offered agent answers after this
    patience_mean: float | None = 300.0  # None: nobody hangs up
    hours: float = 8.0
    initial_handle_seconds: float = 180.0  # the EWMA's start, as a new queue is configured
    seed: int = 1

    @property
    def planned_handle(self) -> float:
        return self.talk_mean + self.wrap

    @property
    def arrivals_per_second(self) -> float:
        return self.load * self.agents / self.planned_handle


@dataclass(slots=True)
class EwtRecord:
    call: int
    arrived: float
    position: int
    estimates: dict[str, float]
    actual: float | None = None  # None: hung up before an agent answered


@dataclass(frozen=True, slots=True)
class ErrorStats:
    calls: int
    mean_wait: float  # actual, seconds
    mae: float  # mean absolute error, seconds
    p90: float  # 90th percentile of the absolute error, seconds
    bias: float  # mean of estimate - actual: below 0 the estimate promises too short a wait


@dataclass(slots=True)
class _Sim:
    scenario: EwtScenario
    acd: Acd
    arrivals: random.Random
    talks: random.Random
    patience: random.Random
    heap: list[tuple[float, int, int, int]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    records: dict[int, EwtRecord] = field(default_factory=dict)
    arrived: dict[int, float] = field(default_factory=dict)
    offers: dict[int, int] = field(default_factory=dict)  # call -> the agent ringing (cancelled offers go)
    last_served_wait: float = 0.0

    def push(self, at: float, kind: int, ref: int) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), kind, ref))


def _talk_seconds(rng: random.Random, mean: float, cv: float) -> float:
    if cv <= 0:
        return mean
    sigma2 = math.log(1 + cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def simulate_ewt(scenario: EwtScenario) -> list[EwtRecord]:
    """One run: every caller who had to queue, with the estimates at entry and the actual wait."""
    queue = QueueConfig(queue_id=QUEUE, wrap_up_seconds=scenario.wrap, offer_timeout_seconds=scenario.ring + 60,
                        initial_handle_seconds=scenario.initial_handle_seconds)  # fmt: skip
    agents = [AgentConfig(agent_id=str(i), memberships=(Membership(queue_id=QUEUE),))
              for i in range(scenario.agents)]  # fmt: skip
    seed = scenario.seed
    sim = _Sim(scenario, Acd([queue], agents, rng=random.Random(f"{seed}-acd")),
               random.Random(f"{seed}-arrivals"), random.Random(f"{seed}-talk"),
               random.Random(f"{seed}-patience"))  # fmt: skip
    for agent in agents:
        sim.acd.login(agent.agent_id, 0.0)
    sim.acd.events()
    end = scenario.hours * 3600
    sim.push(sim.arrivals.expovariate(scenario.arrivals_per_second), _ARRIVAL, 0)
    while True:
        acd_at = sim.acd.get_timer()
        if sim.heap and (acd_at is None or sim.heap[0][0] < acd_at):
            at, _, kind, ref = heapq.heappop(sim.heap)
            _HANDLERS[kind](sim, ref, at, end)
        elif acd_at is not None:
            sim.acd.handle_timer(acd_at)
            at = acd_at
        else:
            break
        _carry_out(sim, at)
    return list(sim.records.values())


def _arrival(sim: _Sim, call: int, now: float, end: float) -> None:
    if now > end:
        return
    sc = sim.scenario
    sim.push(now + sim.arrivals.expovariate(sc.arrivals_per_second), _ARRIVAL, call + 1)
    call_id = str(call)
    sim.arrived[call] = now
    sim.acd.enqueue(call_id, QUEUE, now)
    _carry_out(sim, now)
    position = sim.acd.position(call_id) if sim.acd.queue_of(call_id) is not None else None
    if position is not None:  # nobody free: the caller waits and hears an estimate
        ewma = sim.acd.estimated_wait(call_id) or 0.0
        sim.records[call] = EwtRecord(call, now, position, {
            "ewma": ewma,
            "ewma_announced": 60.0 * announce_minutes(ewma),
            "mean_aht": position * sc.planned_handle / sc.agents,
            "les": sim.last_served_wait,
        })  # fmt: skip
    if sc.patience_mean is not None:
        sim.push(now + sim.patience.expovariate(1 / sc.patience_mean), _GIVE_UP, call)


def _answer(sim: _Sim, call: int, now: float, end: float) -> None:
    agent = sim.offers.pop(call, None)
    if agent is None or sim.acd.offered_call(str(agent)) != str(call):
        return  # the offer was withdrawn (the caller hung up while it rang)
    sim.acd.accept(str(agent), now)


def _talk_end(sim: _Sim, agent: int, now: float, end: float) -> None:
    sim.acd.call_ended(str(agent), now)


def _give_up(sim: _Sim, call: int, now: float, end: float) -> None:
    sim.acd.abandon(str(call), now)


_HANDLERS: dict[int, Callable[[_Sim, int, float, float], None]] = {
    _ARRIVAL: _arrival,
    _ANSWER: _answer,
    _TALK_END: _talk_end,
    _GIVE_UP: _give_up,
}


def _carry_out(sim: _Sim, now: float) -> None:
    sc = sim.scenario
    for event in sim.acd.events():
        if isinstance(event, AgentOffered):
            sim.offers[int(event.call_id)] = int(event.agent_id)
            sim.push(now + sc.ring, _ANSWER, int(event.call_id))
        elif isinstance(event, OfferCancelled):
            sim.offers.pop(int(event.call_id), None)
        elif isinstance(event, AgentAccepted):
            call = int(event.call_id)
            wait = now - sim.arrived[call]
            sim.last_served_wait = wait
            if call in sim.records:
                sim.records[call].actual = wait
            sim.push(now + _talk_seconds(sim.talks, sc.talk_mean, sc.talk_cv), _TALK_END, int(event.agent_id))


def error_stats(records: Iterable[EwtRecord], estimator: str) -> ErrorStats:
    """The estimator's error over the callers who reached an agent."""
    pairs = [(r.estimates[estimator], r.actual) for r in records if r.actual is not None]
    if not pairs:
        return ErrorStats(0, 0.0, 0.0, 0.0, 0.0)
    errors = [estimate - actual for estimate, actual in pairs]
    absolute = sorted(abs(e) for e in errors)
    p90 = absolute[min(len(absolute) - 1, math.ceil(0.9 * len(absolute)) - 1)]
    return ErrorStats(
        calls=len(pairs),
        mean_wait=statistics.fmean(actual for _, actual in pairs),
        mae=statistics.fmean(absolute),
        p90=p90,
        bias=statistics.fmean(errors),
    )
