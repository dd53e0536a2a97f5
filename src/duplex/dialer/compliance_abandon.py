"""A campaign's abandon-rate ledger: live answers and abandons with their times, and the regulatory rates.

Periods: the campaign's life while it is younger than 30 days (US TSR: per campaign under 30 days), the rolling
30 days, and the rolling 24 hours (UK Ofcom). Estimated AMD false positives (humans the detector hung up on) are
added as abandons: for `n` live answers, n * fp / (1 - fp) more humans answered and every one was abandoned.
It also remembers each number's last abandoned call for the 72-hour re-call rule.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["AbandonLedger", "AbandonRates"]

_DAY = timedelta(hours=24)
_MONTH = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class AbandonRates:
    live: int
    abandoned: int
    estimated_false_positives: float

    @property
    def rate(self) -> float:
        humans = self.live + self.estimated_false_positives
        return (self.abandoned + self.estimated_false_positives) / humans if humans else 0.0


class AbandonLedger:
    def __init__(self, *, campaign_started: datetime, amd_false_positive: float = 0.0) -> None:
        if not 0 <= amd_false_positive < 1:
            raise ValueError("amd_false_positive must be in [0, 1)")
        self.campaign_started = campaign_started
        self._fp_ratio = amd_false_positive / (1 - amd_false_positive)
        self._times: list[datetime] = []  # live answers in time order
        self._abandoned_prefix: list[int] = [0]  # abandons among the first k answers
        self._last_abandoned: dict[str, datetime] = {}

    def record(self, *, at: datetime, phone: str, abandoned: bool) -> None:
        """A live (human) answer: connected to an agent, or abandoned."""
        if self._times and at < self._times[-1]:
            raise ValueError("ledger entries must be recorded in time order")
        self._times.append(at)
        self._abandoned_prefix.append(self._abandoned_prefix[-1] + abandoned)
        if abandoned:
            self._last_abandoned[phone] = at

    def last_abandoned(self, phone: str) -> datetime | None:
        return self._last_abandoned.get(phone)

    def since(self, start: datetime) -> AbandonRates:
        first = bisect.bisect_left(self._times, start)
        live = len(self._times) - first
        abandoned = self._abandoned_prefix[-1] - self._abandoned_prefix[first]
        return AbandonRates(live, abandoned, live * self._fp_ratio)

    def rates(self, now: datetime) -> dict[str, float]:
        """The rates that apply at `now`, by period name."""
        rates = {"rolling_24h": self.since(now - _DAY).rate, "rolling_30d": self.since(now - _MONTH).rate}
        if now - self.campaign_started < _MONTH:
            rates["campaign_life"] = self.since(self.campaign_started).rate
        return rates
