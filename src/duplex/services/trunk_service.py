"""Outbound registration of trunks: the asyncio shell around `trunk_registration.TrunkRegistration`.

One `TrunkRegistration` runs per enabled trunk with ``register=True`` and a username. Its `SendRegister` actions
become real REGISTER requests in client transactions of the host's transaction layer: the Call-ID and the
From tag stay the same for every REGISTER of one registration (RFC 3261 §10.2: "A UA SHOULD use the same
Call-ID for all registrations during a single boot cycle"), CSeq grows, and each request gets a fresh Via
branch (a new transaction, §8.1.1.7). Final responses (401/407 challenges, 2xx with the granted interval,
423, failures) and transaction timeouts go back into the state machine, whose status changes become
`trunk.status_changed` events and the live ``status`` mapping (trunk name -> state) shown by /api/v1/health.

Trunks are re-read when the host's directory changes (it refreshes every 30 s), at once on a
``config.changed`` event for a trunk, and on `reload()`. A removed or changed trunk unregisters (Expires: 0)
and a changed one registers again; `stop()` unregisters every trunk and waits briefly for the answers.

Trunk host names (and host names in ``allowed_ips``) are resolved by `dns` (`trunk_dns.TrunkResolver`) in the
background, again when their cache entry expires; the allow-list addresses go to `TrunkSelector.resolved` for
inbound matching. A REGISTER goes to the trunk's first address and moves to the next one after a timeout or a
5xx (RFC 3263 §4.3); a name that does not resolve fails the attempt like a timeout (retry with backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from duplex.config import Settings
from duplex.events.types import EventEnvelope
from duplex.services.aio import cancel_and_wait
from duplex.services.trunk_dns import TrunkDnsError, TrunkResolver
from duplex.sip.errors import SipError
from duplex.sip.events import Address, TransactionKey
from duplex.sip.headers import Headers
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.uri import NameAddr, SipUri
from duplex.stores.call_store import Directory, TelephonyStore
from duplex.telephony.legdialog import USER_AGENT
from duplex.telephony.trunk_registration import SendRegister, TrunkRegistration, TrunkStatusChanged
from duplex.telephony.trunks import TrunkConfig, TrunkSelector

__all__ = ["TrunkHost", "TrunkService"]

log = logging.getLogger("duplex.services.trunk_service")

_TICK = 1.0


def _identity(trunk: TrunkConfig) -> tuple[Any, ...]:
    """What the registration depends on; any change means unregister and register again."""
    return (trunk.host, trunk.port, trunk.transport.lower(), trunk.username, trunk.password, trunk.domain)


@dataclass(slots=True, eq=False)
class _Entry:
    config: TrunkConfig
    reg: TrunkRegistration
    from_tag: str
    contact_uri: SipUri
    outstanding: set[int] = field(default_factory=set)  # CSeqs awaiting a final response
    address_index: int = 0  # which of the trunk host's addresses to use (advanced after a failure)


class TrunkHost(Protocol):
    """What the trunk service needs from the SIP switch that owns it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> TelephonyStore: ...
    @property
    def directory(self) -> Directory: ...
    @property
    def trunks(self) -> TrunkSelector: ...
    @property
    def rng(self) -> random.Random: ...
    @property
    def public_ip(self) -> str: ...
    def now(self) -> float: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    async def refresh_directory(self, *, force: bool = False) -> Directory: ...
    def port_for(self, transport: str) -> int: ...
    def new_token(self, length: int) -> str: ...
    def new_branch(self) -> str: ...
    def use_stream(self, addr: Address, transport: str, server_name: str | None = None) -> None: ...
    def transport_name(self, addr: Address) -> str: ...
    def via(self, branch: str, transport: str = "UDP") -> str: ...
    def send_request(
        self, request: SipRequest, addr: Address, callback: Callable[[SipResponse | None], None]
    ) -> TransactionKey: ...


class TrunkService:
    """Registers Duplex at its carriers.

    Args:
        host: sends the requests (transaction layer, transport) and records the events.
        expires: the registration interval we ask for.
        base_backoff, max_backoff: retry delays after failures (see `TrunkRegistration`).
        request_timeout: a REGISTER without a final answer after this long counts as failed (the
            transaction's Timer F reports it too, at 64*T1).
    """

    def __init__(self, host: TrunkHost, *, expires: int = 3600, base_backoff: float = 2.0,
                 max_backoff: float = 300.0, request_timeout: float = 40.0) -> None:  # fmt: skip
        self.host = host
        self.expires = expires
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.status: dict[str, str] = {}  # trunk name -> RegistrationState value, live
        self._entries: dict[int, _Entry] = {}
        self._retired: list[_Entry] = []  # unregistering after a removal or change
        self._seen_directory: object | None = None
        self._task: asyncio.Task[None] | None = None
        self._bus_task: asyncio.Task[None] | None = None
        self._dns_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.dns = TrunkResolver(ipv6=":" in host.settings.sip_host)

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._sync(loop.time())
        self._task = loop.create_task(self._run())
        self._dns_task = loop.create_task(self._watch_dns())
        bus = getattr(self.host.store.record, "bus", None)
        if bus is not None:
            self._bus_task = loop.create_task(self._watch_config(bus))

    async def stop(self, timeout: float = 2.0) -> None:
        """Unregister every trunk (REGISTER with Expires: 0) and wait up to `timeout` for the answers."""
        for task in (self._task, self._bus_task, self._dns_task):
            if task is not None:
                await cancel_and_wait(task)
        self._task = self._bus_task = self._dns_task = None
        now = self.host.now()
        for trunk_id in list(self._entries):
            self._retire(trunk_id, now)
        deadline = now + timeout
        while any(e.outstanding for e in self._retired) and self.host.now() < deadline:
            await asyncio.sleep(0.02)
        self._retired.clear()

    async def reload(self) -> None:
        """Re-read the trunks from the database now and apply the changes."""
        await self.host.refresh_directory(force=True)
        self._sync(self.host.now())
        self._wake.set()

    def registration(self, trunk_id: int) -> TrunkRegistration | None:
        entry = self._entries.get(trunk_id)
        return entry.reg if entry is not None else None

    # -- the loop ----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            now = self.host.now()
            if self.host.directory is not self._seen_directory:
                self._sync(now)
            for entry in [*self._entries.values(), *self._retired]:
                timer = entry.reg.get_timer()
                if timer is not None and timer <= now:
                    entry.reg.handle_timer(now)
                    self._pump(entry)
            self._retired = [e for e in self._retired if e.outstanding or e.reg.get_timer() is not None]
            timers = [t for e in self._entries.values() if (t := e.reg.get_timer()) is not None]
            delay = min([_TICK, *(t - now for t in timers)])
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.01, delay))

    async def _watch_dns(self) -> None:
        """Keep every trunk host name resolved and the inbound allow-list current."""
        while True:
            trunks = self.host.directory.trunks
            try:
                await self.dns.refresh(self.dns.names(trunks))
                self.host.trunks.resolved = self.dns.allow_list(trunks)
            except Exception:
                log.exception("trunk DNS refresh failed")
            await asyncio.sleep(_TICK)

    async def _watch_config(self, bus: Any) -> None:
        queue: asyncio.Queue[EventEnvelope] = bus.subscribe()
        try:
            while True:
                envelope = await queue.get()
                if envelope.type == "config.changed" and envelope.data.get("entity") == "trunk":
                    try:
                        await self.reload()
                    except Exception:
                        log.exception("trunk reload failed")
        finally:
            bus.unsubscribe(queue)

    # -- configuration -----------------------------------------------------------------------------------
    def _sync(self, now: float) -> None:
        directory = self.host.directory
        self._seen_directory = directory
        wanted = {t.id: t for t in directory.trunks if t.register and t.enabled and t.username}
        for trunk_id, entry in list(self._entries.items()):
            trunk = wanted.get(trunk_id)
            if trunk is None or _identity(trunk) != _identity(entry.config):
                self._retire(trunk_id, now)
            elif trunk.name != entry.config.name:
                self.status.pop(entry.config.name, None)
                entry.config = trunk
                self.status[trunk.name] = entry.reg.state.value
        for trunk_id, trunk in wanted.items():
            if trunk_id not in self._entries:
                self._add(trunk, now)

    def _add(self, trunk: TrunkConfig, now: float) -> None:
        host = self.host
        kind = trunk.transport.lower()
        port = host.port_for(kind)
        contact_uri = SipUri.parse(f"sip:{trunk.username}@{host.public_ip}:{port}"
                                   + (f";transport={kind}" if kind in ("tcp", "tls") else ""))  # fmt: skip
        reg = TrunkRegistration(trunk, contact=f"<{contact_uri}>", call_id=f"{host.new_token(16)}@duplex",
                                rng=host.rng, expires=self.expires, base_backoff=self.base_backoff,
                                max_backoff=self.max_backoff, request_timeout=self.request_timeout)  # fmt: skip
        entry = _Entry(config=trunk, reg=reg, from_tag=host.new_token(10), contact_uri=contact_uri)
        self._entries[trunk.id] = entry
        self.status[trunk.name] = reg.state.value
        reg.start(now)
        self._pump(entry)

    def _retire(self, trunk_id: int, now: float) -> None:
        entry = self._entries.pop(trunk_id)
        self.status.pop(entry.config.name, None)
        entry.reg.stop(now)
        self._pump(entry)
        self._retired.append(entry)

    # -- requests and responses --------------------------------------------------------------------------
    def _pump(self, entry: _Entry) -> None:
        for action in entry.reg.pop_actions():
            try:
                self._send(entry, action)
            except Exception:
                log.exception("cannot send REGISTER for trunk %s", entry.config.name)
                entry.outstanding.discard(action.cseq)
                entry.reg.handle_failure(self.host.now(), action.cseq, "send failed")
        for change in entry.reg.pop_events():
            self._announce(entry, change)
        self._wake.set()

    def _send(self, entry: _Entry, action: SendRegister) -> None:
        entry.outstanding.add(action.cseq)  # also while its host name resolves (stop() waits for it)
        targets = self.dns.cached_targets(entry.config)
        if targets is not None:
            self._send_to(entry, action, targets[entry.address_index % len(targets)])
        else:
            self.host.spawn(self._resolve_and_send(entry, action))

    async def _resolve_and_send(self, entry: _Entry, action: SendRegister) -> None:
        try:
            targets = await self.dns.targets(entry.config)
        except TrunkDnsError as exc:
            entry.outstanding.discard(action.cseq)
            entry.reg.handle_failure(self.host.now(), action.cseq, str(exc))
            self._pump(entry)
            return
        try:
            self._send_to(entry, action, targets[entry.address_index % len(targets)])
        except Exception:
            log.exception("cannot send REGISTER for trunk %s", entry.config.name)
            entry.outstanding.discard(action.cseq)
            entry.reg.handle_failure(self.host.now(), action.cseq, "send failed")
            self._pump(entry)

    def _send_to(self, entry: _Entry, action: SendRegister, addr: Address) -> None:
        host = self.host
        host.use_stream(addr, action.transport, entry.config.host)
        transport = host.transport_name(addr)
        headers = Headers()
        headers.add("Via", host.via(host.new_branch(), transport))
        headers.add("Max-Forwards", "70")
        headers.add("From", f"{action.to};tag={entry.from_tag}")
        headers.add("To", action.to)
        headers.add("Call-ID", action.call_id)
        headers.add("CSeq", f"{action.cseq} REGISTER")
        headers.add("Contact", action.contact)
        headers.add("Expires", str(action.expires))
        headers.add("User-Agent", USER_AGENT)
        if action.authorization is not None:
            headers.add(*action.authorization)
        request = SipRequest("REGISTER", SipUri.parse(action.request_uri), headers)
        entry.outstanding.add(action.cseq)
        cseq = action.cseq
        host.send_request(request, addr, lambda response: self._on_response(entry, cseq, response))

    def _on_response(self, entry: _Entry, cseq: int, response: SipResponse | None) -> None:
        now = self.host.now()
        if response is None or response.status >= 500:
            entry.address_index += 1  # RFC 3263 §4.3: the next attempt tries the next address
        if response is None:
            entry.outstanding.discard(cseq)
            entry.reg.handle_failure(now, cseq, "timeout")
        elif response.is_final:
            entry.outstanding.discard(cseq)
            try:
                self._feed(entry, cseq, response, now)
            except (SipError, ValueError) as exc:
                log.info("unusable REGISTER response from trunk %s: %s", entry.config.name, exc)
                entry.reg.handle_response(now, cseq=cseq, status_code=500)
        else:
            return
        self._pump(entry)

    def _feed(self, entry: _Entry, cseq: int, response: SipResponse, now: float) -> None:
        headers = response.headers
        entry.reg.handle_response(
            now,
            cseq=cseq,
            status_code=response.status,
            expires=_granted(response, entry.contact_uri) if response.is_success else None,
            www_authenticate=headers.raw("WWW-Authenticate"),
            proxy_authenticate=headers.raw("Proxy-Authenticate"),
            min_expires=headers.int_value("Min-Expires") if response.status == 423 else None,
            retry_after=_retry_after(headers.get("Retry-After")),
        )

    def _announce(self, entry: _Entry, change: TrunkStatusChanged) -> None:
        if self._entries.get(entry.config.id) is entry:
            self.status[entry.config.name] = change.new.value
        log.info("trunk %s: %s -> %s (%s %s)", entry.config.name, change.old, change.new,
                 change.status_code, change.reason)  # fmt: skip
        data: dict[str, Any] = {
            "trunk_id": change.trunk_id,
            "name": entry.config.name,
            "old": change.old.value,
            "new": change.new.value,
            "status_code": change.status_code,
            "reason": change.reason,
            "retry_in": None if change.retry_at is None else round(change.retry_at - change.at, 3),
            "expires_in": None if change.expires_at is None else round(change.expires_at - change.at, 3),
        }
        self.host.store.emit("trunk.status_changed", data=data)


def _granted(response: SipResponse, ours: SipUri) -> int | None:
    """The interval the registrar granted our binding: our Contact's ``expires`` parameter in the 2xx, else
    the Expires header (RFC 3261 §10.2.4), else None."""
    for contact in response.headers.get_all("Contact"):
        addr = NameAddr.parse(contact)
        uri = addr.uri
        if not isinstance(uri, SipUri) or (uri.user, uri.host.lower(), uri.port) != (
            ours.user, ours.host.lower(), ours.port
        ):  # fmt: skip
            continue
        value = next((v for k, v in addr.params.items() if k.lower() == "expires"), None)
        if value is not None and value.strip().isdigit():
            return int(value)
    return response.headers.int_value("Expires")


def _retry_after(value: str | None) -> int | None:
    if value is None:
        return None
    head = value.strip().split(";", 1)[0].split("(", 1)[0].strip()
    return int(head) if head.isdigit() else None
