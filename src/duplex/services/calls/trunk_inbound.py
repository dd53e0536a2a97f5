"""Inbound calls from a carrier: which trunk an INVITE comes from, and its channel limit.

A request belongs to a trunk when its source IP is in an enabled trunk's ``allowed_ips``, or when it carries
digest credentials (Proxy-Authorization) for the username of an enabled trunk that has a password and no
IP list (the carrier authenticates to us as we authenticate to it). Wrong trunk credentials count as auth
failures of the source (throttle, then ban) like a phone's, and are answered with a new challenge.

A carrier call may reach Duplex's own numbers and agents, never an external number (the toll-fraud matrix
in `security.authorize_invite` gets ``source_is_trunk``). It holds one of the trunk's ``max_channels`` for its
lifetime; a full trunk gets 503 with Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from duplex.services.calls.call import Call
from duplex.services.calls.control import Answering, PhoneBook, TrunkAccess
from duplex.sip.digest import DigestCredentials
from duplex.sip.errors import SipParseError
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest
from duplex.telephony.security import VerdictAction
from duplex.telephony.trunks import TrunkConfig

__all__ = ["Admission", "TrunkMatch", "identify_trunk", "release_when_ended", "reserve_channel"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkMatch:
    """`trunk`: the carrier the request comes from (None: not a trunk). `handled`: a response was already
    sent (a challenge or 403) or the source is banned; the caller must stop."""

    trunk: TrunkConfig | None = None
    handled: bool = False


_NONE = TrunkMatch()


class Admission(Answering, PhoneBook, TrunkAccess, Protocol):
    """What deciding whether a new INVITE may come in needs: the agents and their auth failures, the
    trunks, and a way to refuse (or drop) the request."""


def _credential_trunks(control: PhoneBook, username: str) -> list[TrunkConfig]:
    return [t for t in control.directory.trunks
            if t.enabled and t.username == username and t.password and not t.allowed_ips]  # fmt: skip


def identify_trunk(control: Admission, request: SipRequest, key: TransactionKey, addr: Address) -> TrunkMatch:
    """The trunk `request` comes from, by source IP or by trunk digest credentials."""
    trunk = control.trunks.match_inbound(addr[0])
    if trunk is not None:
        return TrunkMatch(trunk=trunk)
    header = request.headers.get("Proxy-Authorization")
    if header is None:
        return _NONE
    try:
        username = DigestCredentials.parse(header).username
    except SipParseError:
        return _NONE
    candidates = _credential_trunks(control, username)
    if not candidates:
        return _NONE  # an agent's credentials, or unknown: the registration service decides
    regs, now, ip = control.registrations, control.now(), addr[0]
    verdict = regs.failures.check(ip, now)
    if verdict.action is VerdictAction.DROP:
        control.abandon(key)
        return TrunkMatch(handled=True)
    if verdict.action is VerdictAction.REJECT:
        control.respond(key, request, 403, reason="Forbidden (too many failures)")
        return TrunkMatch(handled=True)
    for trunk in candidates:
        password = trunk.password or ""

        def lookup(user: str, realm: str, _password: str = password) -> str | None:
            return _password if realm == regs.digest.realm else None

        result = regs.digest.verify(header, method=request.method, now=now, lookup=lookup)
        if result.ok:
            regs.failures.record_success(ip)
            return TrunkMatch(trunk=trunk)
        if result.stale:
            regs.authenticate_challenge(request, key)
            return TrunkMatch(handled=True)
    after = regs.failures.record_failure(ip, now)
    if after.action is VerdictAction.REJECT:
        control.respond(key, request, 403, reason="Forbidden (too many failures)")
    elif after.action is VerdictAction.ALLOW:
        regs.authenticate_challenge(request, key)
    else:
        control.abandon(key)  # now banned: silence, and no transaction left waiting for an answer
    return TrunkMatch(handled=True)


def reserve_channel(control: TrunkAccess, trunk: TrunkConfig, request: SipRequest) -> str | None:
    """Take one of the trunk's channels for the call `request` starts; None when the trunk is full.
    Returns the channel key for `release_when_ended`."""
    key = f"in:{request.call_id}"
    return key if control.trunks.acquire_channel(trunk.id, key) else None


def release_when_ended(control: TrunkAccess, trunk: TrunkConfig, key: str, call: Call | None) -> None:
    """Give the channel back when `call` ends (at once when there is no call)."""
    if call is None:
        control.trunks.release_channel(trunk.id, key)
        return

    async def release() -> None:
        try:
            await call.ended.wait()
        finally:
            control.trunks.release_channel(trunk.id, key)

    call.control.spawn(release())
