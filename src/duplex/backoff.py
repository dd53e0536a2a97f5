"""Capped exponential backoff with jitter, shared by everything that retries (webhooks, trunk registration)."""

from __future__ import annotations

import random


def backoff_delay(
    failures: int, *, base: float, cap: float, rng: random.Random, jitter_floor: float
) -> float:
    """Seconds to wait after the `failures`-th consecutive failure: `base * 2**(failures-1)`, at most `cap`,
    times a random factor in [jitter_floor, 1) so that many retriers do not fire in lockstep."""
    delay = min(cap, base * 2.0 ** max(0, failures - 1))
    return delay * (jitter_floor + (1.0 - jitter_floor) * rng.random())
