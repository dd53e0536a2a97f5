"""REGISTER handling and digest authentication of agent phones (RFC 3261 §10.3, §22; RFC 8760).

Glue between the sans-IO pieces: `DigestServer` (challenges, verification), `AuthFailureTracker` (throttle and
ban per source IP), `Registrar` (bindings) and `RegistrarStore` (persistence). Agent credentials come from the
host's directory (refreshed from the database when an unknown user shows up).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol

from duplex.config import Settings
from duplex.sip.digest import DigestServer
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest
from duplex.stores.call_store import AgentInfo, Directory, TelephonyStore
from duplex.stores.registrar_store import RegistrarStore
from duplex.telephony.registrar import (
    Binding,
    ChangeKind,
    ContactSpec,
    RegisterRequest,
    Registrar,
    Source,
    parse_contact_header,
)
from duplex.telephony.security import AuthFailureTracker, VerdictAction

__all__ = ["RegistrarHost", "RegistrationService"]

log = logging.getLogger("duplex.services.registrar_service")


class RegistrarHost(Protocol):
    """What the registration service needs from the SIP switch that owns it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> TelephonyStore: ...
    @property
    def directory(self) -> Directory: ...
    def now(self) -> float: ...
    async def refresh_directory(self, *, force: bool = False) -> Directory: ...
    def respond(self, key: TransactionKey, request: SipRequest, status: int, *, reason: str | None = None,
                headers: tuple[tuple[str, str], ...] = (), to_tag: str | None = None) -> None: ...  # fmt: skip
    def abandon(self, key: TransactionKey) -> None: ...


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RegistrationService:
    def __init__(self, host: RegistrarHost, *, ban_exempt: tuple[str, ...] = ("127.0.0.1", "::1"),
                 throttle_after: int = 5, ban_after: int = 10,
                 algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
                 md5_only_agents: tuple[str, ...] = ("baresip",)) -> None:  # fmt: skip
        settings = host.settings
        self.host = host
        self.registrar = Registrar()
        self.digest = DigestServer(realm=settings.sip_realm, secret=settings.effective_secret_key().encode(),
                                   node_id=settings.node_id, algorithms=algorithms)  # fmt: skip
        # Same realm and secret, so its nonces verify with `digest`; only its challenge list differs.
        self.digest_md5 = DigestServer(realm=settings.sip_realm, secret=settings.effective_secret_key().encode(),
                                       node_id=f"{settings.node_id}m", algorithms=("MD5",))  # fmt: skip
        self.md5_only_agents = tuple(a.lower() for a in md5_only_agents)
        self.failures = AuthFailureTracker(allow_list=ban_exempt, throttle_after=throttle_after,
                                           ban_after=ban_after)  # fmt: skip
        self.persist = RegistrarStore(host.store.sessions, node_id=settings.node_id)

    @property
    def count(self) -> int:
        return sum(1 for _ in self.registrar.bindings())

    async def restore(self, now: float) -> None:
        loop = asyncio.get_running_loop()
        bindings = await loop.run_in_executor(None, self.persist.load, now, _wall())
        self.registrar.restore(bindings, now)

    def lookup(self, user: str, now: float) -> list[Binding]:
        return self.registrar.lookup(user, now)

    def expire(self, now: float) -> None:
        self.registrar.handle_timer(now)
        self.failures.handle_timer(now)
        self._apply_changes(now)

    # -- authentication --------------------------------------------------------------------------------
    def _password(self, username: str, realm: str) -> str | None:
        agent = self.host.directory.agent_by_user(username)
        return agent.sip_password if agent is not None and realm == self.digest.realm else None

    async def authenticate(self, request: SipRequest, key: TransactionKey, addr: Address, *,
                           proxy: bool, challenge: bool = True) -> AgentInfo | None:  # fmt: skip
        """The agent whose credentials the request carries, or None after answering 401/407/403 (or
        silently dropping a banned source)."""
        host, now, ip = self.host, self.host.now(), addr[0]
        verdict = self.failures.check(ip, now)
        if verdict.action is VerdictAction.DROP:
            host.abandon(key)
            return None
        if verdict.action is VerdictAction.REJECT:
            # attempts while throttled count too, so a persistent guesser ends up banned
            if self.failures.record_failure(ip, now).action is not VerdictAction.DROP:
                host.respond(key, request, 403, reason="Forbidden (too many failures)")
            else:
                host.abandon(key)
            return None
        header = request.headers.get("Proxy-Authorization" if proxy else "Authorization")
        if header is None:
            if challenge:
                self._challenge(request, key, proxy=proxy, stale=False)
            else:
                host.respond(key, request, 403)
            return None
        username = _username(header)
        if username and host.directory.agent_by_user(username) is None:
            await host.refresh_directory()
        result = self.digest.verify(header, method=request.method, now=now, lookup=self._password)
        if result.ok and result.username is not None:
            self.failures.record_success(ip)
            return host.directory.agent_by_user(result.username)
        if result.stale:
            self._challenge(request, key, proxy=proxy, stale=True)
            return None
        log.info("digest authentication failed from %s: %s", ip, result.reason)
        after = self.failures.record_failure(ip, now)
        if after.action is VerdictAction.DROP:
            host.abandon(key)
            return None
        if after.action is VerdictAction.REJECT:
            host.respond(key, request, 403, reason="Forbidden (too many failures)")
        else:
            self._challenge(request, key, proxy=proxy, stale=False)
        return None

    def authenticate_challenge(self, request: SipRequest, key: TransactionKey) -> None:
        """Answer an INVITE with 407 and fresh challenges (SHA-256 and MD5)."""
        self._challenge(request, key, proxy=True, stale=False)

    def _challenge(self, request: SipRequest, key: TransactionKey, *, proxy: bool, stale: bool) -> None:
        agent = (request.headers.get("User-Agent") or "").lower()
        legacy = any(name in agent for name in self.md5_only_agents)
        server = self.digest_md5 if legacy else self.digest
        headers = tuple(server.challenge_headers(self.host.now(), proxy=proxy, stale=stale))
        self.host.respond(key, request, 407 if proxy else 401, headers=headers)

    # -- REGISTER --------------------------------------------------------------------------------------
    async def handle(self, request: SipRequest, key: TransactionKey, addr: Address) -> None:
        agent = await self.authenticate(request, key, addr, proxy=False)
        if agent is None:
            return
        host, now = self.host, self.host.now()
        to_user = request.to_addr.uri.user if hasattr(request.to_addr.uri, "user") else None
        if to_user != agent.sip_username:
            host.respond(key, request, 403, reason="Forbidden (AOR does not match credentials)")
            return
        try:
            star, contacts = False, list[ContactSpec]()
            raw = ", ".join(request.headers.raw("Contact"))
            if raw:
                star, contacts = parse_contact_header(raw)
            expires_header = request.headers.int_value("Expires")
        except ValueError:
            host.respond(key, request, 400)
            return
        transport = request.top_via.transport.lower()
        result = self.registrar.register(RegisterRequest(
            aor=agent.sip_username, call_id=request.call_id, cseq=request.cseq.number,
            source=Source(transport=transport, host=addr[0], port=addr[1]), contacts=tuple(contacts),
            star=star, expires=expires_header, user_agent=request.headers.get("User-Agent", "") or "",
            agent_id=agent.id), now)  # fmt: skip
        headers = [("Contact", c) for c in result.contacts]
        if result.min_expires is not None:
            headers.append(("Min-Expires", str(result.min_expires)))
        headers.append(("Date", _wall().strftime("%a, %d %b %Y %H:%M:%S GMT")))
        host.respond(key, request, result.status_code, reason=result.reason, headers=tuple(headers))
        self._apply_changes(now)

    def _apply_changes(self, now: float) -> None:
        changes = self.registrar.pop_changes()
        if not changes:
            return
        persist, wall = self.persist, _wall()
        self.host.store.submit(lambda: persist.apply(changes, now, wall))
        for change in changes:
            b = change.binding
            if change.kind is ChangeKind.ADDED:
                self.host.store.emit("sip.registered", agent_id=b.agent_id,
                                       data={"aor": b.aor, "contact": b.contact, "source": str(b.source)})  # fmt: skip
            elif change.kind is ChangeKind.REMOVED:
                self.host.store.emit("sip.unregistered", agent_id=b.agent_id,
                                       data={"aor": b.aor, "contact": b.contact, "reason": change.reason})  # fmt: skip


def _username(header: str) -> str | None:
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower().endswith("username"):
            return value.strip().strip('"')
    return None
