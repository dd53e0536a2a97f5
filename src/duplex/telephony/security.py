"""Security policy, sans-IO: toll-fraud rules for INVITEs, auth-failure throttling and bans, request floods.

Toll-fraud matrix (`authorize_invite`); "own" = one of Duplex's inbound numbers/DIDs in any normalised form:

| Source \\ target              | own number | agent extension | external number          | anything else |
|------------------------------|------------|-----------------|--------------------------|---------------|
| unauthenticated (internet)   | allow      | 407 challenge   | 407 if allow_external,   | 404           |
|                              |            |                 | else 403                 |               |
| trunk (allowed IP)           | allow      | allow           | 403 (no trunk relay)     | 404           |
| authenticated agent phone    | allow      | allow           | allow if allow_external, | 404           |
|                              |            |                 | else 403                 |               |

A carrier delivering a call to an agent's extension (a DID mapped to an extension) is ordinary inbound
traffic; toll fraud is a trunk relaying back out to the PSTN, or an unauthenticated source reaching an external
number. An unauthenticated source never reaches an extension or an external number: the 407 only lets a real phone
authenticate and try again (`challenge=True`), with every wrong answer counted by `AuthFailureTracker`. Pass
`challenge_unauthenticated=False` to answer 403 instead.

`AuthFailureTracker` responses: below `throttle_after` failures in `window` seconds a source is served
normally; from `throttle_after` on it gets **403 Forbidden without a challenge** (no further password guesses
are possible and a legitimate phone shows an error); from `ban_after` on it is **banned for `ban_duration`: its
requests are dropped silently** (no response costs no bandwidth and tells a scanner nothing). We chose 403 over
503 + Retry-After because a 503 makes a phone or proxy fail over and retry, which is the opposite of what a
guessing attack should get; SIP has no 429.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from duplex.telephony.ratelimit import KeyedRateLimiter
from duplex.telephony.trunks import normalize_e164

__all__ = [
    "AuthFailureTracker",
    "Decision",
    "RequestRateLimiter",
    "Verdict",
    "VerdictAction",
    "authorize_invite",
    "number_variants",
]

_VISUAL_SEPARATORS = str.maketrans("", "", " -.()/")


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Whether an INVITE may proceed; if not, the status to answer. `challenge`: answer 407 with a challenge."""

    allow: bool
    status_code: int
    reason: str
    challenge: bool = False


def _user_part(target: str) -> str:
    text = target.strip()
    for scheme in ("sips:", "sip:", "tel:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.split("@", 1)[0].split(";", 1)[0]
    return text.translate(_VISUAL_SEPARATORS)


def number_variants(number: str, default_region: str = "US") -> set[str]:
    """The forms under which `number` may be dialled: as written (without separators), and, when it is a phone
    number, E.164 with and without `+`, the national significant number and the national dialling form."""
    raw = _user_part(number)
    variants = {raw} if raw else set()
    e164 = normalize_e164(raw, default_region) if len(raw.lstrip("+")) > 6 else None
    if e164 is not None:
        parsed = phonenumbers.parse(e164)
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        variants |= {e164, e164[1:], str(parsed.national_number), national.translate(_VISUAL_SEPARATORS)}
    return variants


def _canonical(number: str, default_region: str) -> str:
    raw = _user_part(number)
    e164 = normalize_e164(raw, default_region) if len(raw.lstrip("+")) > 6 else None
    return e164 or raw


def _is_external(target: str, default_region: str) -> bool:
    raw = _user_part(target)
    return len(raw.lstrip("+")) > 6 and normalize_e164(raw, default_region) is not None


def authorize_invite(
    *,
    source_authenticated: bool,
    source_is_trunk: bool,
    target: str,
    own_numbers: set[str],
    agent_extensions: set[str],
    allow_external: bool = False,
    challenge_unauthenticated: bool = True,
    default_region: str = "US",
) -> Decision:
    """Apply the toll-fraud matrix in the module docstring.

    Args:
        source_authenticated: the INVITE carried valid digest credentials of an agent phone.
        source_is_trunk: the source IP is in an enabled trunk's allow-list (wins over `source_authenticated`).
        target: the Request-URI user part (a full `sip:`/`tel:` URI is accepted too).
        own_numbers: Duplex's inbound numbers and DIDs (E.164 or short, like 1001).
        agent_extensions: extensions of agents' phones.
        allow_external: whether authenticated phones may dial external numbers through a trunk.
        challenge_unauthenticated: answer 407 (instead of 403) where authentication could help.
        default_region: region for national number forms.
    """
    target_key = _canonical(target, default_region)
    own = {_canonical(n, default_region) for n in own_numbers}
    extensions = {_user_part(e) for e in agent_extensions}
    if not target_key:
        return Decision(allow=False, status_code=404, reason="empty target")
    if target_key in own:
        return Decision(allow=True, status_code=0, reason="own number")
    is_extension = target_key in extensions
    is_external = not is_extension and _is_external(target_key, default_region)
    if not is_extension and not is_external:
        return Decision(allow=False, status_code=404, reason="unknown number")
    if source_is_trunk:
        if is_extension:
            return Decision(allow=True, status_code=0, reason="extension")
        return Decision(allow=False, status_code=403, reason="trunks may not relay to external numbers")
    if source_authenticated:
        if is_extension or allow_external:
            return Decision(
                allow=True, status_code=0, reason="extension" if is_extension else "external call"
            )
        return Decision(allow=False, status_code=403, reason="external calls not allowed")
    if challenge_unauthenticated and (is_extension or allow_external):
        return Decision(allow=False, status_code=407, reason="authentication required", challenge=True)
    return Decision(allow=False, status_code=403, reason="unauthenticated source")


# -- auth failures -------------------------------------------------------------------------------------


class VerdictAction(enum.StrEnum):
    ALLOW = "allow"  # process the request normally
    REJECT = "reject"  # answer `status_code` (403) without a challenge
    DROP = "drop"  # banned: send nothing


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    action: VerdictAction
    status_code: int | None = None
    until: float | None = None  # DROP: when the ban ends


_ALLOW = Verdict(action=VerdictAction.ALLOW)


def _networks(entries: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)


def _normalise_ip(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _in_networks(ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(_normalise_ip(ip))
    except ValueError:
        return False
    return any(addr in net for net in networks if net.version == addr.version)


class AuthFailureTracker:
    """Counts authentication failures per source IP; throttles, then bans.

    Memory is bounded: at most `max_sources` IPs with recent failures and `max_bans` bans are kept, the least
    recently active forgotten first, so a scan from millions of addresses cannot exhaust memory. Allow-listed
    addresses and networks (trunk IPs, 127.0.0.1) are never throttled or banned.
    """

    def __init__(
        self,
        *,
        window: float = 60.0,
        throttle_after: int = 5,
        ban_after: int = 10,
        ban_duration: float = 3600.0,
        max_sources: int = 100_000,
        max_bans: int = 100_000,
        allow_list: Iterable[str] = ("127.0.0.1", "::1"),
    ) -> None:
        if not 0 < throttle_after <= ban_after:
            raise ValueError("need 0 < throttle_after <= ban_after")
        self.window, self.throttle_after, self.ban_after = window, throttle_after, ban_after
        self.ban_duration, self.max_sources, self.max_bans = ban_duration, max_sources, max_bans
        self._allow = _networks(allow_list)
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._bans: OrderedDict[str, float] = OrderedDict()  # ip -> ban end

    def set_allow_list(self, entries: Iterable[str]) -> None:
        """Replace the allow-list (IPs or CIDRs); lifts any ban or count of the newly allowed addresses."""
        self._allow = _networks(entries)
        for table in (self._failures, self._bans):
            for ip in [ip for ip in table if self.is_allowed(ip)]:
                del table[ip]

    def is_allowed(self, ip: str) -> bool:
        return _in_networks(ip, self._allow)

    def __len__(self) -> int:
        """How many sources are tracked (failures plus bans)."""
        return len(self._failures) + len(self._bans)

    def check(self, ip: str, now: float) -> Verdict:
        """What to do with a new request from `ip` before processing it."""
        ip = _normalise_ip(ip)
        until = self._bans.get(ip)
        if until is not None:
            if now < until:
                return Verdict(action=VerdictAction.DROP, until=until)
            del self._bans[ip]
        times = self._failures.get(ip)
        if times is not None:
            self._trim(times, now)
            if len(times) >= self.throttle_after:
                return Verdict(action=VerdictAction.REJECT, status_code=403)
        return _ALLOW

    def record_failure(self, ip: str, now: float) -> Verdict:
        """A wrong digest answer, or an unauthenticated request refused by policy. Returns the new verdict."""
        ip = _normalise_ip(ip)
        if self.is_allowed(ip):
            return _ALLOW
        times = self._failures.get(ip)
        if times is None:
            times = deque(maxlen=self.ban_after)
            self._failures[ip] = times
            while len(self._failures) > self.max_sources:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(ip)
        self._trim(times, now)
        times.append(now)
        if len(times) >= self.ban_after:
            del self._failures[ip]
            self._bans[ip] = now + self.ban_duration
            self._bans.move_to_end(ip)
            while len(self._bans) > self.max_bans:
                self._bans.popitem(last=False)
            return Verdict(action=VerdictAction.DROP, until=now + self.ban_duration)
        return self.check(ip, now)

    def record_success(self, ip: str) -> None:
        """A successful authentication resets the source's failure count (a ban stays until it expires)."""
        self._failures.pop(_normalise_ip(ip), None)

    def unban(self, ip: str) -> None:
        ip = _normalise_ip(ip)
        self._bans.pop(ip, None)
        self._failures.pop(ip, None)

    def get_timer(self) -> float | None:
        """The earliest ban end (call `handle_timer` then to free memory)."""
        return min(self._bans.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """Forget ended bans and sources whose failures all left the window."""
        for ip in [ip for ip, until in self._bans.items() if until <= now]:
            del self._bans[ip]
        for ip in list(self._failures):
            times = self._failures[ip]
            self._trim(times, now)
            if not times:
                del self._failures[ip]

    def _trim(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()


class RequestRateLimiter:
    """Per-source INVITE/REGISTER flood control: a token bucket per (source IP, method).

    Over the limit, the engine should drop the request (UDP) or answer 503 with `Retry-After:
    ceil(retry_after(...))` for a TCP peer that is a known trunk. Allow-listed sources are never limited.
    """

    def __init__(
        self,
        *,
        rate: float = 10.0,
        burst: float = 20.0,
        max_sources: int = 100_000,
        allow_list: Iterable[str] = ("127.0.0.1", "::1"),
    ) -> None:
        self._limiter = KeyedRateLimiter(rate, burst, max_keys=max_sources)
        self._allow = _networks(allow_list)

    def __len__(self) -> int:
        return len(self._limiter)

    def allow(self, ip: str, method: str, now: float) -> bool:
        """Count one request; False means over the limit."""
        ip = _normalise_ip(ip)
        if _in_networks(ip, self._allow):
            return True
        return self._limiter.allow((ip, method.upper()), now)

    def retry_after(self, ip: str, method: str, now: float) -> float:
        return self._limiter.retry_after((_normalise_ip(ip), method.upper()), now)

    def handle_timer(self, now: float) -> None:
        """Forget idle sources (their buckets are full again)."""
        self._limiter.purge(now)
