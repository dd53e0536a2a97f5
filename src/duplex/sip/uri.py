"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) and name-addr / addr-spec values (RFC 3261 §25.1).

Escaped characters (``%XX``) are decoded on parse and re-encoded on ``__str__``; comparison follows
RFC 3261 §19.1.4 for the parts Duplex relies on.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote

from duplex.sip.errors import SipParseError

__all__ = [
    "AbsoluteUri",
    "NameAddr",
    "SipUri",
    "Uri",
    "is_token",
    "parse_params",
    "parse_uri",
    "split_outside_quotes",
]

TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-.!%*_+`'~")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*\Z")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-_]*[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?\Z")
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_WS = " \t"
# Characters that may appear unescaped (besides alphanumerics and "-_.~") in each URI component.
_USER_SAFE = "!*'()&=+$,;?/"
_PASSWORD_SAFE = "!*'()&=+$,"
_PARAM_SAFE = "!*'()[]/:&+$"
_HEADER_SAFE = "!*'()[]/?:+$"
_SIP_SCHEMES = frozenset({"sip", "sips", "tel"})
# RFC 3261 §19.1.4: "A URI omitting any component with a default value will not match a URI explicitly
# containing that component with its default value" - these params must match whenever either side has one.
_STRICT_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def is_token(text: str) -> bool:
    """Return True if ``text`` is a non-empty RFC 3261 ``token``."""
    return bool(text) and all(ch in TOKEN_CHARS for ch in text)


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` except inside quoted strings (with ``\\`` escapes) and ``<...>``.

    Raises:
        SipParseError: on an unterminated quoted string or unbalanced angle brackets.
    """
    parts: list[str] = []
    start = 0
    in_quotes = escaped = in_angle = False
    for i, ch in enumerate(text):
        if in_quotes:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            if in_angle:
                raise SipParseError(f"nested '<' in {text!r}")
            in_angle = True
        elif ch == ">":
            if not in_angle:
                raise SipParseError(f"unbalanced '>' in {text!r}")
            in_angle = False
        elif ch == sep and not in_angle:
            parts.append(text[start:i])
            start = i + 1
    if in_quotes:
        raise SipParseError(f"unterminated quoted string in {text!r}")
    if in_angle:
        raise SipParseError(f"unterminated '<' in {text!r}")
    parts.append(text[start:])
    return parts


def _unescape(text: str, what: str) -> str:
    if _BAD_ESCAPE_RE.search(text):
        raise SipParseError(f"bad %-escape in URI {what}: {text!r}")
    return unquote(text, encoding="utf-8", errors="surrogateescape")


def _escape(text: str, safe: str) -> str:
    return quote(text, safe=safe, encoding="utf-8", errors="surrogateescape")


def _check_chars(text: str, what: str) -> None:
    for ch in text:
        if ch in ' \t\r\n"<>\\' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise SipParseError(f"invalid character {ch!r} in URI {what}")


def _parse_host(text: str) -> tuple[str, int | None]:
    host, port_text = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"unterminated IPv6 reference {text!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise SipParseError(f"bad IPv6 reference {host!r}") from exc
        if rest:
            if not rest.startswith(":"):
                raise SipParseError(f"junk after IPv6 reference {text!r}")
            port_text = rest[1:]
    else:
        if ":" in text:
            host, port_text = text.split(":", 1)
        if not _HOSTNAME_RE.match(host):
            raise SipParseError(f"bad host {host!r}")
    port = None
    if port_text is not None:
        if (
            not 0 < len(port_text) <= 5
            or not port_text.isascii()
            or not port_text.isdigit()
            or int(port_text) > 65535
        ):
            raise SipParseError(f"bad port {port_text!r}")
        port = int(port_text)
    return host, port


def _parse_uri_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        if not item:
            raise SipParseError("empty URI parameter")
        name, eq, value = item.partition("=")
        name = _unescape(name, "parameter").lower()
        if not name:
            raise SipParseError(f"URI parameter without a name: {item!r}")
        params[name] = _unescape(value, "parameter") if eq else None
    return params


def _parse_uri_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if not name or not eq:
            raise SipParseError(f"bad URI header {item!r}")
        headers[_unescape(name, "header")] = _unescape(value, "header")
    return headers


@dataclass(frozen=True, slots=True, eq=False)
class SipUri:
    """A ``sip:``, ``sips:`` or ``tel:`` URI. For ``tel:`` the number is in ``user`` and ``host`` is empty.

    Parameter names are stored lower-case; values, user and password are stored unescaped.
    """

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP/SIPS/tel URI.

        Raises:
            SipParseError: 416 for another scheme, 400 for malformed text.
        """
        scheme, colon, rest = text.partition(":")
        if not colon or not _SCHEME_RE.match(scheme):
            raise SipParseError(f"not an absolute URI: {text!r}")
        scheme = scheme.lower()
        if scheme not in _SIP_SCHEMES:
            raise SipParseError(f"unsupported URI scheme {scheme!r}", 416)
        _check_chars(rest, "")
        if scheme == "tel":
            number, _, ptext = rest.partition(";")
            if not number:
                raise SipParseError(f"empty tel URI {text!r}")
            params = _parse_uri_params(ptext) if ptext else {}
            return cls(scheme="tel", user=_unescape(number, "number"), params=params)
        user = password = None
        at = rest.find("@")
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1 :]
            user_text, pcolon, pw_text = userinfo.partition(":")
            if not user_text:
                raise SipParseError(f"empty user part in {text!r}")
            user = _unescape(user_text, "user")
            password = _unescape(pw_text, "password") if pcolon else None
        rest, qmark, htext = rest.partition("?")
        hostport, semi, ptext = rest.partition(";")
        host, port = _parse_host(hostport)
        params = _parse_uri_params(ptext) if semi else {}
        headers = _parse_uri_headers(htext) if qmark else {}
        return cls(
            scheme=scheme, user=user, password=password, host=host, port=port, params=params, headers=headers
        )

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.scheme == "tel":
            out.append(_escape(self.user or "", "+-.()*#;=!$&',/:?@[]~"))
        else:
            if self.user is not None:
                out.append(_escape(self.user, _USER_SAFE))
                if self.password is not None:
                    out += [":", _escape(self.password, _PASSWORD_SAFE)]
                out.append("@")
            out.append(self.host)
            if self.port is not None:
                out.append(f":{self.port}")
        for name, value in self.params.items():
            out += [";", _escape(name, _PARAM_SAFE)]
            if value is not None:
                out += ["=", _escape(value, _PARAM_SAFE)]
        if self.headers:
            hdrs = "&".join(
                f"{_escape(k, _HEADER_SAFE)}={_escape(v, _HEADER_SAFE)}" for k, v in self.headers.items()
            )
            out += ["?", hdrs]
        return "".join(out)

    def __eq__(self, other: object) -> bool:
        """RFC 3261 §19.1.4 comparison: user/password case-sensitive, host/params case-insensitive."""
        if not isinstance(other, SipUri):
            return NotImplemented
        if (self.scheme, self.user, self.password, self.port) != (
            other.scheme,
            other.user,
            other.password,
            other.port,
        ) or self.host.lower() != other.host.lower():
            return False
        for name in set(self.params) | set(other.params):
            mine, theirs = self.params.get(name, ""), other.params.get(name, "")
            both = name in self.params and name in other.params
            if (both or name in _STRICT_PARAMS) and (mine or "").lower() != (theirs or "").lower():
                return False
            if (both or name in _STRICT_PARAMS) and (name in self.params) != (name in other.params):
                return False
        mine_h = {k.lower(): v for k, v in self.headers.items()}
        return mine_h == {k.lower(): v for k, v in other.headers.items()}

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.host.lower(), self.port))

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-case, or None."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def aor(self) -> str:
        """Address-of-record form ``scheme:user@host`` (no port, params or headers), host lower-cased."""
        if self.scheme == "tel":
            return f"tel:{self.user}"
        user = f"{_escape(self.user, _USER_SAFE)}@" if self.user is not None else ""
        return f"{self.scheme}:{user}{self.host.lower()}"

    def with_params(self, **params: str | None) -> SipUri:
        """Return a copy with the given parameters added or replaced."""
        return replace(self, params={**self.params, **params})


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any other absolute URI (``mailto:``, ``urn:``, ``http:`` ...), kept opaque."""

    scheme: str
    rest: str

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        """Parse ``scheme:rest``. Raises SipParseError on bad syntax."""
        scheme, colon, rest = text.partition(":")
        if not colon or not _SCHEME_RE.match(scheme) or not rest:
            raise SipParseError(f"not an absolute URI: {text!r}")
        _check_chars(rest, "")
        return cls(scheme=scheme.lower(), rest=rest)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Parse a SIP/SIPS/tel URI into `SipUri`, any other absolute URI into `AbsoluteUri`."""
    scheme = text.partition(":")[0].lower()
    return SipUri.parse(text) if scheme in _SIP_SCHEMES else AbsoluteUri.parse(text)


def _check_param_value(value: str) -> None:
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"'):
            raise SipParseError(f"bad quoted parameter value {value!r}")
        return
    if value.startswith("[") and value.endswith("]"):
        _parse_host(value)
        return
    if not is_token(value) and not all(ch in TOKEN_CHARS or ch == ":" for ch in value):
        raise SipParseError(f"bad parameter value {value!r}")


def parse_params(text: str) -> dict[str, str | None]:
    """Parse header parameters ``;name[=value]...`` (RFC 3261 ``generic-param``).

    Names are lower-cased; values are kept as written (quoted strings keep their quotes).

    Raises:
        SipParseError: on an empty parameter (``;;``), a non-token name or a bad value.
    """
    text = text.strip(_WS)
    if not text:
        return {}
    if not text.startswith(";"):
        raise SipParseError(f"expected ';' before parameters: {text!r}")
    params: dict[str, str | None] = {}
    for item in split_outside_quotes(text[1:], ";"):
        name, eq, value = item.partition("=")
        name, value = name.strip(_WS), value.strip(_WS)
        if not is_token(name):
            raise SipParseError(f"bad parameter name {name!r}")
        if eq:
            _check_param_value(value)
        params[name.lower()] = value if eq else None
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _parse_quoted(text: str) -> tuple[str, str]:
    """Parse a leading quoted-string; return (unescaped content, remaining text)."""
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), text[i + 1 :]
        out.append(ch)
        i += 1
    raise SipParseError(f"unterminated quoted display name in {text!r}")


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A ``name-addr`` or ``addr-spec`` with header parameters, as in From, To, Contact, Route.

    ``display_name`` is unquoted text (None when absent); ``params`` are header params (``tag``, ``expires``).
    """

    uri: Uri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse ``[display-name] <uri>;params`` or ``uri;params``.

        Raises:
            SipParseError: unbalanced quotes, non-token display names, spaces inside ``<>``, or an
                addr-spec containing ``?`` (RFC 3261 §20.10: such URIs "MUST be enclosed in angle brackets").
        """
        text = text.strip(_WS)
        display: str | None = None
        if text.startswith('"'):
            display, text = _parse_quoted(text)
            text = text.lstrip(_WS)
            if not text.startswith("<"):
                raise SipParseError("quoted display name not followed by '<'")
        lt = text.find("<")
        if lt >= 0:
            if display is None:
                words = text[:lt].split()
                if not all(is_token(w) for w in words):
                    raise SipParseError(f"display name must be a token list or quoted: {text[:lt]!r}")
                display = " ".join(words) if words else None
            gt = text.find(">", lt)
            if gt < 0:
                raise SipParseError(f"missing '>' in {text!r}")
            uri_text, rest = text[lt + 1 : gt], text[gt + 1 :]
            if uri_text != uri_text.strip(_WS):
                raise SipParseError(f"whitespace inside <> around {uri_text!r}")
            return cls(uri=parse_uri(uri_text), display_name=display, params=parse_params(rest))
        uri_text, semi, rest = text.partition(";")
        uri_text = uri_text.rstrip(_WS)
        if "?" in uri_text or "," in uri_text or any(c in uri_text for c in _WS):
            raise SipParseError(f"addr-spec with '?', ',' or spaces must be in <>: {uri_text!r}")
        return cls(uri=parse_uri(uri_text), params=parse_params(semi + rest))

    def __str__(self) -> str:
        out = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            out = f'"{escaped}" '
        return f"{out}<{self.uri}>{_format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To), or None."""
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        """Return a copy carrying ``;tag=tag``."""
        if not is_token(tag):
            raise ValueError(f"tag must be a token: {tag!r}")
        return replace(self, params={**self.params, "tag": tag})

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter as int, or None when absent."""
        value = self.params.get("expires")
        if value is None:
            return None
        if not value.isascii() or not value.isdigit():
            raise SipParseError(f"bad expires parameter {value!r}")
        return int(value)

    @property
    def q(self) -> float | None:
        """The Contact ``q`` parameter (0..1), or None when absent."""
        value = self.params.get("q")
        if value is None:
            return None
        if not re.fullmatch(r"0(\.\d{0,3})?|1(\.0{0,3})?", value):
            raise SipParseError(f"bad q parameter {value!r}")
        return float(value)
