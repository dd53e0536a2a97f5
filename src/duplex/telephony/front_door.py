"""What a message from the network passes before the transaction layer: the engine's trust, ban and flood
policy in one place.

1. On the raw datagram (`preparse.PreParseGuard`, wired into the transport's ``screen``): trusted sources pass,
   banned, oversized, header-stuffed, non-SIP or over-rate ones from untrusted sources are dropped unparsed.
   A stream from an untrusted source gets the same size and header-line limits in its framer.
2. On the parsed request (`admit`): a banned source is dropped before a server transaction exists (it is
   answered nothing, and a transaction no response ends would hold its request forever); then the
   per-method flood limits of `flood.FloodGuard`.

Trusted sources are the ban-exempt addresses (loopback by default), the addresses of enabled trunks and the
sources of live registrations (registered phones): they are never screened, so under a flood they are served
first.
"""

from __future__ import annotations

from typing import Protocol

from duplex.sip.events import Address
from duplex.sip.message import SipRequest
from duplex.sip.transaction_layer import TransactionLayer
from duplex.telephony.flood import FloodGuard
from duplex.telephony.preparse import PreParseGuard, PreParseLimits
from duplex.telephony.registrar import Registrar
from duplex.telephony.security import AuthFailureTracker, VerdictAction
from duplex.telephony.trunks import TrunkSelector

__all__ = ["FrontDoor", "FrontDoorHost"]


class FrontDoorHost(Protocol):
    """The policy objects of the switch that the front door reads (all of them cores)."""

    @property
    def txl(self) -> TransactionLayer: ...
    @property
    def flood(self) -> FloodGuard: ...
    @property
    def trunks(self) -> TrunkSelector: ...
    @property
    def auth_failures(self) -> AuthFailureTracker: ...
    @property
    def registrar(self) -> Registrar: ...


class FrontDoor:
    def __init__(self, engine: FrontDoorHost, limits: PreParseLimits | None = None) -> None:
        self.engine = engine
        self.registered_ips: frozenset[str] = frozenset()
        self.banned_dropped = 0  # parsed requests from banned sources, dropped before any transaction
        self.preparse = PreParseGuard(trusted=self.is_trusted, banned=self.is_banned, limits=limits)

    def is_trusted(self, ip: str) -> bool:
        engine = self.engine
        return (engine.auth_failures.is_allowed(ip) or ip in self.registered_ips
                or engine.trunks.match_inbound(ip) is not None)  # fmt: skip

    def is_banned(self, ip: str, now: float) -> bool:
        return self.engine.auth_failures.check(ip, now).action is VerdictAction.DROP

    def screen(self, data: bytes, ip: str, now: float) -> bool:
        """The transport's check of a raw datagram before parsing."""
        return self.preparse.admit(data, ip, now)

    def stream_limits(self, ip: str) -> tuple[int, int] | None:
        """Size and header-line limits for a TCP/TLS connection from ``ip`` (None for a trusted source): a
        stream is not screened per message, so its framer enforces them and closes the connection."""
        if self.is_trusted(ip):
            return None
        return self.preparse.limits.max_size, self.preparse.limits.max_headers

    def admit(self, request: SipRequest, addr: Address, now: float) -> bool:
        """Whether a parsed request may reach the transaction layer."""
        if self.is_banned(addr[0], now):
            self.banned_dropped += 1
            return False
        return self.engine.flood.admit(self.engine.txl, request, addr, now)

    def handle_timer(self, now: float) -> None:
        """Refresh the registered sources and forget idle state (call about once a second)."""
        self.registered_ips = frozenset(b.source.host for b in self.engine.registrar.bindings())
        self.preparse.handle_timer(now)
