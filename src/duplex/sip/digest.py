"""HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 7616, RFC 8760), sans-IO.

Server side (`DigestServer`): stateless nonces ``<timestamp hex>.<counter hex>.<HMAC>`` so that age can be
checked without storage; expired nonces with a correct digest are answered with ``stale=true``; replays are
blocked by tracking the highest nonce-count per nonce. Time is always an argument (``now`` in seconds).

Client side (`authorize`): compute the Authorization / Proxy-Authorization value for a challenge.
Algorithms: ``SHA-256`` (preferred) and ``MD5``; quality of protection: ``auth``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from duplex.sip.errors import SipParseError
from duplex.sip.uri import is_token, split_outside_quotes

__all__ = [
    "ALGORITHMS",
    "AuthResult",
    "DigestChallenge",
    "DigestCredentials",
    "DigestServer",
    "authorize",
    "choose_challenge",
    "digest_response",
    "parse_auth_params",
]

ALGORITHMS: dict[str, Callable[[bytes], str]] = {
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
}
_PREFERENCE = ("SHA-256", "MD5")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        out, i, inner = [], 0, value[1:-1]
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out)
    return value


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """Parse ``Scheme name=value, name="quoted", ...`` into (scheme, params with lower-case names, unquoted).

    Raises:
        SipParseError: no scheme, a parameter without ``=`` or a non-token name.
    """
    scheme, _, rest = value.strip().partition(" ")
    if not is_token(scheme):
        raise SipParseError(f"bad auth scheme in {value!r}")
    params: dict[str, str] = {}
    for item in split_outside_quotes(rest, ","):
        if not item.strip():
            continue
        name, eq, raw = item.partition("=")
        name = name.strip().lower()
        if not eq or not is_token(name):
            raise SipParseError(f"bad auth parameter {item!r}")
        params[name] = _unquote(raw.strip())
    return scheme, params


def _h(algorithm: str, *parts: str) -> str:
    return ALGORITHMS[algorithm](":".join(parts).encode("utf-8"))


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str | None = None,
    cnonce: str | None = None,
    qop: str | None = None,
) -> str:
    """The request-digest (RFC 7616 §3.4.1): ``KD(H(A1), nonce:nc:cnonce:qop:H(A2))`` with
    ``A1 = username:realm:password`` and ``A2 = method:uri``; without qop ``KD(H(A1), nonce:H(A2))``.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    ha1 = _h(algorithm, username, realm, password)
    ha2 = _h(algorithm, method, uri)
    if qop is None:
        return _h(algorithm, ha1, nonce, ha2)
    return _h(algorithm, ha1, nonce, nc or "", cnonce or "", qop, ha2)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestChallenge:
    """One WWW-Authenticate / Proxy-Authenticate Digest challenge."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ("auth",)
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> DigestChallenge:
        """Parse a challenge header value. Raises SipParseError if it is not a usable Digest challenge."""
        scheme, params = parse_auth_params(value)
        if scheme.lower() != "digest" or "realm" not in params or "nonce" not in params:
            raise SipParseError(f"not a Digest challenge: {value!r}")
        qop = tuple(q.strip() for q in params["qop"].split(",")) if "qop" in params else ()
        return cls(
            realm=params["realm"],
            nonce=params["nonce"],
            algorithm=params.get("algorithm", "MD5").upper(),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )

    def __str__(self) -> str:
        parts = [f"realm={_quote(self.realm)}", f"nonce={_quote(self.nonce)}", f"algorithm={self.algorithm}"]
        if self.qop:
            parts.append(f"qop={_quote(','.join(self.qop))}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestCredentials:
    """An Authorization / Proxy-Authorization Digest value."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, value: str) -> DigestCredentials:
        """Parse an Authorization header value. Raises SipParseError on missing parameters."""
        scheme, params = parse_auth_params(value)
        if scheme.lower() != "digest":
            raise SipParseError(f"unsupported authorization scheme {scheme!r}")
        missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in params]
        if missing:
            raise SipParseError(f"Authorization lacks {', '.join(missing)}")
        return cls(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            algorithm=params.get("algorithm", "MD5").upper(),
            qop=params.get("qop"),
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
            opaque=params.get("opaque"),
        )

    def __str__(self) -> str:
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"uri={_quote(self.uri)}",
            f"response={_quote(self.response)}",
            f"algorithm={self.algorithm}",
        ]
        if self.qop is not None:
            parts += [f"qop={self.qop}", f"nc={self.nc}", f"cnonce={_quote(self.cnonce or '')}"]
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        return "Digest " + ", ".join(parts)


def choose_challenge(challenges: Iterable[DigestChallenge]) -> DigestChallenge:
    """Pick the strongest supported challenge (SHA-256 over MD5). Raises SipParseError if none is usable."""
    usable = [c for c in challenges if c.algorithm in ALGORITHMS and (not c.qop or "auth" in c.qop)]
    if not usable:
        raise SipParseError("no supported Digest challenge")
    return min(usable, key=lambda c: _PREFERENCE.index(c.algorithm))


def authorize(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str,
    nc: int = 1,
) -> DigestCredentials:
    """Client side: answer ``challenge`` for a request ``method uri``.

    ``cnonce`` is supplied by the caller (sans-IO: no randomness here); ``nc`` counts requests sent with this
    nonce. RFC 2617 §3.2.2: "The nc-value is the hexadecimal count of the number of requests (including the
    current request) that the client has sent with the nonce value in this request."
    """
    qop = "auth" if "auth" in challenge.qop else None
    nc_text = f"{nc:08x}" if qop else None
    response = digest_response(
        algorithm=challenge.algorithm,
        username=username,
        realm=challenge.realm,
        password=password,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        nc=nc_text,
        cnonce=cnonce if qop else None,
        qop=qop,
    )
    return DigestCredentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=challenge.algorithm,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce if qop else None,
        opaque=challenge.opaque,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult:
    """Outcome of `DigestServer.verify`. ``stale`` means: re-challenge with ``stale=true``."""

    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""


PasswordLookup = Callable[[str, str], str | None]


class DigestServer:
    """Issue challenges and verify Authorization values for one realm.

    Args:
        realm: the protection domain (RFC 3261 §22.1 wants realm strings to be globally unique).
        secret: HMAC key for nonces; keep it stable across restarts to keep nonces valid.
        nonce_ttl: seconds a nonce stays fresh; older ones get ``stale=true``.
        node_id: distinguishes nonces minted by several nodes sharing ``secret``.
        algorithms: offered algorithms, most preferred first.
    """

    def __init__(
        self,
        *,
        realm: str,
        secret: bytes,
        nonce_ttl: float = 300.0,
        node_id: str = "0",
        algorithms: tuple[str, ...] = _PREFERENCE,
        max_tracked_nonces: int = 100_000,
    ) -> None:
        if not secret:
            raise ValueError("secret must not be empty")
        if any(a not in ALGORITHMS for a in algorithms) or not algorithms:
            raise ValueError(f"algorithms must be a non-empty subset of {sorted(ALGORITHMS)}")
        self.realm, self._secret, self.nonce_ttl = realm, secret, nonce_ttl
        self._node, self.algorithms, self._max = node_id, algorithms, max_tracked_nonces
        self._counter = 0
        self._highest_nc: dict[str, tuple[int, int]] = {}  # nonce -> (timestamp, highest nc)

    def _mac(self, body: str) -> str:
        key_input = f"{body}:{self.realm}".encode()
        return hmac.new(self._secret, key_input, hashlib.sha256).hexdigest()[:32]

    def make_nonce(self, now: float) -> str:
        """Mint a fresh nonce bound to ``now`` (unique per call thanks to a counter)."""
        self._counter += 1
        body = f"{int(now):x}.{self._node}.{self._counter:x}"
        return f"{body}.{self._mac(body)}"

    def nonce_timestamp(self, nonce: str) -> int | None:
        """The mint time of a nonce we issued, or None if it is forged/foreign."""
        body, _, mac = nonce.rpartition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            return int(body.split(".", 1)[0], 16)
        except ValueError:
            return None

    def challenges(self, now: float, *, stale: bool = False) -> list[DigestChallenge]:
        """One challenge per offered algorithm, most preferred first, sharing one nonce.

        RFC 8760 §2.4 (paraphrased): a UAS supporting several algorithms adds one challenge header per
        algorithm, in order of preference.
        """
        nonce = self.make_nonce(now)
        return [
            DigestChallenge(realm=self.realm, nonce=nonce, algorithm=a, stale=stale) for a in self.algorithms
        ]

    def challenge_headers(
        self, now: float, *, proxy: bool = False, stale: bool = False
    ) -> list[tuple[str, str]]:
        """Header fields for a 401 (``WWW-Authenticate``) or 407 (``Proxy-Authenticate``) response."""
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        return [(name, str(c)) for c in self.challenges(now, stale=stale)]

    def _prune(self, now: float) -> None:
        horizon = now - self.nonce_ttl
        if len(self._highest_nc) > self._max or any(ts < horizon for ts, _ in self._highest_nc.values()):
            self._highest_nc = {n: v for n, v in self._highest_nc.items() if v[0] >= horizon}
        while len(self._highest_nc) > self._max:
            self._highest_nc.pop(next(iter(self._highest_nc)))

    def verify(
        self,
        authorization: str,
        *,
        method: str,
        now: float,
        lookup: PasswordLookup,
        request_uri: str | None = None,
    ) -> AuthResult:
        """Check an Authorization / Proxy-Authorization value.

        Args:
            authorization: the header value.
            method: the request method (A2 uses it).
            now: current time in seconds.
            lookup: ``(username, realm) -> password`` or None for unknown users.
            request_uri: if given, the ``uri`` parameter must equal it (RFC 7616 §3.4.6 asks the server to
                check that the uri names the same resource as the request line).

        Returns:
            AuthResult: ``ok`` on success; ``stale`` if the digest is right but the nonce expired.
        """
        try:
            cred = DigestCredentials.parse(authorization)
        except SipParseError as exc:
            return AuthResult(ok=False, reason=exc.reason)
        if cred.realm != self.realm:
            return AuthResult(ok=False, reason="wrong realm")
        if cred.algorithm not in self.algorithms:
            return AuthResult(ok=False, reason=f"algorithm {cred.algorithm} not offered")
        if request_uri is not None and cred.uri != request_uri:
            return AuthResult(ok=False, reason="uri does not match the Request-URI")
        minted = self.nonce_timestamp(cred.nonce)
        if minted is None:
            return AuthResult(ok=False, reason="nonce not issued by us")
        if cred.qop != "auth" or cred.nc is None or cred.cnonce is None:
            return AuthResult(ok=False, reason="qop=auth with nc and cnonce is required")
        if len(cred.nc) != 8 or any(c not in "0123456789abcdefABCDEF" for c in cred.nc):
            return AuthResult(ok=False, reason="nc must be 8 hex digits")
        password = lookup(cred.username, cred.realm)
        if password is None:
            return AuthResult(ok=False, reason="unknown user")
        expected = digest_response(
            algorithm=cred.algorithm,
            username=cred.username,
            realm=cred.realm,
            password=password,
            method=method,
            uri=cred.uri,
            nonce=cred.nonce,
            nc=cred.nc,
            cnonce=cred.cnonce,
            qop="auth",
        )
        if not hmac.compare_digest(expected, cred.response):
            return AuthResult(ok=False, reason="wrong digest")
        if now - minted > self.nonce_ttl:
            # RFC 2617 §3.2.1: "The server should only set stale to TRUE if it receives a request for which
            # the nonce is invalid but with a valid digest for that nonce".
            return AuthResult(ok=False, username=cred.username, stale=True, reason="nonce expired")
        return self._check_nonce_count(cred, minted, now)

    def _check_nonce_count(self, cred: DigestCredentials, minted: int, now: float) -> AuthResult:
        # RFC 2617 §3.2.2: "The purpose of this directive is to allow the server to detect request replays by
        # maintaining its own copy of this count - if the same nc-value is seen twice, then the request is a
        # replay." We keep the highest nc per nonce and accept only larger ones.
        self._prune(now)
        nc = int(cred.nc or "0", 16)
        _, highest = self._highest_nc.get(cred.nonce, (minted, 0))
        if nc <= highest:
            return AuthResult(ok=False, username=cred.username, reason=f"nonce-count {nc} replayed")
        self._highest_nc[cred.nonce] = (minted, nc)
        return AuthResult(ok=True, username=cred.username)
