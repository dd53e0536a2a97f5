"""SDP session descriptions (RFC 4566): parse and serialise as frozen dataclasses.

Unknown attributes and lines are kept and written back, so an SDP passes through unchanged.
Offer/answer (RFC 3264) lives in ``duplex.media.offer_answer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = [
    "DIRECTIONS",
    "SdpConnection",
    "SdpError",
    "SdpMedia",
    "SdpNegotiationError",
    "SdpOrigin",
    "SdpParseError",
    "SessionDescription",
]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
Attribute = tuple[str, str | None]
_SESSION_ORDER = "vosiuepcbtrzkam"
_MEDIA_ORDER = "icbka"


_KNOWN_TYPES = frozenset("vosiuepcbtrzkam")


class SdpError(Exception):
    """Base class: ``status_code`` is the SIP response to send for it."""

    status_code = 400


class SdpParseError(SdpError, ValueError):
    """Malformed SDP (-> 400 Bad Request)."""

    status_code = 400


class SdpNegotiationError(SdpError):
    """No acceptable media (RFC 3264 §6: -> 488 Not Acceptable Here)."""

    status_code = 488


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpOrigin:
    """RFC 4566 §5.2 ``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str = "-"
    session_id: int
    session_version: int
    net_type: str = "IN"
    addr_type: str = "IP4"
    address: str

    @classmethod
    def parse(cls, value: str) -> SdpOrigin:
        parts = value.split()
        if len(parts) != 6:
            raise SdpParseError(f"SDP o= line needs 6 fields, got {len(parts)}")
        try:
            sid, ver = int(parts[1]), int(parts[2])
        except ValueError:
            raise SdpParseError("SDP o= session id and version must be numeric") from None
        return cls(username=parts[0], session_id=sid, session_version=ver, net_type=parts[3],
                   addr_type=parts[4], address=parts[5])  # fmt: skip

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.net_type} {self.addr_type} {self.address}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpConnection:
    """RFC 4566 §5.7 ``c=<nettype> <addrtype> <connection-address>``."""

    net_type: str = "IN"
    addr_type: str = "IP4"
    address: str

    @classmethod
    def parse(cls, value: str) -> SdpConnection:
        parts = value.split()
        if len(parts) != 3:
            raise SdpParseError(f"SDP c= line needs 3 fields, got {len(parts)}")
        return cls(net_type=parts[0], addr_type=parts[1], address=parts[2].split("/")[0])

    @property
    def is_hold(self) -> bool:
        """RFC 3264 §8.4 legacy hold: "c=0.0.0.0" (RFC 2543)."""
        return self.address == "0.0.0.0"

    def __str__(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"


def _attr_str(name: str, value: str | None) -> str:
    return name if value is None else f"{name}:{value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpMedia:
    """RFC 4566 §5.14 media description: ``m=<media> <port> <proto> <fmt> ...`` and its lines."""

    media: str = "audio"
    port: int
    proto: str = "RTP/AVP"
    formats: tuple[str, ...]
    connection: SdpConnection | None = None
    attributes: tuple[Attribute, ...] = ()
    other: tuple[tuple[str, str], ...] = ()  # i=, b=, k= lines, kept verbatim

    def attribute(self, name: str) -> str | None:
        for n, v in self.attributes:
            if n == name:
                return v if v is not None else ""
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [v or "" for n, v in self.attributes if n == name]

    @property
    def rtpmap(self) -> dict[int, tuple[str, int, int]]:
        """``{pt: (encoding, clock rate, channels)}`` from ``a=rtpmap`` lines (RFC 4566 §6)."""
        out = {}
        for value in self.attribute_values("rtpmap"):
            pt, _, enc = value.partition(" ")
            parts = enc.strip().split("/")
            try:
                out[int(pt)] = (parts[0], int(parts[1]) if len(parts) > 1 else 8000,
                                int(parts[2]) if len(parts) > 2 else 1)  # fmt: skip
            except ValueError:
                raise SdpParseError(f"SDP a=rtpmap malformed: {value!r}") from None
        return out

    @property
    def fmtp(self) -> dict[int, str]:
        out = {}
        for value in self.attribute_values("fmtp"):
            pt, _, params = value.partition(" ")
            if pt.isdigit():
                out[int(pt)] = params.strip()
        return out

    @property
    def ptime(self) -> int | None:
        v = self.attribute("ptime")
        return int(float(v)) if v and v.replace(".", "", 1).isdigit() else None

    @property
    def direction(self) -> str:
        """The media direction attribute; RFC 3264 §5.1 default is sendrecv."""
        for name, _ in self.attributes:
            if name in DIRECTIONS:
                return name
        return "sendrecv"

    def with_direction(self, direction: str) -> SdpMedia:
        attrs = tuple(a for a in self.attributes if a[0] not in DIRECTIONS) + ((direction, None),)
        return replace(self, attributes=attrs)

    def lines(self) -> list[str]:
        out = [f"m={self.media} {self.port} {self.proto} {' '.join(self.formats)}".rstrip()]
        for kind in _MEDIA_ORDER:
            if kind == "c" and self.connection is not None:
                out.append(f"c={self.connection}")
            elif kind == "a":
                out.extend(f"a={_attr_str(n, v)}" for n, v in self.attributes)
            else:
                out.extend(f"{k}={v}" for k, v in self.other if k == kind)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDescription:
    version: int = 0
    origin: SdpOrigin
    session_name: str = "-"
    connection: SdpConnection | None = None
    timing: str = "0 0"
    attributes: tuple[Attribute, ...] = ()
    media: tuple[SdpMedia, ...] = ()
    other: tuple[tuple[str, str], ...] = field(default=())  # i= u= e= p= b= r= z= k= lines

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        """Parse an SDP body (CRLF or LF line ends).

        Raises:
            SdpParseError: missing v=/o=/s=/t=/m= pieces or malformed lines.
        """
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
        if not lines or not lines[0].startswith("v="):
            raise SdpParseError("SDP must start with a v= line")
        session = _Section()
        media: list[_Section] = []
        fields: dict[str, str] = {}
        for ln in lines:
            if len(ln) < 2 or ln[1] != "=":
                raise SdpParseError(f"SDP line is not <type>=<value>: {ln[:40]!r}")
            kind, value = ln[0], ln[2:]
            if kind not in _KNOWN_TYPES:
                # RFC 4566 §5: "An SDP parser MUST completely ignore any session description that contains
                # a type letter that it does not understand."
                raise SdpParseError(f"SDP line type {kind!r} is not defined by RFC 4566")
            if media and kind not in _MEDIA_ORDER and kind != "m":
                # RFC 4566 §5 grammar: a media description holds only i=, c=, b=, k= and a= lines.
                raise SdpParseError(f"SDP {kind}= line is not allowed inside a media description")
            target = media[-1] if media else session
            if kind == "m":
                media.append(_Section(m=_parse_m(value)))
            elif kind == "v" and value != "0":
                raise SdpParseError(f"SDP version {value!r} is not 0")
            elif kind in "ost" and not media:
                fields[kind] = value
            elif kind == "c":
                target.connection = SdpConnection.parse(value)
            elif kind == "a":
                name, sep, val = value.partition(":")
                target.attributes.append((name, val if sep else None))
            elif kind != "v":
                target.other.append((kind, value))
        for kind in "ost":
            if kind not in fields:
                raise SdpParseError(f"SDP has no {kind}= line")
        return cls(
            origin=SdpOrigin.parse(fields["o"]),
            session_name=fields["s"],
            connection=session.connection,
            timing=fields["t"],
            attributes=tuple(session.attributes),
            other=_in_order(session.other, _SESSION_ORDER),
            media=tuple(sec.to_media() for sec in media),
        )

    def __str__(self) -> str:
        out: list[str] = []
        for kind in _SESSION_ORDER:
            if kind == "v":
                out.append(f"v={self.version}")
            elif kind == "o":
                out.append(f"o={self.origin}")
            elif kind == "s":
                out.append(f"s={self.session_name}")
            elif kind == "c" and self.connection is not None:
                out.append(f"c={self.connection}")
            elif kind == "t":
                out.append(f"t={self.timing}")
            elif kind == "a":
                out.extend(f"a={_attr_str(n, v)}" for n, v in self.attributes)
            elif kind == "m":
                for m in self.media:
                    out.extend(m.lines())
            else:
                out.extend(f"{k}={v}" for k, v in self.other if k == kind)
        return "\r\n".join(out) + "\r\n"

    def __bytes__(self) -> bytes:
        return str(self).encode()

    def media_connection(self, media: SdpMedia) -> SdpConnection | None:
        """The effective c= of a media section (media-level overrides session-level)."""
        return media.connection or self.connection


class _Section:
    """Mutable collector used while parsing one session or media section."""

    def __init__(self, m: tuple[str, int, str, tuple[str, ...]] | None = None) -> None:
        self.m = m
        self.connection: SdpConnection | None = None
        self.attributes: list[Attribute] = []
        self.other: list[tuple[str, str]] = []

    def to_media(self) -> SdpMedia:
        assert self.m is not None
        media, port, proto, formats = self.m
        return SdpMedia(media=media, port=port, proto=proto, formats=formats, connection=self.connection,
                        attributes=tuple(self.attributes), other=_in_order(self.other, _MEDIA_ORDER))  # fmt: skip


def _in_order(lines: list[tuple[str, str]], order: str) -> tuple[tuple[str, str], ...]:
    """Lines in RFC 4566's order (stable), as they will be written, so parse -> bytes -> parse is stable."""
    return tuple(sorted(lines, key=lambda line: order.index(line[0])))


def _parse_m(value: str) -> tuple[str, int, str, tuple[str, ...]]:
    parts = value.split()
    if len(parts) < 3:
        raise SdpParseError(f"SDP m= line needs at least 3 fields, got {len(parts)}")
    port = parts[1].split("/")[0]
    if not port.isdigit() or int(port) > 65535:
        raise SdpParseError(f"SDP m= port is not a number 0-65535: {parts[1]!r}")
    return parts[0], int(port), parts[2], tuple(parts[3:])
