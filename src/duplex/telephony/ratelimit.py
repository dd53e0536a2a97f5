"""Token buckets with time as an argument: the CPS limit of a trunk and the per-source request limit.

A bucket holds up to `burst` tokens and gains `rate` tokens per second. Every admitted event takes one token, so
over any time window of length T at most `burst + rate * T` events are admitted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["KeyedRateLimiter", "TokenBucket"]


class TokenBucket:
    """One token bucket. It starts full; a clock that goes backwards adds no tokens."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float = 1.0, *, now: float = 0.0) -> None:
        """Args:
        rate: tokens added per second (> 0).
        burst: the bucket size, the most events admitted at one instant (>= 1).
        now: the time the bucket is created.
        """
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = self.burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def available(self, now: float) -> float:
        """The tokens in the bucket at `now`."""
        self._refill(now)
        return self._tokens

    def try_acquire(self, now: float) -> bool:
        """Take one token if there is one. Returns True when the event is admitted."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def time_until_available(self, now: float) -> float:
        """Seconds from `now` until one token is there (0.0 when it is there already)."""
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def is_full(self, now: float) -> bool:
        """True when the bucket is full, that is indistinguishable from a new one."""
        return self.available(now) >= self.burst


class KeyedRateLimiter:
    """One token bucket per key (a source IP, or IP and method) with bounded memory.

    At most `max_keys` buckets are kept; the least recently used one is forgotten first. Forgetting a bucket
    can only be generous to that key (a new bucket starts full), never unfair to another one.
    """

    def __init__(self, rate: float, burst: float = 1.0, *, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys}")
        TokenBucket(rate, burst)  # validates the arguments once
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: Hashable, now: float) -> bool:
        """Count one request from `key` at `now`; False means over the limit (reject or drop it)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, now=now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.try_acquire(now)

    def retry_after(self, key: Hashable, now: float) -> float:
        """Seconds until `key` may send again (0.0 for an unknown key)."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.time_until_available(now)

    def purge(self, now: float) -> int:
        """Forget every full bucket (they behave like new ones). Returns how many were forgotten."""
        full = [key for key, bucket in self._buckets.items() if bucket.is_full(now)]
        for key in full:
            del self._buckets[key]
        return len(full)
