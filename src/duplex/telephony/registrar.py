"""The location service: REGISTER processing per RFC 3261 §10.3, sans-IO.

The engine authenticates the REGISTER (digest), checks the Request-URI domain and that the user may bind the
address-of-record (§10.3 steps 1-5), then hands the plain values to `Registrar.register()`. This module does
steps 6-8: Contact `*`, expiration intervals (423 and Min-Expires), the Call-ID/CSeq ordering rule, and the
200 OK's Contact list. Time is an argument (`now`, seconds); expiry runs from `handle_timer(now)`.

Every change of a binding is queued as a `BindingChange` (`pop_changes()`), so the engine can emit
`sip.registered` / `sip.unregistered` and persist bindings (`registrar_store.py`).

Requests to a phone go to the transport address its REGISTER came from (`Binding.source`), not to the Contact
host: that is the only address that works behind NAT (RFC 3581 symmetric response routing) and over TCP.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

__all__ = [
    "FLOW_TRANSPORTS",
    "Binding",
    "BindingChange",
    "ChangeKind",
    "ContactSpec",
    "RegisterRequest",
    "RegisterResult",
    "Registrar",
    "RegistrarConfig",
    "Source",
    "contact_key",
    "parse_contact_header",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """The transport address a request arrived from (after rport/received, RFC 3581)."""

    transport: str  # "udp", "tcp", "tls", "ws", "wss"
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport.lower()}:{host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Source:
        """Parse `transport:host:port` as written by `str()` (IPv6 hosts in brackets)."""
        m = re.fullmatch(r"([A-Za-z]+):(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):(\d{1,5})", text)
        if m is None:
            raise ValueError(f"not a transport address: {text!r}")
        return cls(transport=m.group(1).lower(), host=m.group(2).strip("[]"), port=int(m.group(3)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactSpec:
    """One Contact of a REGISTER: the URI plus its `expires` and `q` parameters when present."""

    uri: str
    expires: int | None = None
    q: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterRequest:
    """The values of a REGISTER the registrar needs. `star` is `Contact: *`; `expires` the Expires header."""

    aor: str
    call_id: str
    cseq: int
    source: Source
    contacts: tuple[ContactSpec, ...] = ()
    star: bool = False
    expires: int | None = None
    user_agent: str = ""
    agent_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Binding:
    """A contact bound to an address-of-record until `expires_at` (absolute, in the registrar's clock)."""

    aor: str
    contact: str
    expires_at: float
    q: float = 1.0
    call_id: str = ""
    cseq: int = 0
    source: Source
    user_agent: str = ""
    agent_id: int | None = None
    updated_at: float = 0.0  # when this binding was last added or refreshed

    def remaining(self, now: float) -> int:
        """Seconds left, rounded down (the `expires` parameter of the 200 OK's Contact)."""
        return max(0, int(self.expires_at - now))

    def contact_header_value(self, now: float) -> str:
        """`<uri>;expires=N;q=Q` for the 200 OK (RFC 3261 §10.3 step 8)."""
        q = f";q={self.q:.3f}".rstrip("0").rstrip(".") if self.q != 1.0 else ""
        return f"<{self.contact}>;expires={self.remaining(now)}{q}"


class ChangeKind(enum.StrEnum):
    ADDED = "added"  # a new binding: emit sip.registered
    REFRESHED = "refreshed"  # same binding, new expiry/source: persist only
    REMOVED = "removed"  # emit sip.unregistered


@dataclass(frozen=True, slots=True, kw_only=True)
class BindingChange:
    kind: ChangeKind
    binding: Binding
    reason: str = ""  # for REMOVED: "unregistered", "expired", "evicted"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterResult:
    """The response to send. For 200, `contacts` are the header values of all current bindings;
    for 423, `min_expires` goes into a Min-Expires header."""

    status_code: int
    reason: str
    contacts: tuple[str, ...] = ()
    min_expires: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrarConfig:
    min_expires: int = 60  # shorter (non-zero) intervals get 423 Interval Too Brief
    max_expires: int = 3600  # longer ones are shortened (§10.3 step 7 allows it)
    default_expires: int = 3600  # no expires parameter and no Expires header
    max_contacts: int = 5  # per AOR; beyond it the least recently refreshed other binding is evicted
    max_uri_length: int = 512  # the sip_registrations.contact column

    def __post_init__(self) -> None:
        if not 0 < self.min_expires <= self.max_expires:
            raise ValueError("need 0 < min_expires <= max_expires")
        if self.max_contacts < 1:
            raise ValueError("max_contacts must be >= 1")


FLOW_TRANSPORTS = frozenset({"ws", "wss"})  # bindings that live only as long as their connection

_SIGNIFICANT_PARAMS = ("transport", "user", "ttl", "method", "maddr")


def contact_key(uri: str) -> str:
    """A comparison key approximating RFC 3261 §19.1.4 URI equality for Contact URIs.

    Scheme and host are case-insensitive, the user part is case-sensitive, a missing port differs from an
    explicit one, parameter order does not matter and only transport/user/ttl/method/maddr are compared.
    URI headers (`?...`) are ignored.
    """
    text = uri.strip().strip("<>").split("?", 1)[0]
    scheme, _, rest = text.partition(":")
    main, *params = rest.split(";")
    user, at, hostport = main.rpartition("@")
    kept = sorted(p.lower() for p in params if p.split("=", 1)[0].strip().lower() in _SIGNIFICANT_PARAMS)
    return f"{scheme.lower()}:{user}{at}{hostport.lower()};{';'.join(kept)}"


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    depth_angle, quoted, escaped, start = False, False, False, 0
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch in "<>":
            depth_angle = ch == "<"
        elif ch == sep and not quoted and not depth_angle:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_contact_header(value: str) -> tuple[bool, list[ContactSpec]]:
    """Parse a (possibly comma-joined) Contact header value.

    Returns `(star, contacts)`; `star` is True for `Contact: *`. Raises ValueError for a malformed value
    (the engine answers 400).
    """
    value = value.strip()
    if value == "*":
        return True, []
    specs: list[ContactSpec] = []
    for raw in _split_outside_quotes(value, ","):
        item = raw.strip()
        if not item:
            raise ValueError("empty Contact entry")
        if "<" in item:
            lt, gt = item.index("<"), item.find(">")
            if gt < lt:
                raise ValueError(f"unbalanced <> in Contact: {item!r}")
            uri, params = item[lt + 1 : gt].strip(), item[gt + 1 :]
        else:
            uri, _, params = item.partition(";")
            uri, params = uri.strip(), ";" + params
        if ":" not in uri:
            raise ValueError(f"Contact without a URI scheme: {item!r}")
        specs.append(_contact_params(uri, params))
    return False, specs


def _contact_params(uri: str, params: str) -> ContactSpec:
    expires: int | None = None
    q: float | None = None
    for param in _split_outside_quotes(params, ";")[1:]:
        name, _, val = param.partition("=")
        name = name.strip().lower()
        val = val.strip()
        if name == "expires":
            if not val.isdigit():
                raise ValueError(f"bad expires parameter: {val!r}")
            expires = int(val)
        elif name == "q":
            if not re.fullmatch(r"(0(\.\d{0,3})?|1(\.0{0,3})?)", val):
                raise ValueError(f"bad q parameter: {val!r}")
            q = float(val)
    return ContactSpec(uri=uri, expires=expires, q=q)


class _Failure(Exception):
    def __init__(self, status_code: int, reason: str, min_expires: int | None = None) -> None:
        super().__init__(reason)
        self.result = RegisterResult(status_code=status_code, reason=reason, min_expires=min_expires)


class Registrar:
    """Bindings per address-of-record. Not thread-safe; the engine owns one per node."""

    def __init__(self, config: RegistrarConfig | None = None) -> None:
        self.config = config or RegistrarConfig()
        self._aors: dict[str, dict[str, Binding]] = {}  # aor -> contact_key -> binding
        self._changes: list[BindingChange] = []

    # -- queries ---------------------------------------------------------------------------------------

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """The live contacts of `aor`: highest q first, then the most recently refreshed."""
        live = [b for b in self._aors.get(aor, {}).values() if b.expires_at > now]
        return sorted(live, key=lambda b: (-b.q, -b.updated_at))

    def bindings(self) -> Iterator[Binding]:
        """Every binding held, live or not yet expired by `handle_timer`."""
        for per_aor in self._aors.values():
            yield from per_aor.values()

    def get_timer(self) -> float | None:
        """When the next binding expires (call `handle_timer` then), or None."""
        return min((b.expires_at for b in self.bindings()), default=None)

    def pop_changes(self) -> list[BindingChange]:
        """The binding changes since the last call, oldest first."""
        changes, self._changes = self._changes, []
        return changes

    # -- input -----------------------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Remove every binding whose expiry has passed (queued as REMOVED, reason "expired")."""
        self.expire(now)

    def expire(self, now: float) -> int:
        """Remove expired bindings; returns how many were removed."""
        return self._remove_where(lambda binding: binding.expires_at <= now, "expired")

    def _remove_where(self, doomed: Callable[[Binding], bool], reason: str) -> int:
        """Remove the bindings ``doomed`` picks (each queued as REMOVED with ``reason``); returns how many."""
        count = 0
        for aor in list(self._aors):
            per_aor = self._aors[aor]
            for key, binding in list(per_aor.items()):
                if doomed(binding):
                    del per_aor[key]
                    self._changes.append(
                        BindingChange(kind=ChangeKind.REMOVED, binding=binding, reason=reason)
                    )
                    count += 1
            if not per_aor:
                del self._aors[aor]
        return count

    def restore(self, bindings: list[Binding], now: float) -> None:
        """Load persisted bindings (after a restart) without queuing changes; expired ones are skipped.
        Bindings reached over a WebSocket flow died with the old process's connections: they are queued as
        REMOVED (reason "flow_closed") instead."""
        for binding in bindings:
            if binding.source.transport in FLOW_TRANSPORTS:
                self._changes.append(
                    BindingChange(kind=ChangeKind.REMOVED, binding=binding, reason="flow_closed")
                )
            elif binding.expires_at > now:
                self._aors.setdefault(binding.aor, {})[contact_key(binding.contact)] = binding

    def remove_flow(self, source: Source) -> int:
        """Remove the bindings registered over the connection ``source`` (queued as REMOVED, reason
        "flow_closed"); returns how many.

        RFC 7118 §5.3: a WebSocket client's Contact (``<random>.invalid``) is reachable only over the
        connection it registered on; once that closes the binding routes nowhere (as an RFC 5626 flow that
        failed), so calls to the agent must find no contact instead of timing out.
        """
        return self._remove_where(lambda binding: binding.source == source, "flow_closed")

    def register(self, request: RegisterRequest, now: float) -> RegisterResult:
        """Process an authenticated, authorised REGISTER (RFC 3261 §10.3 steps 6-8).

        Returns the response to send: 200 with all current contacts, 400 for a malformed request, 423 with
        Min-Expires for too short an interval, 500 when the Call-ID/CSeq rule rejects it (out of order or
        retransmitted request). Bindings change only if the whole request succeeds.
        """
        try:
            if request.star:
                updates = self._star_updates(request)
            else:
                updates = self._contact_updates(request, now)
        except _Failure as failure:
            return failure.result
        self._commit(request.aor, updates, now)
        contacts = tuple(b.contact_header_value(now) for b in self.lookup(request.aor, now))
        return RegisterResult(status_code=200, reason="OK", contacts=contacts)

    # -- internals -------------------------------------------------------------------------------------

    def _star_updates(self, request: RegisterRequest) -> dict[str, Binding | None]:
        # §10.3 step 6: "*" is only valid with Expires: 0 and no other Contact.
        if request.contacts or request.expires != 0:
            raise _Failure(400, "Contact * needs Expires: 0 and no other Contact")
        updates: dict[str, Binding | None] = {}
        for key, existing in self._aors.get(request.aor, {}).items():
            self._check_order(existing, request)
            updates[key] = None
        return updates

    def _contact_updates(self, request: RegisterRequest, now: float) -> dict[str, Binding | None]:
        if request.cseq < 0 or not request.call_id:
            raise _Failure(400, "Missing Call-ID or bad CSeq")
        if request.expires is not None and request.expires < 0:
            raise _Failure(400, "Bad Expires")
        existing_all = self._aors.get(request.aor, {})
        updates: dict[str, Binding | None] = {}
        for spec in request.contacts:
            if len(spec.uri) > self.config.max_uri_length:
                raise _Failure(400, "Contact URI too long")
            if spec.q is not None and not 0.0 <= spec.q <= 1.0:
                raise _Failure(400, "Bad q value")
            expires = self._interval(spec, request)
            key = contact_key(spec.uri)
            existing = existing_all.get(key)
            if existing is not None:
                self._check_order(existing, request)
            updates[key] = None if expires == 0 else self._new_binding(request, spec, expires, now)
        if sum(1 for b in updates.values() if b is not None) > self.config.max_contacts:
            raise _Failure(403, "Too many contacts")
        return updates

    def _interval(self, spec: ContactSpec, request: RegisterRequest) -> int:
        # §10.3 step 7: the contact's expires parameter, else the Expires header, else a local default.
        expires = spec.expires if spec.expires is not None else request.expires
        if expires is None:
            expires = self.config.default_expires
        if expires < 0:
            raise _Failure(400, "Bad expires")
        if 0 < expires < self.config.min_expires:
            # "If and only if the requested expiration interval is greater than zero AND smaller than one hour
            # AND less than a registrar-configured minimum, the registrar MAY reject the registration with a
            # response of 423 (Interval Too Brief)."
            raise _Failure(423, "Interval Too Brief", min_expires=self.config.min_expires)
        return min(expires, self.config.max_expires)

    @staticmethod
    def _check_order(existing: Binding, request: RegisterRequest) -> None:
        # §10.3 step 7: same Call-ID and a CSeq not higher than the stored one -> "the update MUST be aborted
        # and the request fails" (an out-of-order or replayed REGISTER from the same UA).
        if existing.call_id == request.call_id and request.cseq <= existing.cseq:
            raise _Failure(500, "Out of order REGISTER (CSeq not higher)")

    @staticmethod
    def _new_binding(request: RegisterRequest, spec: ContactSpec, expires: int, now: float) -> Binding:
        return Binding(
            aor=request.aor,
            contact=spec.uri,
            expires_at=now + expires,
            q=1.0 if spec.q is None else spec.q,
            call_id=request.call_id,
            cseq=request.cseq,
            source=request.source,
            user_agent=request.user_agent,
            agent_id=request.agent_id,
            updated_at=now,
        )

    def _commit(self, aor: str, updates: dict[str, Binding | None], now: float) -> None:
        per_aor = self._aors.setdefault(aor, {})
        for key, new in updates.items():
            old = per_aor.pop(key, None)
            if new is None:
                if old is not None:
                    self._changes.append(
                        BindingChange(kind=ChangeKind.REMOVED, binding=old, reason="unregistered")
                    )
                continue
            if old is not None and old.contact != new.contact:
                new = replace(
                    new, contact=old.contact
                )  # same binding spelled differently: keep the stored form
            kind = ChangeKind.ADDED if old is None else ChangeKind.REFRESHED
            per_aor[key] = new
            self._changes.append(BindingChange(kind=kind, binding=new))
        self._evict(per_aor, set(updates))
        if not per_aor:
            del self._aors[aor]

    def _evict(self, per_aor: dict[str, Binding], touched: set[str]) -> None:
        # Too many contacts: forget the least recently refreshed bindings this request did not touch
        # (a phone that moved to a new NAT port leaves its old binding behind). A request never carries more
        # than max_contacts live contacts (403), so the ones it touched always stay.
        excess = len(per_aor) - self.config.max_contacts
        if excess <= 0:
            return
        candidates = [(k, b) for k, b in per_aor.items() if k not in touched]
        order = sorted(candidates, key=lambda kv: (kv[1].updated_at, kv[1].expires_at))
        for key, binding in order[:excess]:
            del per_aor[key]
            self._changes.append(BindingChange(kind=ChangeKind.REMOVED, binding=binding, reason="evicted"))
