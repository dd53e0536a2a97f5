"""SIP requests and responses (RFC 3261 §7): typed values, a datagram parser and a serialiser.

Sans-IO, after h11: bytes in, typed objects out, no sockets.

- `parse_message` turns one UDP datagram into a `SipRequest` or `SipResponse`, or raises `SipParseError`
  whose ``status_code`` is the response a UAS should send (a UAC silently drops bad responses).
- ``bytes(message)`` serialises with CRLF line endings and a Content-Length that always matches the body.
- `make_response` builds a response to a request per RFC 3261 §8.2.6.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from duplex.sip.errors import LocalProtocolError, SipParseError
from duplex.sip.headers import CSeq, Headers, Via
from duplex.sip.uri import NameAddr, SipUri, is_token

__all__ = [
    "MAX_DATAGRAM_SIZE",
    "REASON_PHRASES",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "make_response",
    "parse_message",
    "reason_phrase",
]

MAX_DATAGRAM_SIZE = 65535
MAX_REQUEST_URI_LENGTH = 4096
SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    199: "Early Dialog Terminated", 200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone", 412: "Conditional Request Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required", 422: "Session Interval Too Small",
    423: "Interval Too Brief", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
    493: "Undecipherable", 500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}  # fmt: skip

_HEAD_END_RE = re.compile(rb"\r?\n\r?\n")
_LINE_SPLIT_RE = re.compile(r"\r?\n")
_VERSION_RE = re.compile(r"SIP/([0-9]{1,5})\.([0-9]{1,5})", re.IGNORECASE)
# Only CR and LF are forbidden inside a header value: quoted-pair may carry any other octet (RFC 4475 intmeth).
_BAD_CTL_RE = re.compile(r"[\r\n]")
_DATE_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} GMT"
)
_WS = " \t"


def reason_phrase(status: int) -> str:
    """The RFC 3261 §21 reason phrase for ``status`` (a generic one for unknown codes)."""
    return REASON_PHRASES.get(status, {1: "Progress", 2: "OK"}.get(status // 100, "Error"))


class _MessageBase:
    """Properties shared by requests and responses (typed views of the headers)."""

    __slots__ = ()
    headers: Headers
    body: bytes

    @property
    def start_line(self) -> str:
        raise NotImplementedError

    @property
    def call_id(self) -> str:
        """The Call-ID value."""
        return self.headers.required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        """The parsed CSeq header."""
        return self.headers.cseq()

    @property
    def from_addr(self) -> NameAddr:
        """The parsed From header."""
        return self.headers.name_addr("From")

    @property
    def to_addr(self) -> NameAddr:
        """The parsed To header."""
        return self.headers.name_addr("To")

    @property
    def from_tag(self) -> str | None:
        """The From tag."""
        return self.from_addr.tag

    @property
    def to_tag(self) -> str | None:
        """The To tag (None outside a dialog)."""
        return self.to_addr.tag

    @property
    def vias(self) -> list[Via]:
        """All Via values, top first."""
        return self.headers.vias()

    @property
    def top_via(self) -> Via:
        """The top-most Via. Raises SipParseError if there is none."""
        values = self.headers.get_all("Via")
        if not values:
            raise SipParseError("missing Via header")
        return Via.parse(values[0])

    @property
    def branch(self) -> str | None:
        """The branch parameter of the top Via."""
        return self.top_via.branch

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values (empty for none or ``*``)."""
        return self.headers.contacts()

    @property
    def max_forwards(self) -> int | None:
        """The Max-Forwards value, None when absent."""
        return self.headers.max_forwards()

    @property
    def content_type(self) -> str | None:
        """The Content-Type value, None when absent."""
        return self.headers.get("Content-Type")

    def __bytes__(self) -> bytes:
        """Serialise with CRLF line endings; Content-Length is always (re)written to match the body."""
        lines = [self.start_line]
        wrote_length = False
        for name, value in self.headers:
            if name == "Content-Length":
                if wrote_length:
                    continue
                value, wrote_length = str(len(self.body)), True
            if not is_token(name) or _BAD_CTL_RE.search(value):
                raise LocalProtocolError(f"invalid header field {name!r}: {value!r}")
            lines.append(f"{name}: {value}")
        if not wrote_length:
            lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body


@dataclass(frozen=True, slots=True)
class SipRequest(_MessageBase):
    """A SIP request. ``uri`` is the Request-URI; ``headers`` keep received order."""

    method: str
    uri: SipUri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not is_token(self.method):
            raise LocalProtocolError(f"method must be a token: {self.method!r}")

    @classmethod
    def parse(cls, data: bytes) -> SipRequest:
        """Parse a datagram that must hold a request (see `parse_message`)."""
        message = parse_message(data)
        if not isinstance(message, SipRequest):
            raise SipParseError("expected a request, got a response")
        return message

    @property
    def start_line(self) -> str:
        """``Method SP Request-URI SP SIP/2.0``."""
        return f"{self.method} {self.uri} {SIP_VERSION}"

    @property
    def is_invite(self) -> bool:
        """True for INVITE."""
        return self.method == "INVITE"

    @property
    def is_ack(self) -> bool:
        """True for ACK."""
        return self.method == "ACK"

    @property
    def is_cancel(self) -> bool:
        """True for CANCEL."""
        return self.method == "CANCEL"


@dataclass(frozen=True, slots=True)
class SipResponse(_MessageBase):
    """A SIP response. ``reason`` may be empty (RFC 4475 §3.1.1.13)."""

    status: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 699:
            raise LocalProtocolError(f"status code must be 100..699: {self.status}")
        if _BAD_CTL_RE.search(self.reason):
            raise LocalProtocolError(f"control character in reason phrase {self.reason!r}")

    @classmethod
    def parse(cls, data: bytes) -> SipResponse:
        """Parse a datagram that must hold a response (see `parse_message`)."""
        message = parse_message(data)
        if not isinstance(message, SipResponse):
            raise SipParseError("expected a response, got a request")
        return message

    @property
    def start_line(self) -> str:
        """``SIP/2.0 SP Status-Code SP Reason-Phrase``."""
        return f"{SIP_VERSION} {self.status} {self.reason}"

    @property
    def method(self) -> str:
        """The method of the request this answers (from CSeq)."""
        return self.cseq.method

    @property
    def is_invite(self) -> bool:
        """True for a response to INVITE."""
        return self.method == "INVITE"

    @property
    def is_provisional(self) -> bool:
        """1xx."""
        return self.status < 200

    @property
    def is_final(self) -> bool:
        """2xx-6xx."""
        return self.status >= 200

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300


SipMessage = SipRequest | SipResponse


# ---- parsing ------------------------------------------------------------------------------------------


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    """Split at the first empty line: (start line + headers, remainder), or None if not complete yet.

    Bare LF line endings are tolerated (RFC 3261 §7.5 asks for CRLF; we accept LF as a robustness measure).
    """
    m = _HEAD_END_RE.search(data)
    if m is None:
        return None
    return data[: m.start()], data[m.end() :]


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Decode the start line and header fields, unfolding continuation lines.

    RFC 3261 §7.3.1: "Header fields can be extended over multiple lines by preceding each extra line with
    at least one SP or horizontal tab (HT)."

    Raises:
        SipParseError: a header line without a colon or with a non-token name, or a control character.
    """
    text = head.decode("utf-8", "surrogateescape")
    lines = _LINE_SPLIT_RE.split(text)
    fields: list[tuple[str, str]] = []
    for line in lines[1:]:
        if _BAD_CTL_RE.search(line):
            raise SipParseError(f"bare CR in header line {line!r}")
        if line[:1] in (" ", "\t"):
            if not fields:
                raise SipParseError("continuation line before the first header")
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip(_WS)}".strip(_WS))
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(_WS)
        if not colon or not is_token(name):
            raise SipParseError(f"malformed header line {line!r}")
        fields.append((name, value.strip(_WS)))
    start = lines[0]
    if _BAD_CTL_RE.search(start):
        raise SipParseError(f"bare CR in start line {start!r}")
    return start, fields


def _check_version(version: str) -> None:
    m = _VERSION_RE.fullmatch(version)
    if m is None:
        raise SipParseError(f"bad SIP-Version {version!r}")
    if (int(m[1]), int(m[2])) != (2, 0):
        raise SipParseError(f"SIP version {version!r} not supported", 505)


def _parse_request_line(line: str) -> tuple[str, SipUri]:
    # RFC 3261 §7.1: "Request-Line = Method SP Request-URI SP SIP-Version CRLF" and "The elements are
    # separated by single space (SP) characters."
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError(f"Request-Line must be 'Method SP Request-URI SP SIP-Version': {line!r}")
    method, uri_text, version = parts
    if not is_token(method):
        raise SipParseError(f"method is not a token: {method!r}")
    _check_version(version)
    if len(uri_text) > MAX_REQUEST_URI_LENGTH:
        raise SipParseError("Request-URI too long", 414)
    uri = SipUri.parse(uri_text)
    if uri.headers:
        # RFC 3261 §19.1.1, Table 1: the headers component is not allowed in a Request-URI.
        raise SipParseError("Request-URI must not contain headers")
    return method, uri


def _parse_status_line(line: str) -> tuple[int, str]:
    # RFC 3261 §7.2: "Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF"; an absent SP before
    # an empty reason is tolerated (RFC 4475 §3.1.1.13 calls such a receiver liberal).
    version, _, rest = line.partition(" ")
    _check_version(version)
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isascii() or not code.isdigit() or not 100 <= int(code) <= 699:
        raise SipParseError(f"bad Status-Code {code!r}")
    return int(code), reason


def _validate_headers(headers: Headers, method: str | None) -> None:
    # RFC 3261 §8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain the following
    # header fields: To, From, CSeq, Call-ID, Max-Forwards, and Via". Max-Forwards is checked only if present.
    for name in ("To", "From", "Call-ID"):
        headers.required(name)
    call_id = headers.required("Call-ID")
    if not call_id or any(ch in call_id for ch in _WS):
        raise SipParseError(f"bad Call-ID {call_id!r}")
    cseq = headers.cseq()
    if method is not None and cseq.method != method:
        raise SipParseError(f"CSeq method {cseq.method!r} does not match request method {method!r}")
    if not headers.vias():
        raise SipParseError("missing Via header")
    for name in ("From", "To"):
        _check_tag(name, headers.name_addr(name))
    headers.max_forwards()
    headers.contacts()
    headers.name_addrs("Route")
    headers.name_addrs("Record-Route")
    date = headers.single("Date")
    if date is not None and not _DATE_RE.fullmatch(date):
        # RFC 3261 §20.17: "SIP only supports recent dates ... the time zone MUST be GMT" (rfc1123-date).
        raise SipParseError(f"bad Date {date!r}")


def _check_tag(name: str, value: NameAddr) -> None:
    # RFC 3261 §25.1: "tag-param = "tag" EQUAL token" and a token has at least one character: an empty
    # ``;tag=`` (or a bare ``;tag``) could never be echoed in a later request of the dialog.
    if "tag" in value.params and not is_token(value.params["tag"] or ""):
        raise SipParseError(f"{name} tag must be a token: {value.params['tag']!r}")


def build_message(head: bytes, body: bytes) -> SipMessage:
    """Build and validate a message from its head (start line + headers) and its exact body."""
    start, fields = parse_head(head)
    headers = Headers(fields)
    message: SipMessage
    if start[:4].upper() == "SIP/":
        status, reason = _parse_status_line(start)
        message = SipResponse(status, reason, headers, body)
        _validate_headers(headers, None)
    else:
        method, uri = _parse_request_line(start)
        message = SipRequest(method, uri, headers, body)
        _validate_headers(headers, method)
    headers.set("Content-Length", str(len(body)))
    return message


def parse_message(data: bytes, *, max_size: int = MAX_DATAGRAM_SIZE) -> SipMessage:
    """Parse one datagram (UDP) into a request or response.

    RFC 3261 §18.3: "If the transport packet ends before the end of the message body, this is considered an
    error. If the message is a request, the element SHOULD generate a 400 (Bad Request) response" and "Any
    additional bytes in the transport packet beyond the end of the body MUST be discarded." Without a
    Content-Length the body runs to the end of the datagram. The Content-Length header of the result is
    normalised to the body length (added if absent).

    Raises:
        SipParseError: with ``status_code`` 400 (syntax), 414, 416, 505 or 513 (larger than ``max_size``).
    """
    if len(data) > max_size:
        raise SipParseError(f"message of {len(data)} bytes exceeds {max_size}", 513)
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty message")
    parts = split_head(data)
    if parts is None:
        if data.endswith(b"\n"):
            head, rest = data.rstrip(b"\r\n"), b""
        else:
            raise SipParseError("message head is not terminated by an empty line")
    else:
        head, rest = parts
    length = Headers(parse_head(head)[1]).content_length()
    if length is None:
        body = rest
    elif length > len(rest):
        raise SipParseError(f"Content-Length {length} exceeds the {len(rest)} body bytes received")
    else:
        body = rest[:length]
    return build_message(head, body)


# ---- building responses ------------------------------------------------------------------------------

_DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER"})


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """Build a response to ``request`` per RFC 3261 §8.2.6.2.

    "The From field of the response MUST equal the From header field of the request. The Call-ID header
    field of the response MUST equal the Call-ID header field of the request. The CSeq header field of the
    response MUST equal the CSeq field of the request. The Via header field values in the response MUST equal
    the Via header field values in the request and MUST maintain the same ordering." If the request To has no
    tag "the UAS MUST add a tag to the To header field in the response (with the exception of the 100
    (Trying) response, in which a tag MAY be present)". For a 100 the Timestamp is copied (§8.2.6.1); for
    101-299 to a dialog-creating request Record-Route is copied (§12.1.1).

    Args:
        request: the request being answered.
        status: 100..699.
        reason: reason phrase; defaults to the RFC 3261 §21 phrase.
        to_tag: tag to add to To when the request's To has none (required then, except for 100).
        headers: extra header fields appended after the copied ones.
        body: message body.

    Raises:
        LocalProtocolError: bad status, or a missing ``to_tag`` where one is needed.
    """
    src = request.headers
    out = Headers(("Via", v) for v in src.raw("Via"))
    out.add("From", src.required("From"))
    to_value = src.required("To")
    if NameAddr.parse(to_value).tag is None and status != 100:
        if to_tag is None:
            raise LocalProtocolError(f"a {status} response to a request without To tag needs to_tag")
        to_value = f"{to_value};tag={to_tag}"
    out.add("To", to_value)
    out.add("Call-ID", src.required("Call-ID"))
    out.add("CSeq", src.required("CSeq"))
    if status == 100 and "Timestamp" in src:
        out.add("Timestamp", src.raw("Timestamp")[0])
    if 100 < status < 300 and request.method in _DIALOG_CREATING:
        for value in src.raw("Record-Route"):
            out.add("Record-Route", value)
    for name, value in headers:
        out.add(name, value)
    return SipResponse(status, reason if reason is not None else reason_phrase(status), out, body)
