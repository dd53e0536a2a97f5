"""SDP offer/answer for one audio leg (RFC 3264), with G.711 and telephone-events (RFC 4733).

``SdpNegotiator`` keeps the o= line of one side: ``create_offer`` (the session version is incremented on
every re-offer, RFC 3264 §8), ``create_answer(offer)`` and ``process_answer(answer)``; both of the latter
return a ``NegotiatedMedia`` that configures an ``RtpStream``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace

from duplex.media.sdp import (
    SdpConnection,
    SdpMedia,
    SdpNegotiationError,
    SdpOrigin,
    SdpParseError,
    SessionDescription,
)

__all__ = ["NegotiatedMedia", "SdpNegotiator", "active_audio", "answer_direction", "is_webrtc_offer"]

STATIC_PT = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
SUPPORTED = ("PCMU", "PCMA")
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


def answer_direction(offered: str, local: str = "sendrecv") -> str:
    """RFC 3264 §6.1: mirror the offered direction, intersected with what we want locally."""
    mirrored = _ANSWER_DIRECTION[offered]
    send = mirrored in ("sendrecv", "sendonly") and local in ("sendrecv", "sendonly")
    recv = mirrored in ("sendrecv", "recvonly") and local in ("sendrecv", "recvonly")
    return {(True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}.get(
        (send, recv), "inactive"
    )


def is_webrtc_offer(desc: SessionDescription) -> bool:
    """An offer a browser made: its audio is DTLS-SRTP with ICE (UDP/TLS/RTP/SAVPF, RFC 5764 and 8829)."""
    return any(m.media == "audio" and m.port != 0 and "SAVPF" in m.proto.upper() for m in desc.media)


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiatedMedia:
    """What both sides agreed for the audio stream, seen from our side."""

    remote_address: str
    remote_port: int
    codec: str  # "PCMU" / "PCMA"
    payload_type: int
    telephone_event_pt: int | None
    direction: str  # our direction: sendrecv / sendonly / recvonly / inactive
    ptime: int = 20

    @property
    def send_enabled(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and self.remote_address != "0.0.0.0"

    @property
    def receive_enabled(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def _codecs_of(media: SdpMedia) -> list[tuple[int, str]]:
    """``[(pt, ENCODING)]`` in m= line order; static types need no rtpmap (RFC 3551 §6)."""
    rtpmap = media.rtpmap
    out = []
    for fmt in media.formats:
        if not fmt.isdigit():
            continue
        pt = int(fmt)
        if pt in rtpmap:
            name, rate, _ = rtpmap[pt]
            out.append((pt, f"{name.upper()}/{rate}"))
        elif pt in STATIC_PT:
            name, rate = STATIC_PT[pt]
            out.append((pt, f"{name}/{rate}"))
    return out


def active_audio(desc: SessionDescription) -> tuple[int, SdpMedia]:
    """The first audio stream not refused (port 0), and its index; `SdpNegotiationError` when there is none."""
    for i, m in enumerate(desc.media):
        if m.media == "audio" and m.port != 0:
            return i, m
    raise SdpNegotiationError("SDP has no active audio stream")


def _check_address(conn: SdpConnection) -> None:
    # Our media sockets are IPv4: RFC 3264 §6 lets the answerer refuse an offer it cannot use, and RFC 3261
    # §21.4.26 names 488 for it (sending RTP to an IPv6 or garbage address would fail on every packet).
    if conn.net_type != "IN" or conn.addr_type != "IP4":
        raise SdpNegotiationError(f"unsupported connection {conn.net_type} {conn.addr_type}")
    try:
        ipaddress.IPv4Address(conn.address)
    except ValueError:
        raise SdpNegotiationError(f"bad IPv4 connection address {conn.address[:64]!r}") from None


def _remote(desc: SessionDescription, media: SdpMedia) -> tuple[str, int, str]:
    conn = desc.media_connection(media)
    if conn is None:
        raise SdpParseError("SDP audio stream has no c= line")
    _check_address(conn)
    direction = media.direction
    if conn.is_hold and direction == "sendrecv":
        direction = "sendonly"  # RFC 3264 §8.4 legacy hold: the peer does not want to receive
    return conn.address, media.port, direction


class SdpNegotiator:
    """Offer/answer state of one side of one call leg."""

    def __init__(
        self,
        *,
        address: str,
        port: int,
        session_id: int,
        codecs: Sequence[str] = SUPPORTED,
        telephone_event_pt: int = 101,
        ptime: int = 20,
        username: str = "duplex",
    ) -> None:
        unknown = [c for c in codecs if c.upper() not in SUPPORTED]
        if unknown:
            raise ValueError(f"unsupported codecs: {unknown}")
        self.address = address
        self.port = port
        self.codecs = tuple(c.upper() for c in codecs)
        self.telephone_event_pt = telephone_event_pt
        self.ptime = ptime
        self._origin = SdpOrigin(username=username, session_id=session_id, session_version=session_id,
                                 address=address)  # fmt: skip
        self._sent_once = False

    def _next_origin(self) -> SdpOrigin:
        if self._sent_once:  # RFC 3264 §8: "the version number MUST be incremented by one"
            self._origin = replace(self._origin, session_version=self._origin.session_version + 1)
        self._sent_once = True
        return self._origin

    def _description(self, media: SdpMedia, extra: Sequence[SdpMedia] = ()) -> SessionDescription:
        return SessionDescription(
            origin=self._next_origin(),
            session_name="duplex",
            connection=SdpConnection(address=self.address),
            media=(media, *extra),
        )

    def _audio_media(self, formats: Sequence[tuple[int, str]], te_pt: int | None, direction: str) -> SdpMedia:
        attrs: list[tuple[str, str | None]] = [("rtpmap", f"{pt} {name}/8000") for pt, name in formats]
        fmts = [str(pt) for pt, _ in formats]
        if te_pt is not None:
            fmts.append(str(te_pt))
            attrs += [("rtpmap", f"{te_pt} telephone-event/8000"), ("fmtp", f"{te_pt} 0-16")]
        attrs += [("ptime", str(self.ptime)), (direction, None)]
        return SdpMedia(port=self.port, formats=tuple(fmts), attributes=tuple(attrs))

    def create_offer(self, direction: str = "sendrecv") -> SessionDescription:
        """Offer our codecs in preference order plus telephone-event (fmtp 0-16).

        Hold is ``create_offer("sendonly")`` (RFC 3264 §8.4); resume is ``create_offer("sendrecv")``.
        """
        pts = {"PCMU": 0, "PCMA": 8}
        formats = [(pts[c], c) for c in self.codecs]
        return self._description(self._audio_media(formats, self.telephone_event_pt, direction))

    def create_answer(
        self, offer: SessionDescription, direction: str = "sendrecv"
    ) -> tuple[SessionDescription, NegotiatedMedia]:
        """Answer an offer: first common codec in the offerer's order, telephone-event PT mirrored.

        Raises:
            SdpNegotiationError: no audio stream or no common codec (send 488).
            SdpParseError: the offer lacks a connection address.
        """
        index, media = active_audio(offer)
        address, port, offered_dir = _remote(offer, media)
        offered = _codecs_of(media)
        chosen = next(((pt, enc) for pt, enc in offered if enc.split("/")[0] in self.codecs and
                       enc.endswith("/8000")), None)  # fmt: skip
        if chosen is None:
            names = ", ".join(enc for _, enc in offered) or "none"
            raise SdpNegotiationError(f"no common audio codec (offered: {names})")
        te_pt = next((pt for pt, enc in offered if enc == "TELEPHONE-EVENT/8000"), None)
        our_dir = answer_direction(offered_dir, direction)
        pt, enc = chosen
        audio = self._audio_media([(pt, enc.split("/")[0])], te_pt, our_dir)
        # RFC 3264 §6: one m= line per offered stream, rejected ones with port 0.
        others = [
            replace(m, port=0, attributes=(), connection=None)
            for i, m in enumerate(offer.media)
            if i != index
        ]
        answer = self._description(audio)
        answer = replace(answer, media=tuple([*others[:index], audio, *others[index:]]))
        negotiated = NegotiatedMedia(
            remote_address=address,
            remote_port=port,
            codec=enc.split("/")[0],
            payload_type=pt,
            telephone_event_pt=te_pt,
            direction=our_dir,
            ptime=media.ptime or self.ptime,
        )
        return answer, negotiated

    def process_answer(self, answer: SessionDescription) -> NegotiatedMedia:
        """Apply the answer to our last offer.

        Raises:
            SdpNegotiationError: the answer rejected audio or chose a codec we did not offer.
        """
        _, media = active_audio(answer)
        address, port, their_dir = _remote(answer, media)
        codecs = _codecs_of(media)
        chosen = next(((pt, e) for pt, e in codecs if e.split("/")[0] in self.codecs), None)
        if chosen is None:
            raise SdpNegotiationError("answer has no codec from our offer")
        te_pt = next((pt for pt, enc in codecs if enc == "TELEPHONE-EVENT/8000"), None)
        return NegotiatedMedia(
            remote_address=address,
            remote_port=port,
            codec=chosen[1].split("/")[0],
            payload_type=chosen[0],
            telephone_event_pt=te_pt,
            direction=_ANSWER_DIRECTION[their_dir],
            ptime=media.ptime or self.ptime,
        )
