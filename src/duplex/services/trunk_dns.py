"""Trunk host names: asynchronous resolution with a time-bounded cache.

RFC 3263 §4.2: a client that has a host name "MUST use an A or AAAA record lookup" when no NAPTR or SRV records
apply, and §4.3 "the client SHOULD try the next" address when one fails (timeout, 503). We do the A/AAAA
part with ``loop.getaddrinfo`` (the system resolver in a worker thread, so the event loop never blocks).
There is no DNS TTL in getaddrinfo's answer, so `AddressCache` keeps a name for `ttl` seconds and then
resolves it again; a failed lookup is retried after `negative_ttl` and the last good addresses stay in use
meanwhile (a carrier should not vanish because one lookup timed out).

`AddressCache` is the sans-IO part (time is an argument); `TrunkResolver` is its asyncio shell. IP literals
never reach the resolver.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from duplex.sip.events import Address
from duplex.telephony.trunks import TrunkConfig, is_ip_literal

__all__ = ["AddressCache", "TrunkDnsError", "TrunkResolver", "system_lookup"]

log = logging.getLogger("duplex.services.trunk_dns")

Lookup = Callable[[str], Awaitable[tuple[str, ...]]]


class TrunkDnsError(LookupError):
    """A trunk host name has no usable address (not found, or the resolver failed)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"cannot resolve trunk host {host!r}: {reason}")
        self.host = host
        self.reason = reason


@dataclass(slots=True)
class _Entry:
    addresses: tuple[str, ...]  # the last good answer (kept through failures)
    expires_at: float
    error: str | None = None


class AddressCache:
    """Host name -> addresses, each answer good for `ttl` seconds (a failure for `negative_ttl`)."""

    def __init__(self, *, ttl: float = 60.0, negative_ttl: float = 5.0) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self._entries: dict[str, _Entry] = {}

    def fresh(self, host: str, now: float) -> bool:
        """Whether `host` has an answer (good or failed) that has not expired."""
        entry = self._entries.get(host.lower())
        return entry is not None and now < entry.expires_at

    def addresses(self, host: str) -> tuple[str, ...]:
        """The last good addresses of `host` (possibly expired), empty when never resolved."""
        entry = self._entries.get(host.lower())
        return entry.addresses if entry is not None else ()

    def error(self, host: str) -> str | None:
        """Why the last lookup of `host` failed, None after a success."""
        entry = self._entries.get(host.lower())
        return entry.error if entry is not None else None

    def store(self, host: str, addresses: tuple[str, ...], now: float) -> None:
        self._entries[host.lower()] = _Entry(addresses=addresses, expires_at=now + self.ttl)

    def fail(self, host: str, reason: str, now: float) -> None:
        self._entries[host.lower()] = _Entry(addresses=self.addresses(host), expires_at=now + self.negative_ttl,
                                             error=reason)  # fmt: skip

    def due(self, hosts: Iterable[str], now: float) -> list[str]:
        """The names among `hosts` that need a lookup now (never resolved or expired), lower case, once each."""
        names = dict.fromkeys(h.lower() for h in hosts if not is_ip_literal(h))
        return [h for h in names if not self.fresh(h, now)]


async def system_lookup(host: str) -> tuple[str, ...]:
    """Every A/AAAA address of `host` from the system resolver (/etc/hosts, then DNS), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


class TrunkResolver:
    """Resolves trunk hosts for outbound requests and allow-list names for inbound matching.

    Args:
        lookup: the resolver (`system_lookup`; tests inject another).
        ttl, negative_ttl: see `AddressCache`.
        timeout: a lookup slower than this counts as failed.
        ipv6: whether outbound targets may be IPv6 (False when the SIP socket is IPv4).
    """

    def __init__(self, *, lookup: Lookup = system_lookup, ttl: float = 60.0, negative_ttl: float = 5.0,
                 timeout: float = 5.0, ipv6: bool = False) -> None:  # fmt: skip
        self.cache = AddressCache(ttl=ttl, negative_ttl=negative_ttl)
        self._lookup = lookup
        self.timeout = timeout
        self.ipv6 = ipv6
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._down: dict[Address, float] = {}  # address -> until when it goes to the end of the list
        self.down_for = 30.0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def refresh(self, hosts: Iterable[str]) -> None:
        """Look up every name in `hosts` whose answer expired (concurrently; one lookup per name at a time)."""
        due = self.cache.due(hosts, self._now())
        if due:
            await asyncio.gather(*(self._resolve(h) for h in due))

    async def _resolve(self, host: str) -> None:
        running = self._inflight.get(host)
        if running is not None:
            await asyncio.shield(running)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[host] = done
        try:
            addresses = await asyncio.wait_for(self._lookup(host), self.timeout)
            if not addresses:
                raise TrunkDnsError(host, "no addresses")
            self.cache.store(host, addresses, self._now())
        except (OSError, TrunkDnsError, TimeoutError, UnicodeError) as exc:
            reason = exc.reason if isinstance(exc, TrunkDnsError) else (str(exc) or type(exc).__name__)
            if self.cache.error(host) != reason:
                log.warning("cannot resolve trunk host %r: %s", host, reason)
            self.cache.fail(host, reason, self._now())
        finally:
            del self._inflight[host]
            done.set_result(None)

    async def addresses(self, host: str) -> tuple[str, ...]:
        """All addresses of `host` (an IP literal is its own answer); raises `TrunkDnsError` when none."""
        if is_ip_literal(host):
            return (host.strip("[]"),)
        await self.refresh([host])
        found = self.cache.addresses(host)
        if not found:
            raise TrunkDnsError(host, self.cache.error(host) or "no addresses")
        return found

    async def targets(self, trunk: TrunkConfig) -> list[Address]:
        """Where to send requests for `trunk`, in the order to try them (IPv4 first; IPv6 only if allowed)."""
        return self._order(trunk, await self.addresses(trunk.host))

    def cached_targets(self, trunk: TrunkConfig) -> list[Address] | None:
        """`targets` without waiting: None when the host name must be (re)resolved first."""
        if is_ip_literal(trunk.host):
            return self._order(trunk, (trunk.host.strip("[]"),))
        if not self.cache.fresh(trunk.host, self._now()) or not self.cache.addresses(trunk.host):
            return None
        try:
            return self._order(trunk, self.cache.addresses(trunk.host))
        except TrunkDnsError:
            return None

    def _order(self, trunk: TrunkConfig, found: tuple[str, ...]) -> list[Address]:
        usable = [a for a in found if ":" not in a] + ([a for a in found if ":" in a] if self.ipv6 else [])
        if not usable:
            raise TrunkDnsError(trunk.host, "no address of a family we can reach")
        now = self._now()
        return sorted(((a, trunk.port) for a in usable), key=lambda addr: self._down.get(addr, 0.0) > now)

    async def outbound_targets(self, trunk: TrunkConfig) -> list[Address]:
        """`targets`, or an empty list (logged) when the host does not resolve: the caller fails over."""
        try:
            return await self.targets(trunk)
        except TrunkDnsError as exc:
            log.warning("trunk %s skipped: %s", trunk.name, exc)
            return []

    def failed(self, addr: Address) -> None:
        """`addr` timed out or answered 503: try the trunk's other addresses first for `down_for` seconds."""
        self._down[addr] = self._now() + self.down_for

    def allow_list(self, trunks: Iterable[TrunkConfig]) -> dict[str, tuple[str, ...]]:
        """Allow-list host name -> its current addresses, for `TrunkSelector.resolved`."""
        return {name: self.cache.addresses(name) for t in trunks for name in t.allowed_hosts}

    def names(self, trunks: Iterable[TrunkConfig]) -> list[str]:
        """Every host name the enabled `trunks` use (hosts and allow-list names)."""
        return [n for t in trunks if t.enabled for n in (t.host, *t.allowed_hosts) if not is_ip_literal(n)]
