"""SIP header fields: an ordered, case-insensitive multi-dict plus typed views of the headers we use.

Values are stored as the (unfolded) text that was received, so a message re-serialises byte-for-byte apart
from header-name canonicalisation. Typed views (`Via`, `CSeq`, `NameAddr`) are parsed on demand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from duplex.sip.errors import SipParseError
from duplex.sip.uri import NameAddr, _format_params, _parse_host, is_token, parse_params, split_outside_quotes

__all__ = [
    "COMPACT_FORMS",
    "CSeq",
    "Headers",
    "MULTI_VALUE_HEADERS",
    "Via",
    "canonical_name",
    "split_header_values",
    "via_for",
]

# RFC 3261 §7.3.3 and the IANA registry of compact forms.
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "f": "From",
    "t": "To",
    "m": "Contact",
    "v": "Via",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "y": "Identity",
}
_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in [
        *COMPACT_FORMS.values(),
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authentication-Info",
        "Authorization", "Call-Info", "Content-Disposition", "Content-Language", "CSeq", "Date", "Error-Info",
        "Expires", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires", "Min-SE", "Organization",
        "P-Asserted-Identity", "Path", "Priority", "Proxy-Authenticate", "Proxy-Authorization",
        "Proxy-Require", "RAck", "Reason", "Record-Route", "Reply-To", "Require", "Retry-After", "Route",
        "RSeq", "Server", "Service-Route", "Subscription-State", "Timestamp", "Unsupported", "User-Agent",
        "Warning", "WWW-Authenticate",
    ]
}  # fmt: skip
# Headers whose value is a comma-separated list (RFC 3261 §7.3.1: "it MUST be possible to combine the
# multiple header field rows into one 'field-name: field-value' pair ... by appending each subsequent
# field-value to the first, each separated by a comma").
MULTI_VALUE_HEADERS = frozenset(
    name.lower()
    for name in [
        "Via", "Contact", "Route", "Record-Route", "Path", "Service-Route", "Allow", "Supported", "Require",
        "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language", "Allow-Events",
        "Content-Encoding", "Content-Language", "Alert-Info", "Call-Info", "Error-Info", "In-Reply-To",
        "Warning", "Reason", "P-Asserted-Identity",
    ]
)  # fmt: skip
_WS = " \t"


def canonical_name(name: str) -> str:
    """Map a header name to its canonical spelling; compact forms become full names."""
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, name)


def split_header_values(name: str, value: str) -> list[str]:
    """Split a header value into its comma-separated elements if ``name`` is a list header.

    Commas inside quoted strings and ``<...>`` do not split. Raises SipParseError on empty elements.
    """
    if name.lower() not in MULTI_VALUE_HEADERS:
        return [value]
    parts = [part.strip(_WS) for part in split_outside_quotes(value, ",")]
    if any(not part for part in parts):
        raise SipParseError(f"empty element in {name} list {value!r}")
    return parts


class Headers:
    """Ordered multi-dict of header fields with case-insensitive names (compact forms map to full names).

    ``get``/``get_all`` look up values; ``get_all`` splits list headers (Via, Contact, Route ...) into one
    entry per element. Mutating methods exist for building messages; parsed messages should be treated as
    read-only.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in items]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(
            n.lower() == canonical_name(name).lower() for n, _ in self._items
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(n.lower(), v) for n, v in self._items] == [(n.lower(), v) for n, v in other._items]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def copy(self) -> Headers:
        """Return an independent copy."""
        return Headers(self._items)

    def raw(self, name: str) -> list[str]:
        """All field rows of ``name`` as written (not split on commas)."""
        key = canonical_name(name).lower()
        return [v for n, v in self._items if n.lower() == key]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first field row of ``name`` (not split), or ``default``."""
        values = self.raw(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """All values of ``name``; list headers are split into one value per element."""
        key = canonical_name(name)
        return [part for value in self.raw(key) for part in split_header_values(key, value)]

    def add(self, name: str, value: str) -> None:
        """Append a field row at the end."""
        self._items.append((canonical_name(name), value))

    def prepend(self, name: str, value: str) -> None:
        """Insert a field row before the first row of the same name (or at the top), e.g. a new Via."""
        key = canonical_name(name)
        index = next((i for i, (n, _) in enumerate(self._items) if n.lower() == key.lower()), 0)
        self._items.insert(index, (key, value))

    def set(self, name: str, value: str) -> None:
        """Replace all rows of ``name`` by one row (at the position of the first one, else at the end)."""
        key = canonical_name(name)
        index = next(
            (i for i, (n, _) in enumerate(self._items) if n.lower() == key.lower()), len(self._items)
        )
        self.remove(key)
        self._items.insert(min(index, len(self._items)), (key, value))

    def remove(self, name: str) -> int:
        """Remove all rows of ``name``; return how many were removed."""
        key = canonical_name(name).lower()
        before = len(self._items)
        self._items = [(n, v) for n, v in self._items if n.lower() != key]
        return before - len(self._items)

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first element of ``name`` (splitting list rows), e.g. the top Via."""
        key = canonical_name(name)
        for i, (n, value) in enumerate(self._items):
            if n.lower() == key.lower():
                parts = split_header_values(key, value)
                if len(parts) > 1:
                    self._items[i] = (n, ", ".join(parts[1:]))
                else:
                    del self._items[i]
                return parts[0]
        return None

    # ---- typed views -------------------------------------------------------------------------------

    def single(self, name: str) -> str | None:
        """The only value of a single-valued header, or None. Raises SipParseError if repeated."""
        values = self.raw(name)
        if len(values) > 1:
            raise SipParseError(f"{canonical_name(name)} appears {len(values)} times")
        return values[0] if values else None

    def required(self, name: str) -> str:
        """The only value of a mandatory single-valued header. Raises SipParseError if missing/repeated."""
        value = self.single(name)
        if value is None:
            raise SipParseError(f"missing {canonical_name(name)} header")
        return value

    def vias(self) -> list[Via]:
        """All Via values, top first."""
        return [Via.parse(v) for v in self.get_all("Via")]

    def cseq(self) -> CSeq:
        """The CSeq header."""
        return CSeq.parse(self.required("CSeq"))

    def name_addr(self, name: str) -> NameAddr:
        """A single name-addr header (From, To, Refer-To ...)."""
        return NameAddr.parse(self.required(name))

    def contacts(self) -> list[NameAddr]:
        """Contact values; empty for no Contact and for the wildcard ``*`` (see `is_wildcard_contact`)."""
        values = self.get_all("Contact")
        if values == ["*"]:
            return []
        return [NameAddr.parse(v) for v in values]

    def is_wildcard_contact(self) -> bool:
        """True for ``Contact: *`` (RFC 3261 §10.2.2 remove-all-bindings)."""
        return self.get_all("Contact") == ["*"]

    def name_addrs(self, name: str) -> list[NameAddr]:
        """All name-addr values of a list header (Route, Record-Route, Path ...)."""
        return [NameAddr.parse(v) for v in self.get_all(name)]

    def int_value(self, name: str, maximum: int = 2**32 - 1) -> int | None:
        """A single numeric header (Content-Length, Max-Forwards, Expires ...) or None when absent."""
        value = self.single(name)
        if value is None:
            return None
        return parse_uint(value.strip(_WS), canonical_name(name), maximum)

    def content_length(self) -> int | None:
        """The Content-Length value, None when absent."""
        return self.int_value("Content-Length")

    def max_forwards(self) -> int | None:
        """The Max-Forwards value (0..255), None when absent."""
        return self.int_value("Max-Forwards", 255)


def parse_uint(text: str, what: str, maximum: int) -> int:
    """Parse ``1*DIGIT`` not above ``maximum``. Raises SipParseError otherwise."""
    if not text or len(text) > 30 or not text.isascii() or not text.isdigit():
        raise SipParseError(f"{what} must be digits: {text!r}")
    value = int(text)
    if value > maximum:
        raise SipParseError(f"{what} {value} exceeds {maximum}")
    return value


_VIA_RE = re.compile(
    r"(?P<name>[^\s/]+)\s*/\s*(?P<version>[^\s/]+)\s*/\s*(?P<transport>[^\s/;]+)\s+(?P<sentby>[^;]+?)\s*(?P<params>;.*)?",
    re.DOTALL,
)


def via_for(transport: str, host: str, port: int, branch: str) -> str:
    """The Via value Duplex sends; ``rport`` asks the peer for symmetric responses (RFC 3581 §3)."""
    return f"SIP/2.0/{transport.upper()} {host}:{port};branch={branch};rport"


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value (RFC 3261 §20.42): ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one Via element. Raises SipParseError on bad syntax or a protocol other than SIP/2.0."""
        m = _VIA_RE.fullmatch(text.strip(_WS))
        if not m:
            raise SipParseError(f"bad Via {text!r}")
        if m["name"].upper() != "SIP" or m["version"] != "2.0":
            raise SipParseError(f"Via protocol must be SIP/2.0: {text!r}")
        if not is_token(m["transport"]):
            raise SipParseError(f"bad Via transport {m['transport']!r}")
        host, port = _parse_sent_by(m["sentby"])
        return cls(
            transport=m["transport"].upper(), host=host, port=port, params=parse_params(m["params"] or "")
        )

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        """The branch parameter; RFC 3261 branches start with the magic cookie ``z9hG4bK``."""
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The received parameter, or None."""
        return self.params.get("received")

    @property
    def rport(self) -> int | bool | None:
        """RFC 3581 rport: None if absent, True if present without value, the port number if filled in."""
        if "rport" not in self.params:
            return None
        value = self.params["rport"]
        return True if value is None else parse_uint(value, "rport", 65535)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        """The sent-by (host, port)."""
        return self.host, self.port

    def with_params(self, **params: str | None) -> Via:
        """Return a copy with params added or replaced (e.g. received=, rport=)."""
        return replace(self, params={**self.params, **params})


def _parse_sent_by(text: str) -> tuple[str, int | None]:
    return _parse_host("".join(text.split()))


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header (RFC 3261 §20.16): sequence number and method."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse ``number method``.

        RFC 3261 §8.1.1.5: "The sequence number value MUST be expressible as a 32-bit unsigned integer and
        MUST be less than 2**31."
        """
        parts = text.split()
        if len(parts) != 2 or not is_token(parts[1]):
            raise SipParseError(f"bad CSeq {text!r}")
        return cls(number=parse_uint(parts[0], "CSeq number", 2**31 - 1), method=parts[1])

    def __str__(self) -> str:
        return f"{self.number} {self.method}"
