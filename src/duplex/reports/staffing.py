"""Staffing from expected volume: Erlang C, and a same-weekday forecast per 30-minute interval.

Erlang C models a queue where callers wait as long as it takes (M/M/N): with traffic A = calls per second x
average handle time (erlangs) and N agents, the probability a call waits is C(N, A), the service level (the
share answered within T seconds) is 1 - C(N, A) * exp(-(N - A) * T / AHT) and the average speed of answer
is C(N, A) * AHT / (N - A). It overstates the agents needed when callers abandon (no patience); say so
where the figures are shown. Pure functions: no clock, no database.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "IntervalStaffing",
    "Staffing",
    "erlang_b",
    "erlang_c",
    "forecast_intervals",
    "staffing",
    "staff_for",
]

INTERVAL_S = 1800
MAX_AGENTS = 10_000


def erlang_b(agents: int, traffic: float) -> float:
    """The Erlang B blocking probability, by the stable recursion B(k) = A B(k-1) / (k + A B(k-1))."""
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """The probability a call waits (1.0 when the agents cannot keep up: agents <= traffic)."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


@dataclass(frozen=True, slots=True, kw_only=True)
class Staffing:
    agents: int  # the fewest agents meeting the target
    traffic_erlangs: float  # calls/hour x AHT / 3600
    probability_wait: float  # Erlang C
    service_level: float  # the share answered within target_seconds with that many agents
    avg_speed_of_answer_s: float
    occupancy: float  # traffic / agents


def staff_for(agents: int, calls_per_hour: float, aht_s: float, target_seconds: float) -> Staffing:
    """The figures for a given number of agents."""
    traffic = calls_per_hour * aht_s / 3600
    pw = erlang_c(agents, traffic) if traffic > 0 else 0.0
    if traffic == 0:
        sl, asa = 1.0, 0.0  # nobody calls, nobody waits
    elif agents <= traffic:
        sl, asa = 0.0, math.inf
    else:
        sl = 1 - pw * math.exp(-(agents - traffic) * target_seconds / aht_s)
        asa = pw * aht_s / (agents - traffic)
    return Staffing(agents=agents, traffic_erlangs=traffic, probability_wait=pw, service_level=sl,
                    avg_speed_of_answer_s=asa, occupancy=traffic / agents if agents else 0.0)  # fmt: skip


def staffing(calls_per_hour: float, aht_s: float, service_level: float, target_seconds: float) -> Staffing:
    """The fewest agents answering `service_level` (0..1) of calls within `target_seconds`.

    Raises ValueError for a non-positive AHT, a target level outside [0, 1), or volume needing more than
    MAX_AGENTS agents."""
    if aht_s <= 0 or calls_per_hour < 0 or not 0 <= service_level < 1 or target_seconds < 0:
        raise ValueError("need aht > 0, calls_per_hour >= 0, 0 <= service_level < 1, target_seconds >= 0")
    if calls_per_hour == 0:
        return staff_for(0, 0, aht_s, target_seconds)
    agents = max(1, math.floor(calls_per_hour * aht_s / 3600) + 1)
    while agents <= MAX_AGENTS:
        result = staff_for(agents, calls_per_hour, aht_s, target_seconds)
        if result.service_level >= service_level:
            return result
        agents += 1
    raise ValueError(f"more than {MAX_AGENTS} agents needed")


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalStaffing:
    start: dt.datetime  # the interval's start (UTC)
    expected_calls: float  # mean arrivals in this interval over the weeks read
    staffing: Staffing


def forecast_intervals(
    arrivals_ms: Iterable[int],
    day: dt.date,
    *,
    weeks: int,
    aht_s: float,
    service_level: float,
    target_seconds: float,
) -> list[IntervalStaffing]:
    """Agents per 30-minute interval (UTC) of `day`, from the mean arrivals of the same interval on the same
    weekday of the `weeks` weeks before it (a week without calls counts as 0)."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    counts = [0] * (86_400 // INTERVAL_S)
    firsts = {day - dt.timedelta(weeks=w) for w in range(1, weeks + 1)}
    for ms in arrivals_ms:
        at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        if at.date() in firsts:
            counts[(at.hour * 3600 + at.minute * 60 + at.second) // INTERVAL_S] += 1
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
    out = []
    for i, n in enumerate(counts):
        expected = n / weeks
        out.append(
            IntervalStaffing(
                start=midnight + dt.timedelta(seconds=i * INTERVAL_S),
                expected_calls=expected,
                staffing=staffing(expected * 3600 / INTERVAL_S, aht_s, service_level, target_seconds),
            )
        )
    return out
