"""Outbound registration of Duplex to a carrier's registrar (RFC 3261 §10.2), sans-IO.

One `TrunkRegistration` per trunk with `register=True`. It never touches the network: it queues
`SendRegister` actions (header values; the engine builds the request, adds Via branch and From tag, and runs the
client transaction) and reads back the final response through `handle_response()` or `handle_failure()`
(Timer F / transport error). Time is an argument; the next deadline is `get_timer()`.

State machine (`RegistrationState`):

    UNREGISTERED --start--> REGISTERING --2xx--> REGISTERED --refresh 2xx--> REGISTERED (no event)
    REGISTERING --401/407--> REGISTERING (answered with digest credentials, RFC 8760)
    REGISTERING --423--> REGISTERING (again with the Min-Expires interval)
    REGISTERING --408/5xx/6xx/timeout--> BACKOFF --timer--> REGISTERING  (2 s, 4 s, ... up to max_backoff)
    REGISTERING --403/404/credentials rejected--> FAILED --max_backoff timer--> REGISTERING
    any --stop--> UNREGISTERED (a REGISTER with Expires: 0 goes out if a binding may exist)

Refresh: "a UA SHOULD ... refresh the binding before it expires"; we refresh at the earlier of 80 % of the
granted interval and 30 s before its end, but never before half of it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

from duplex.backoff import backoff_delay
from duplex.sip.digest import DigestChallenge, authorize, choose_challenge
from duplex.sip.errors import SipParseError
from duplex.telephony.trunks import TrunkConfig

__all__ = ["RegistrationState", "SendRegister", "TrunkRegistration", "TrunkStatusChanged", "refresh_delay"]

_MAX_CHALLENGES_PER_CYCLE = 3
_MAX_ACCEPTED_MIN_EXPIRES = 86_400
_PERMANENT = frozenset({403, 404})


class RegistrationState(enum.StrEnum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    BACKOFF = "backoff"  # a transient failure; retrying with exponential backoff
    FAILED = "failed"  # the carrier refuses the account; retrying only every max_backoff


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRegister:
    """Send a REGISTER with these header values to `host:port` over `transport`."""

    trunk_id: int
    host: str
    port: int
    transport: str
    request_uri: str
    to: str  # the address-of-record; From carries the same value plus the engine's tag
    contact: str
    call_id: str
    cseq: int
    expires: int
    authorization: tuple[str, str] | None = None  # ("Authorization" | "Proxy-Authorization", value)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkStatusChanged:
    """For the `trunk.status_changed` event."""

    trunk_id: int
    old: RegistrationState
    new: RegistrationState
    at: float
    status_code: int | None = None  # the SIP status that caused it (None: timeout, start, stop)
    reason: str = ""
    retry_at: float | None = None  # BACKOFF/FAILED: when the next attempt goes out
    expires_at: float | None = None  # REGISTERED: when the carrier's binding ends


def refresh_delay(granted: int) -> float:
    """Seconds after a 2xx to send the refresh: min(0.8 E, E - 30 s), but at least E / 2."""
    return max(granted / 2, min(granted * 0.8, granted - 30.0))


class TrunkRegistration:
    """The registration client of one trunk."""

    def __init__(
        self,
        trunk: TrunkConfig,
        *,
        contact: str,
        call_id: str,
        rng: random.Random,
        expires: int = 3600,
        base_backoff: float = 2.0,
        max_backoff: float = 300.0,
        request_timeout: float = 40.0,
    ) -> None:
        """Args:
        trunk: the trunk; needs `username` (and normally `password`).
        contact: our Contact header value, e.g. `<sip:duplex@203.0.113.1:5060>`.
        call_id: one Call-ID for all REGISTERs of this boot (RFC 3261 §10.2 SHOULD).
        rng: seeded random source for cnonces and backoff jitter.
        request_timeout: a REGISTER with no answer after this long counts as failed, in case the engine
            never reports the transaction timeout.
        """
        if not trunk.username:
            raise ValueError(f"trunk {trunk.name!r} has no username to register with")
        self.trunk = trunk
        self.contact = contact
        self.call_id = call_id
        self.requested_expires = expires
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self._rng = rng
        self.state = RegistrationState.UNREGISTERED
        self.expires_at: float | None = None
        self._cseq = 0
        self._in_flight: int | None = None  # CSeq of the REGISTER awaiting a final response
        self._timer: float | None = None
        self._stopping = False
        self._failures = 0
        self._challenge: tuple[str, DigestChallenge] | None = None  # (header name, challenge) to answer
        self._nc = 0
        self._challenges_this_cycle = 0
        self._answered_fresh = False
        self._actions: list[SendRegister] = []
        self._events: list[TrunkStatusChanged] = []

    # -- outputs ---------------------------------------------------------------------------------------

    def pop_actions(self) -> list[SendRegister]:
        actions, self._actions = self._actions, []
        return actions

    def pop_events(self) -> list[TrunkStatusChanged]:
        events, self._events = self._events, []
        return events

    def get_timer(self) -> float | None:
        return self._timer

    @property
    def aor(self) -> str:
        return f"sip:{self.trunk.username}@{self.trunk.domain}"

    @property
    def request_uri(self) -> str:
        transport = (
            "" if self.trunk.transport.lower() == "udp" else f";transport={self.trunk.transport.lower()}"
        )
        return f"sip:{self.trunk.host}:{self.trunk.port}{transport}"

    # -- inputs ----------------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Begin registering now (idempotent while running)."""
        if self.state is RegistrationState.UNREGISTERED:
            self._stopping = False
            self._in_flight = None  # an unregistration still in flight no longer matters
            self._new_cycle(now)

    def stop(self, now: float) -> None:
        """Stop: remove our binding at the carrier (Expires: 0) if one may exist, and stop all timers."""
        maybe_bound = self.expires_at is not None or self._in_flight is not None
        self._stopping = True
        self._timer = None
        self._set_state(now, RegistrationState.UNREGISTERED, reason="stopped")
        self.expires_at = None
        self._in_flight = None
        if maybe_bound:
            self._challenges_this_cycle = 0
            self._send(now)

    def handle_timer(self, now: float) -> None:
        """Call when `get_timer()` is due: refresh, retry after backoff, or time out the REGISTER in flight."""
        if self._timer is None or now < self._timer:
            return
        self._timer = None
        if self._in_flight is not None:
            self._in_flight = None
            if not self._stopping:
                self._fail(now, None, "no response")
            return
        if not self._stopping:
            self._new_cycle(now)

    def handle_failure(self, now: float, cseq: int, reason: str = "timeout") -> None:
        """The client transaction for `cseq` timed out or hit a transport error."""
        if cseq != self._in_flight:
            return
        self._in_flight = None
        self._timer = None
        if not self._stopping:
            self._fail(now, None, reason)

    def handle_response(
        self,
        now: float,
        *,
        cseq: int,
        status_code: int,
        expires: int | None = None,
        www_authenticate: Sequence[str] = (),
        proxy_authenticate: Sequence[str] = (),
        min_expires: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """A response to the REGISTER with `cseq`. Stale CSeqs and provisional responses are ignored.

        Args:
            expires: the interval the registrar granted: the `expires` parameter of our Contact in the 2xx,
                else its Expires header (None: assume the requested one).
            www_authenticate / proxy_authenticate: the challenge header values of a 401 / 407.
            min_expires: the Min-Expires header of a 423.
            retry_after: the Retry-After header (seconds) of a 503 or 5xx.
        """
        if cseq != self._in_flight or status_code < 200:
            return
        self._in_flight = None
        self._timer = None
        if self._stopping:
            if status_code in (401, 407):
                self._answer(now, status_code, www_authenticate or proxy_authenticate)
            return
        if 200 <= status_code < 300:
            self._registered(now, expires)
        elif status_code in (401, 407):
            self._answer(now, status_code, www_authenticate if status_code == 401 else proxy_authenticate)
        elif status_code == 423 and min_expires is not None and 0 < min_expires <= _MAX_ACCEPTED_MIN_EXPIRES:
            self.requested_expires = max(self.requested_expires, min_expires)
            self._send(now)
        elif status_code in _PERMANENT:
            self._fail(now, status_code, "refused", permanent=True)
        else:
            self._fail(now, status_code, "failed", retry_after=retry_after)

    # -- internals -------------------------------------------------------------------------------------

    def _new_cycle(self, now: float) -> None:
        self._challenges_this_cycle = 0
        self._answered_fresh = False
        if not (
            self.state is RegistrationState.REGISTERED
            and self.expires_at is not None
            and self.expires_at > now
        ):
            self._set_state(
                now, RegistrationState.REGISTERING
            )  # a refresh of a live binding stays REGISTERED
        self._send(now)

    def _send(self, now: float) -> None:
        self._cseq += 1
        self._in_flight = self._cseq
        self._timer = now + self.request_timeout
        self._actions.append(
            SendRegister(
                trunk_id=self.trunk.id,
                host=self.trunk.host,
                port=self.trunk.port,
                transport=self.trunk.transport.lower(),
                request_uri=self.request_uri,
                to=f"<{self.aor}>",
                contact=self.contact,
                call_id=self.call_id,
                cseq=self._cseq,
                expires=0 if self._stopping else self.requested_expires,
                authorization=self._credentials(),
            )
        )

    def _credentials(self) -> tuple[str, str] | None:
        # Answer the last challenge again (nonce-count + 1): most registrars accept it, saving a round trip;
        # a registrar that does not answers 401 with a new nonce, which we then answer.
        if self._challenge is None:
            return None
        header, challenge = self._challenge
        self._nc += 1
        creds = authorize(
            challenge,
            username=self.trunk.username or "",
            password=self.trunk.password or "",
            method="REGISTER",
            uri=self.request_uri,
            cnonce=f"{self._rng.getrandbits(64):016x}",
            nc=self._nc,
        )
        return header, str(creds)

    def _answer(self, now: float, status_code: int, values: Sequence[str]) -> None:
        header = "Authorization" if status_code == 401 else "Proxy-Authorization"
        challenges: list[DigestChallenge] = []
        for value in values:
            try:
                challenges.append(DigestChallenge.parse(value))
            except SipParseError:
                continue
        try:
            challenge = choose_challenge(challenges)
        except SipParseError:
            self._end_stop_or_fail(now, status_code, "no usable digest challenge")
            return
        self._challenges_this_cycle += 1
        if self._challenges_this_cycle > _MAX_CHALLENGES_PER_CYCLE or (
            self._answered_fresh and not challenge.stale
        ):
            # We answered a fresh challenge and were challenged again without stale=true: wrong credentials.
            self._end_stop_or_fail(now, status_code, "credentials rejected")
            return
        self._challenge, self._nc, self._answered_fresh = (header, challenge), 0, True
        self._send(now)

    def _end_stop_or_fail(self, now: float, status_code: int, reason: str) -> None:
        if self._stopping:
            self._timer = None
            return
        self._fail(now, status_code, reason, permanent=True)

    def _registered(self, now: float, granted: int | None) -> None:
        interval = granted if granted is not None and granted > 0 else self.requested_expires
        self._failures = 0
        self.expires_at = now + interval
        self._timer = now + refresh_delay(interval)
        self._set_state(now, RegistrationState.REGISTERED, status_code=200, expires_at=self.expires_at)

    def _fail(
        self,
        now: float,
        status_code: int | None,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: int | None = None,
    ) -> None:
        self._failures += 1
        if self.expires_at is not None and self.expires_at <= now:
            self.expires_at = None
        if permanent:
            delay, state = self.max_backoff, RegistrationState.FAILED
        else:
            delay = backoff_delay(self._failures, base=self.base_backoff, cap=self.max_backoff, rng=self._rng,
                                  jitter_floor=0.8)  # fmt: skip
            if retry_after is not None and retry_after > 0:
                delay = min(self.max_backoff, max(delay, float(retry_after)))
            state = RegistrationState.BACKOFF
        self._timer = now + delay
        self._set_state(now, state, status_code=status_code, reason=reason, retry_at=self._timer)

    def _set_state(
        self,
        now: float,
        new: RegistrationState,
        *,
        status_code: int | None = None,
        reason: str = "",
        retry_at: float | None = None,
        expires_at: float | None = None,
    ) -> None:
        old, self.state = self.state, new
        if old is not new:
            self._events.append(
                TrunkStatusChanged(
                    trunk_id=self.trunk.id,
                    old=old,
                    new=new,
                    at=now,
                    status_code=status_code,
                    reason=reason,
                    retry_at=retry_at,
                    expires_at=expires_at,
                )
            )
