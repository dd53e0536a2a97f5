"""The cheap screen in front of SIP parsing, sans-IO: decides on the raw bytes of a datagram whether it is worth
parsing at all.

Full parsing costs tens of microseconds for an ordinary message and tens of milliseconds for a 60 KB one with
thousands of header lines; a flood of such messages from one source used to fill the UDP receive buffer, so the
kernel dropped the OPTIONS pings and calls of everyone else. The screen costs a few microseconds and looks at:

1. **Source.** Trusted sources (the loopback allow-list, trunk addresses, registered phones) are never
   screened: they are served first whatever else arrives. A banned source is dropped here (checked after
   the cheap checks below, since it costs more).
2. **Size and header count.** Larger than ``max_size`` bytes, or more than ``max_headers`` lines before the
   blank line: dropped (no legitimate UDP message comes close, RFC 3261 §18.1.1 moves large requests to TCP).
3. **Method.** The start line must begin with a token and a space (a request method or ``SIP/2.0``): anything
   else could only be answered 400.
4. **Rate.** Each untrusted source gets ``source_rate`` messages per second (any method; the per-method
   limits of `flood.FloodGuard` still apply after parsing), and all untrusted sources together
   ``untrusted_rate``, so a distributed flood cannot take the CPU that trusted peers need.

Dropped messages are only counted: answering a flood costs bandwidth and tells a scanner we exist.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from duplex.telephony.ratelimit import KeyedRateLimiter, TokenBucket

__all__ = ["PreParseGuard", "PreParseLimits", "ScreenResult"]

_TOKEN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~/")


class ScreenResult(enum.StrEnum):
    TRUSTED = "trusted"
    ADMITTED = "admitted"
    BANNED = "banned"
    TOO_LARGE = "too_large"
    TOO_MANY_HEADERS = "too_many_headers"
    BAD_START = "bad_start"
    RATE = "rate"


@dataclass(frozen=True, slots=True, kw_only=True)
class PreParseLimits:
    max_size: int = 16_384
    max_headers: int = 128
    source_rate: float = 20.0
    source_burst: float = 40.0
    untrusted_rate: float = 200.0
    untrusted_burst: float = 400.0
    max_sources: int = 100_000
    trust_ttl: float = 2.0  # how long a source's trusted/untrusted answer is reused


class PreParseGuard:
    """Screens raw datagrams by source before they are parsed.

    Args:
        trusted: True for a source IP that is never screened (called at most once per ``trust_ttl``).
        banned: True for a source IP whose messages are dropped (called for untrusted sources).
        limits: sizes and rates.
    """

    def __init__(self, *, trusted: Callable[[str], bool], banned: Callable[[str, float], bool],
                 limits: PreParseLimits | None = None) -> None:  # fmt: skip
        self.limits = limits or PreParseLimits()
        self.trusted = trusted
        self.banned = banned
        self._sources = KeyedRateLimiter(self.limits.source_rate, self.limits.source_burst,
                                         max_keys=self.limits.max_sources)  # fmt: skip
        self._untrusted = TokenBucket(self.limits.untrusted_rate, self.limits.untrusted_burst)
        self._trust: OrderedDict[str, tuple[bool, float]] = OrderedDict()  # ip -> (trusted, until)
        self.counts: dict[str, int] = {}

    def admit(self, data: bytes, ip: str, now: float) -> bool:
        """Whether to parse ``data`` from ``ip``; a False result is counted by reason in `counts`."""
        result = self.screen(data, ip, now)
        if result is ScreenResult.TRUSTED or result is ScreenResult.ADMITTED:
            return True
        self.counts[result] = self.counts.get(result, 0) + 1
        return False

    def screen(self, data: bytes, ip: str, now: float) -> ScreenResult:
        if self._is_trusted(ip, now):
            return ScreenResult.TRUSTED
        limits = self.limits
        if len(data) > limits.max_size:
            return ScreenResult.TOO_LARGE
        end = data.find(b"\r\n\r\n")
        if data.count(b"\n", 0, end if end >= 0 else len(data)) > limits.max_headers:
            return ScreenResult.TOO_MANY_HEADERS
        if not _starts_with_token(data):
            return ScreenResult.BAD_START
        if not self._sources.allow(ip, now):
            return ScreenResult.RATE
        if self.banned(ip, now):  # after the cheap checks: it normalises the address, which costs more
            return ScreenResult.BANNED
        if not self._untrusted.try_acquire(now):
            return ScreenResult.RATE
        return ScreenResult.ADMITTED

    def _is_trusted(self, ip: str, now: float) -> bool:
        known = self._trust.get(ip)
        if known is not None and now < known[1]:
            return known[0]
        trusted = self.trusted(ip)
        self._trust[ip] = (trusted, now + self.limits.trust_ttl)
        self._trust.move_to_end(ip)
        while len(self._trust) > self.limits.max_sources:
            self._trust.popitem(last=False)
        return trusted

    def forget_trust(self) -> None:
        """Ask `trusted` again for every source (a phone registered, a trunk was added)."""
        self._trust.clear()

    def handle_timer(self, now: float) -> None:
        """Forget full buckets and expired trust answers (call about once a second)."""
        self._sources.purge(now)
        for ip in [ip for ip, (_, until) in self._trust.items() if until <= now]:
            del self._trust[ip]


def _starts_with_token(data: bytes) -> bool:
    # RFC 3261 §7.1: "Request-Line = Method SP Request-URI SP SIP-Version"; a response starts "SIP/2.0 ".
    # Leading CRLFs are allowed before a message (§7.5).
    start = data.lstrip(b"\r\n")[:24]
    space = start.find(b" ")
    return space > 0 and all(byte in _TOKEN_BYTES for byte in start[:space])
