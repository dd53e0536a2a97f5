"""Trunk selection for outbound calls, inbound trunk matching and caller ID, sans-IO.

`TrunkSelector.pick()` takes the first enabled trunk in failover order that has both a CPS token and a free
channel, and reserves both for the call. When the attempt fails, `next_after_failure()` frees the channel and,
if the SIP status says the failure was about the trunk rather than the callee, picks the next trunk.

Failover table (`should_fail_over`):

| Outcome                                   | Fail over? | Why                                                 |
|-------------------------------------------|------------|-----------------------------------------------------|
| no response / transport error (None)      | yes        | the trunk is unreachable (Timer B/F, ICMP, TCP RST) |
| 408 Request Timeout                       | yes        | the carrier could not complete the attempt in time  |
| 401 / 407 still after our credentials     | yes        | this trunk's account is broken, another may work    |
| 403 Forbidden                             | yes        | the carrier refuses *us* (credit, route, account)   |
| 488 / 606 Not Acceptable (Here)           | 488 yes    | 488: this carrier cannot take our SDP; 606: callee  |
| 5xx (500, 502, 503, 504, ...)             | yes        | server/carrier failure                              |
| 404, 410, 484, 485 (bad or gone number)   | no         | final answer about the callee                       |
| 480, 486, 487 (unavailable, busy, cancel) | no         | final answer about the callee (or we cancelled)     |
| 600, 603, 604, 606 (6xx global failures)  | no         | RFC 3261 §21.6: definitive for every location       |
| any other 4xx, 3xx                        | no         | request or callee problem; retrying elsewhere won't |
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import phonenumbers

from duplex.telephony.ratelimit import TokenBucket

__all__ = [
    "FAILOVER_STATUSES",
    "CallerIdHeaders",
    "TrunkConfig",
    "TrunkRow",
    "TrunkSelector",
    "caller_id_headers",
    "check_allowed_entry",
    "check_host",
    "is_ip_literal",
    "match_inbound_trunk",
    "normalize_e164",
    "select_caller_id",
    "should_fail_over",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Explicit final statuses (besides 5xx) that mean "try the next trunk".
FAILOVER_STATUSES: frozenset[int] = frozenset({401, 403, 407, 408, 488})


# RFC 1123 §2.1 host names: dot-separated labels of letters, digits and inner hyphens, 63 octets each, and
# RFC 3261 §25.1 `hostname = *( domainlabel "." ) toplabel [ "." ]` (the top label does not start with a digit).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*(?!\d+\.?$){_LABEL}\.?")


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed), False for a DNS name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_host(host: str) -> str:
    """`host` stripped when it is an IP address or a DNS host name (RFC 3261 §25.1 ``host``); ValueError if not."""
    value = host.strip()
    if is_ip_literal(value) or (len(value) <= 253 and _HOSTNAME.fullmatch(value)):
        return value
    raise ValueError(f"not an IP address or DNS host name: {host!r}")


def check_allowed_entry(entry: str) -> str:
    """An ``allowed_ips`` entry: an IP address, a CIDR network, or a host name whose addresses are allowed."""
    value = entry.strip()
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        try:
            return check_host(value)
        except ValueError:
            raise ValueError(f"not an IP address, network or host name: {entry!r}") from None
    return value


def should_fail_over(sip_status: int | None) -> bool:
    """True when an outbound attempt that ended with `sip_status` (None: no response or transport error)
    should be retried on the next trunk; see the module table."""
    if sip_status is None:
        return True
    return sip_status in FAILOVER_STATUSES or 500 <= sip_status <= 599


class TrunkRow(Protocol):
    """The attributes `TrunkConfig.from_model` copies (the `duplex.db.models.routing.Trunk` row has them)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def transport(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def register(self) -> bool: ...
    @property
    def from_domain(self) -> str | None: ...
    @property
    def caller_id(self) -> str | None: ...
    @property
    def allowed_ips(self) -> list[str]: ...
    @property
    def max_cps(self) -> float: ...
    @property
    def max_channels(self) -> int: ...
    @property
    def failover_order(self) -> int: ...
    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkConfig:
    """A SIP trunk, mirroring `duplex.db.models.routing.Trunk` as an immutable value.

    `host` is an IP address or a DNS name (resolved by `trunk_dns.TrunkResolver`). `allowed_ips` entries are
    IP addresses or CIDR networks (IPv4 or IPv6) or host names (every address they resolve to is allowed);
    an invalid entry raises ValueError.
    """

    id: int
    name: str
    host: str
    port: int = 5060
    transport: str = "udp"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    register: bool = False
    from_domain: str | None = None
    caller_id: str | None = None
    allowed_ips: tuple[str, ...] = ()
    max_cps: float = 5.0
    max_channels: int = 30
    failover_order: int = 0
    enabled: bool = True
    networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    allowed_hosts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nets: list[IPNetwork] = []
        names: list[str] = []
        for entry in self.allowed_ips:
            try:
                nets.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                try:
                    names.append(check_host(entry).lower())
                except ValueError as exc:
                    raise ValueError(f"trunk {self.name!r}: bad allowed_ips entry {entry!r}") from exc
        object.__setattr__(self, "networks", tuple(nets))
        object.__setattr__(self, "allowed_hosts", tuple(names))
        if self.max_cps <= 0 or self.max_channels < 0:
            raise ValueError(f"trunk {self.name!r}: max_cps must be > 0 and max_channels >= 0")

    @classmethod
    def from_model(cls, model: TrunkRow) -> TrunkConfig:
        """Copy a `Trunk` ORM row (or anything with the same attributes)."""
        return cls(
            id=model.id,
            name=model.name,
            host=model.host,
            port=model.port,
            transport=model.transport,
            username=model.username,
            password=model.password,
            register=model.register,
            from_domain=model.from_domain,
            caller_id=model.caller_id,
            allowed_ips=tuple(model.allowed_ips or ()),
            max_cps=model.max_cps,
            max_channels=model.max_channels,
            failover_order=model.failover_order,
            enabled=model.enabled,
        )

    @property
    def domain(self) -> str:
        """The host part for From / P-Asserted-Identity URIs."""
        return self.from_domain or self.host

    @property
    def host_is_name(self) -> bool:
        """True when `host` is a DNS name that needs resolving."""
        return not is_ip_literal(self.host)

    def allows_ip(self, ip: str, resolved: Mapping[str, Collection[str]] | None = None) -> bool:
        """True when `ip` is in this trunk's allow-list (an IPv4-mapped IPv6 address matches IPv4 entries).

        `resolved` maps the allow-list's host names (lower case) to their current addresses; a name not in it
        (not resolved yet, or unresolvable) allows nothing.
        """
        addr = _parse_ip(ip)
        if addr is None:
            return False
        if any(addr in net for net in self.networks if net.version == addr.version):
            return True
        names = resolved or {}
        return any(addr == _parse_ip(a) for name in self.allowed_hosts for a in names.get(name, ()))


def _parse_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def match_inbound_trunk(
    source_ip: str, trunks: Iterable[TrunkConfig], resolved: Mapping[str, Collection[str]] | None = None
) -> TrunkConfig | None:
    """The enabled trunk whose allow-list contains `source_ip` (lowest failover_order first), or None.
    A disabled trunk's addresses are not trusted. `resolved`: see `TrunkConfig.allows_ip`."""
    ordered = sorted((t for t in trunks if t.enabled), key=lambda t: (t.failover_order, t.id))
    return next((t for t in ordered if t.allows_ip(source_ip, resolved)), None)


@dataclass(slots=True)
class _TrunkState:
    bucket: TokenBucket
    calls: set[str] = field(default_factory=set)


class TrunkSelector:
    """Chooses and reserves trunks for outbound calls: CPS token bucket plus channel count per trunk.

    `cps_burst` is the bucket size: 1.0 spaces calls evenly (1/max_cps apart), which is what carriers that
    count calls per sliding second expect.
    """

    def __init__(self, trunks: Iterable[TrunkConfig], *, cps_burst: float = 1.0, now: float = 0.0) -> None:
        self.cps_burst = cps_burst
        self._trunks: dict[int, TrunkConfig] = {}
        self._state: dict[int, _TrunkState] = {}
        self._attempts: dict[str, tuple[int | None, set[int]]] = {}  # call id -> (current trunk, tried)
        self.resolved: dict[
            str, tuple[str, ...]
        ] = {}  # allow-list host name -> addresses (trunk_dns fills it)
        self.update_trunks(trunks, now=now)

    # -- configuration ---------------------------------------------------------------------------------

    def update_trunks(self, trunks: Iterable[TrunkConfig], *, now: float) -> None:
        """Replace the trunk list; a trunk that stays keeps its channel count (and bucket if its CPS is unchanged)."""
        new = {t.id: t for t in trunks}
        state: dict[int, _TrunkState] = {}
        for tid, trunk in new.items():
            old = self._state.get(tid)
            if old is not None and old.bucket.rate == trunk.max_cps:
                state[tid] = old
            else:
                bucket = TokenBucket(trunk.max_cps, max(self.cps_burst, 1.0), now=now)
                state[tid] = _TrunkState(bucket=bucket, calls=old.calls if old else set())
        self._trunks, self._state = new, state

    @property
    def trunks(self) -> list[TrunkConfig]:
        """All trunks in failover order."""
        return sorted(self._trunks.values(), key=lambda t: (t.failover_order, t.id))

    def get(self, trunk_id: int) -> TrunkConfig | None:
        return self._trunks.get(trunk_id)

    def match_inbound(self, source_ip: str) -> TrunkConfig | None:
        """The trunk an inbound request from `source_ip` belongs to (see `match_inbound_trunk`)."""
        return match_inbound_trunk(source_ip, self._trunks.values(), self.resolved)

    # -- channels --------------------------------------------------------------------------------------

    def channels_in_use(self, trunk_id: int) -> int:
        state = self._state.get(trunk_id)
        return 0 if state is None else len(state.calls)

    def acquire_channel(self, trunk_id: int, call_id: str) -> bool:
        """Count `call_id` on the trunk (for inbound calls too). Idempotent; False when the trunk is full."""
        trunk, state = self._trunks.get(trunk_id), self._state.get(trunk_id)
        if trunk is None or state is None:
            return False
        if call_id in state.calls:
            return True
        if len(state.calls) >= trunk.max_channels:
            return False
        state.calls.add(call_id)
        return True

    def release_channel(self, trunk_id: int, call_id: str) -> None:
        """Free the channel `call_id` holds on the trunk; releasing twice (or an unknown call) is a no-op."""
        state = self._state.get(trunk_id)
        if state is not None:
            state.calls.discard(call_id)

    # -- outbound selection ----------------------------------------------------------------------------

    def _has_channel(self, trunk: TrunkConfig) -> bool:
        return trunk.enabled and len(self._state[trunk.id].calls) < trunk.max_channels

    def pick(
        self, now: float, call_id: str, *, exclude: Collection[int] = (), preferred: int | None = None
    ) -> TrunkConfig | None:
        """Reserve a CPS token and a channel for `call_id` on the first usable trunk, or return None.

        Args:
            now: current time, seconds.
            call_id: the outbound call (its channel is released with `release` or `next_after_failure`).
            exclude: trunk ids not to use (in addition to the ones this call already tried).
            preferred: a trunk to try first (for example the campaign's trunk); the others follow in order.
        """
        current, tried = self._attempts.get(call_id, (None, set()))
        if current is not None:
            self.release_channel(current, call_id)  # a new attempt replaces the current one
        candidates = self.trunks
        if preferred is not None:
            candidates.sort(key=lambda t: t.id != preferred)
        for trunk in candidates:
            if trunk.id in exclude or trunk.id in tried or not self._has_channel(trunk):
                continue
            if not self._state[trunk.id].bucket.try_acquire(now):
                continue
            self._state[trunk.id].calls.add(call_id)
            self._attempts[call_id] = (trunk.id, tried | {trunk.id})
            return trunk
        if current is not None:
            self._attempts[call_id] = (None, tried)
        return None

    def retry_after(self, now: float, *, exclude: Collection[int] = ()) -> float | None:
        """Seconds until some enabled trunk with a free channel has a CPS token, or None if all are full."""
        waits = [
            self._state[t.id].bucket.time_until_available(now)
            for t in self._trunks.values()
            if t.enabled and t.id not in exclude and len(self._state[t.id].calls) < t.max_channels
        ]
        return min(waits, default=None)

    def next_after_failure(
        self, now: float, call_id: str, trunk_id: int, sip_status: int | None
    ) -> TrunkConfig | None:
        """The attempt of `call_id` on `trunk_id` failed with `sip_status` (None: timeout/transport error).

        Frees its channel. Returns the next trunk (already reserved) when the status calls for failover and
        an untried trunk is available now; otherwise None, and the call is forgotten.
        """
        self.release_channel(trunk_id, call_id)
        if should_fail_over(sip_status):
            nxt = self.pick(now, call_id)
            if nxt is not None:
                return nxt
        self._attempts.pop(call_id, None)
        return None

    def release(self, call_id: str) -> None:
        """The call ended (or was given up): free its channel and forget its attempts. Idempotent."""
        current, _ = self._attempts.pop(call_id, (None, set()))
        if current is not None:
            self.release_channel(current, call_id)


# -- caller ID ---------------------------------------------------------------------------------------


def normalize_e164(number: str, default_region: str = "US") -> str | None:
    """`number` in E.164 (`+15551234567`) when it is a possible phone number, else None.

    National forms use `default_region` (ISO 3166 alpha-2); `00`-style international prefixes are understood.
    """
    text = number.strip()
    if not text or not any(ch.isdigit() for ch in text):
        return None
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def select_caller_id(
    campaign_caller_id: str | None, trunk: TrunkConfig | None, *, default_region: str = "US"
) -> str | None:
    """The caller ID for an outbound call in E.164: the campaign's when set and valid, else the trunk's,
    else None (the call goes out anonymous)."""
    for candidate in (campaign_caller_id, trunk.caller_id if trunk else None):
        if candidate:
            e164 = normalize_e164(candidate, default_region)
            if e164 is not None:
                return e164
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerIdHeaders:
    """Header values for an outbound INVITE. The engine adds the From tag (`;tag=...`)."""

    from_: str
    p_asserted_identity: str | None
    privacy: str | None


def _quote(display_name: str) -> str:
    escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" '


def caller_id_headers(
    caller_id: str | None, trunk: TrunkConfig, *, display_name: str = "", private: bool = False
) -> CallerIdHeaders:
    """From, P-Asserted-Identity (RFC 3325) and Privacy (RFC 3323) for an outbound call on `trunk`.

    With a caller ID and `private` false: From and PAI both carry it. With `private`: From is the RFC 3323
    anonymous URI, PAI still carries the number for the carrier (a trusted peer), and `Privacy: id` asks
    the carrier to withhold it from the callee. Without a caller ID: anonymous From, no PAI.
    """
    anonymous = '"Anonymous" <sip:anonymous@anonymous.invalid>'
    if caller_id is None:
        return CallerIdHeaders(from_=anonymous, p_asserted_identity=None, privacy="id" if private else None)
    uri = f"<sip:{caller_id}@{trunk.domain};user=phone>"
    name = _quote(display_name) if display_name else ""
    if private:
        return CallerIdHeaders(from_=anonymous, p_asserted_identity=f"{name}{uri}", privacy="id")
    return CallerIdHeaders(from_=f"{name}{uri}", p_asserted_identity=f"{name}{uri}", privacy=None)
