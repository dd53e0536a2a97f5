"""Request flood control at the engine's front door, sans-IO: `security.RequestRateLimiter` applied to new
out-of-dialog INVITE, REGISTER and OPTIONS requests before they create a server transaction.

Rules:

1. Only *new* requests count: in-dialog requests (To tag), ACK/CANCEL and retransmissions of a request whose
   server transaction exists pass untouched, so a flood cannot break calls that are already up.
2. Trusted sources are never limited: the limiter's allow-list (127.0.0.1 and ::1 by default, or what the
   deployment configures) and the addresses of enabled trunks (`trusted(ip)`).
3. Over the limit, the first request of a (source, method) in each Retry-After window gets a stateless
   **503 Service Unavailable with Retry-After** (RFC 3261 §21.5.4), so a legitimate but bursty client learns
   when to come back; the rest of that window is **dropped silently** (a flood costs us no bandwidth and no
   transaction state).
"""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from duplex.sip._txn_util import server_key
from duplex.sip.events import Address
from duplex.sip.message import SipRequest, make_response
from duplex.sip.transaction_layer import TransactionLayer
from duplex.telephony.security import RequestRateLimiter

__all__ = ["LIMITED_METHODS", "FloodAction", "FloodGuard", "FloodVerdict"]

LIMITED_METHODS = frozenset({"INVITE", "REGISTER", "OPTIONS"})


class FloodAction(enum.StrEnum):
    ALLOW = "allow"
    REJECT = "reject"  # answer 503 with Retry-After
    DROP = "drop"  # send nothing


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodVerdict:
    action: FloodAction
    retry_after: int = 0  # REJECT: seconds for the Retry-After header


_ALLOW = FloodVerdict(action=FloodAction.ALLOW)


class FloodGuard:
    """Per-source request limits in front of a transaction layer.

    Args:
        limiter: the token buckets (rate, burst and allow-list are its configuration).
        trusted: True for source IPs never limited (the engine passes "is a trunk address").
        max_notified: bound on remembered (source, method) 503 notifications.
    """

    def __init__(self, limiter: RequestRateLimiter | None = None, *,
                 trusted: Callable[[str], bool] = lambda ip: False, max_notified: int = 100_000) -> None:  # fmt: skip
        self.limiter = limiter if limiter is not None else RequestRateLimiter()  # (it has __len__)
        self.trusted = trusted
        self.max_notified = max_notified
        self._notified: OrderedDict[tuple[str, str], float] = OrderedDict()  # (ip, method) -> window end
        self.rejected = 0
        self.dropped = 0

    def check(self, method: str, ip: str, now: float) -> FloodVerdict:
        """Count one new request of `method` from `ip` and say what to do with it."""
        if method not in LIMITED_METHODS or self.trusted(ip):
            return _ALLOW
        if self.limiter.allow(ip, method, now):
            return _ALLOW
        key = (ip, method)
        until = self._notified.get(key)
        if until is not None and now < until:
            self.dropped += 1
            return FloodVerdict(action=FloodAction.DROP)
        retry = max(1, math.ceil(self.limiter.retry_after(ip, method, now)))
        self._notified[key] = now + retry
        self._notified.move_to_end(key)
        while len(self._notified) > self.max_notified:
            self._notified.popitem(last=False)
        self.rejected += 1
        return FloodVerdict(action=FloodAction.REJECT, retry_after=retry)

    def admit(self, txl: TransactionLayer, request: SipRequest, addr: Address, now: float) -> bool:
        """Screen a request before `txl.receive`: False when it must not reach the transaction layer (a 503 is
        then queued on `txl` statelessly, or nothing at all)."""
        if request.method not in LIMITED_METHODS or request.to_tag is not None:
            return True
        try:
            if server_key(request) in txl.transactions:
                return True  # a retransmission: the transaction answers it
        except Exception:  # no usable Via: let the transaction layer deal with it
            return True
        verdict = self.check(request.method, addr[0], now)
        if verdict.action is FloodAction.REJECT:
            headers = (("Retry-After", str(verdict.retry_after)),)
            txl.send_stateless(make_response(request, 503, to_tag=txl.new_token(10), headers=headers), addr)
        return verdict.action is FloodAction.ALLOW

    def handle_timer(self, now: float) -> None:
        """Forget idle buckets and ended notification windows (call about once a second)."""
        self.limiter.handle_timer(now)
        for key in [k for k, until in self._notified.items() if until <= now]:
            del self._notified[key]
