"""Browser legs in rtpengine (``media_backend = "rtpengine"``): rtpengine speaks WebRTC to the browser (ICE,
DTLS-SRTP, RTCP multiplexed, its own candidates and certificate) and plain RTP on the inside, so a browser
bridged to a phone or a carrier is relayed with no Python in the media path.

A ``RtpengineWebRtcSession`` is an ``RtpengineSession`` (see `rtpengine_backend`): one rtpengine call whose
``ext`` monologue is the browser and whose ``int`` monologue bridges to other legs' insides. What differs is
the SDP: the browser must get rtpengine's own (candidates, ICE credentials, fingerprint), so the session is a
``NegotiatingSession`` whose negotiator hands it out, and rtpengine gets the browser's SDP verbatim:

* Duplex offers (a call to a browser agent): ``open_session`` sends an ng ``offer`` from ``int`` (pointing
  nowhere) with the WebRTC flags; its reply is the offer the browser gets. The browser's answer goes to
  rtpengine as the ``answer`` from ``ext``, whose reply gives the inside port.
* The browser offers (a call placed from the browser): ``open_answering_session(offer)`` sends the browser's
  offer from ``ext`` with the plain-RTP flags for the inside (ICE removed, RTP/AVP, RTCP demultiplexed, the
  codecs stripped to G.711 and telephone-event); its reply gives the inside port. The ``answer`` from ``int``
  (pointing nowhere) with the WebRTC flags gives the answer the browser gets.

Every later ng command on the leg (bridging, unbridging, attaching the fallback endpoint for IVR audio) sends
the WebRTC flags again, so rtpengine keeps the browser side as it is (same ports, ICE credentials and DTLS
role: rtpengine is always DTLS-passive, the browser the client).

The browser gets G.711 (PCMU, PCMA) and telephone-event: rtpengine forwards the packets unchanged between
the browser and the other leg, so the two sides must share a codec (a call to the browser offers the other
leg's codec first). A re-offer from the browser (hold, resume) is answered with rtpengine's SDP and the
direction mirrored, as the in-process WebRTC backend does; holding sends rtpengine ``block media``.

When rtpengine does not answer and the backend has a ``webrtc_fallback`` (the in-process WebRTC backend), the
leg gets its media there instead (logged).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from duplex.media import rtpengine_ng as ng
from duplex.media.offer_answer import NegotiatedMedia, SdpNegotiator, active_audio, answer_direction
from duplex.media.rtpengine_ng import NgCommandError, NgTimeout
from duplex.media.rtpengine_sdp import ALL_FORMATS, EXT, INT, audio_port, monologue_sdp
from duplex.media.sdp import SdpNegotiationError, SdpParseError, SessionDescription
from duplex.media.session import AnsweringBackend, MediaBackend, MediaSession
from duplex.services.media.rtpengine_backend import RtpengineBackend, RtpengineSession
from duplex.services.media.rtpengine_client import RtpengineClient

__all__ = ["RtpengineWebRtcBackend", "RtpengineWebRtcNegotiator", "RtpengineWebRtcSession"]

log = logging.getLogger("duplex.media.rtpengine")
Addr = tuple[str, int]

# the side rtpengine writes for the browser: ICE with its own host candidates, DTLS-SRTP where rtpengine
# waits for the browser's handshake (a browser answers an actpass offer as the DTLS client), RTCP muxed
TO_BROWSER: dict[str, Any] = {
    "transport-protocol": "UDP/TLS/RTP/SAVPF",
    "ICE": "force",
    "DTLS": "passive",
    "SDES": ["off"],
    "rtcp-mux": ["offer", "require"],
}
# the side rtpengine writes for the inside (the other legs, the fallback endpoint): plain RTP and RTCP
TO_INSIDE: dict[str, Any] = {
    "transport-protocol": "RTP/AVP",
    "ICE": "remove",
    "DTLS": "off",
    "SDES": ["off"],
    "rtcp-mux": ["demux"],
}
G711 = ("PCMU", "PCMA")
# what the inside carries when the browser offers: rtpengine relays, it does not transcode
INSIDE_CODECS: dict[str, Any] = {"strip": ["all"], "except": [*G711, "telephone-event"]}


async def _sdp_of(client: RtpengineClient, body: dict[str, Any], options: dict[str, Any]) -> str:
    """Send an ``offer`` or ``answer`` with ``options`` (the flags of the side the reply is for); its SDP."""
    return str((await client.request({**body, **options}))["sdp"])


def _g711_of(desc: SessionDescription) -> tuple[int, str, int | None]:
    """(payload type, codec, telephone-event payload type) of the first G.711 format of the audio stream.

    Raises:
        SdpNegotiationError: no audio, or no PCMU/PCMA in it.
    """
    media = active_audio(desc)[1]
    rtpmap = media.rtpmap
    static = {0: "PCMU", 8: "PCMA"}
    te_pt = next((pt for pt, (name, rate, _) in rtpmap.items()
                  if name.lower() == "telephone-event" and rate == 8000), None)  # fmt: skip
    for fmt in media.formats:
        if not fmt.isdigit():
            continue
        pt = int(fmt)
        name = rtpmap[pt][0].upper() if pt in rtpmap else static.get(pt, "")
        if name in G711:
            return pt, name, te_pt
    raise SdpNegotiationError("the browser's audio has no G.711 (PCMU or PCMA)")


def _only(desc: SessionDescription, codecs: tuple[str, ...]) -> SessionDescription:
    """``desc`` with its audio formats cut down to ``codecs`` (in their order) and telephone-event."""
    index, _ = active_audio(desc)
    media = desc.media[index]
    rtpmap = media.rtpmap
    names = {0: "PCMU", 8: "PCMA"} | {pt: name.upper() for pt, (name, _, _) in rtpmap.items()}
    kept = [c for c in codecs if c in G711]
    by_codec = sorted((f for f in media.formats if f.isdigit() and names.get(int(f)) in kept),
                      key=lambda f: kept.index(names[int(f)]))  # fmt: skip
    if not by_codec:
        return desc
    events = [f for f in media.formats if f.isdigit() and names.get(int(f)) == "TELEPHONE-EVENT"]
    formats = (*by_codec, *events)

    def keep(name: str, value: str | None) -> bool:
        if name not in ("rtpmap", "fmtp") or value is None:
            return True
        return value.partition(" ")[0] in formats

    media = replace(media, formats=formats, attributes=tuple(a for a in media.attributes if keep(*a)))
    return replace(desc, media=(*desc.media[:index], media, *desc.media[index + 1 :]))


class RtpengineWebRtcSession(RtpengineSession):
    """One browser leg in rtpengine (see the module docstring)."""

    def __init__(self, backend: RtpengineBackend, call_id: str, local_address: Addr, browser_sdp: str, *,
                 answering: bool = False) -> None:  # fmt: skip
        super().__init__(backend, call_id, local_address)
        self.browser_sdp = browser_sdp  # rtpengine's SDP for the browser (its offer, or its answer)
        self.answering = answering  # True when the browser offered (rtpengine's answer is ``browser_sdp``)
        self.browser_answer: str | None = None  # the browser's answer to rtpengine's offer, once given
        self._answer_sent = False

    def __repr__(self) -> str:
        return f"<RtpengineWebRtcSession {self.call_id} ext={self.local_address} int={self.inside}>"

    def negotiator(self, session_id: int) -> RtpengineWebRtcNegotiator:
        return RtpengineWebRtcNegotiator(self, session_id=session_id)

    def negotiated_media(self, desc: SessionDescription, direction: str) -> NegotiatedMedia:
        """What call control is told: the G.711 codec of ``desc`` (the browser's answer, or rtpengine's) at
        rtpengine's browser-facing port (the browser's own address is ICE's business)."""
        pt, codec, te_pt = _g711_of(desc)
        host, port = self.local_address
        return NegotiatedMedia(remote_address=host, remote_port=port, codec=codec, payload_type=pt,
                               telephone_event_pt=te_pt, direction=direction)  # fmt: skip

    # -- rtpengine ---------------------------------------------------------------------------------------
    def apply(self, negotiated: NegotiatedMedia) -> None:
        """Record what was negotiated; the first time the browser answered our offer, hand its SDP to
        rtpengine (the ``answer`` from ``ext``, whose reply says the inside port)."""
        self.negotiated = negotiated
        if self.browser_answer is not None and not self._answer_sent:
            self._answer_sent = True
            self._enqueue(self._answer)
        if self._poller is None and self.backend.stats_interval > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll_stats())

    async def _answer(self) -> None:
        assert self.browser_answer is not None
        body = ng.answer(self.call_id, INT, EXT, self.browser_answer, flags=self.backend.flags)
        sdp = await _sdp_of(self.client, body, TO_INSIDE)
        self.inside = (self.backend.inside_address, audio_port(sdp))
        if self.audio is not None:
            self.audio.apply(self._inside_media())

    async def _point(self, target: Addr | None) -> None:
        """Point the inside at ``target`` (None: nowhere), keeping the browser side: a re-``offer`` from
        ``int`` when Duplex offered the browser, a re-``answer`` from it when the browser offered."""
        host, port = target if target is not None else ("0.0.0.0", 9)
        sdp = monologue_sdp(host, port, self._inside_formats(), "sendrecv")
        if self.answering:
            body = ng.answer(self.call_id, EXT, INT, sdp, flags=self.backend.flags)
        else:
            body = ng.offer(self.call_id, INT, sdp, to_tag=EXT, flags=self.backend.flags)
        await _sdp_of(self.client, body, TO_BROWSER)

    def _inside_formats(self) -> list[tuple[int, str]]:
        if self.negotiated is None:
            return list(ALL_FORMATS)
        n = self.negotiated
        formats = [(n.payload_type, f"{n.codec}/8000")]
        if n.telephone_event_pt is not None:
            formats.append((n.telephone_event_pt, "telephone-event/8000"))
        return formats


class RtpengineWebRtcNegotiator(SdpNegotiator):
    """The SDP of a browser leg in rtpengine: rtpengine's offer or answer out, the browser's answer in."""

    def __init__(self, session: RtpengineWebRtcSession, *, session_id: int) -> None:
        host, port = session.local_address
        super().__init__(address=host, port=port, session_id=session_id)
        self.session = session
        self._answered = False

    def _ours(self, direction: str, *, answer: bool = False) -> SessionDescription:
        desc = SessionDescription.parse(self.session.browser_sdp)
        if not answer:
            desc = _only(desc, self.codecs)
        index, _ = active_audio(desc)
        media = desc.media[index].with_direction(direction)
        if answer:  # the DTLS roles are settled: rtpengine is the server
            media = replace(media, attributes=tuple(("setup", "passive") if name == "setup" else (name, value)
                                                    for name, value in media.attributes))  # fmt: skip
        return replace(
            desc, origin=self._next_origin(), media=(*desc.media[:index], media, *desc.media[index + 1 :])
        )

    def create_offer(self, direction: str = "sendrecv") -> SessionDescription:
        """rtpengine's offer with ``direction``, its codecs cut to ``codecs`` (the other leg's, so rtpengine
        relays without transcoding)."""
        return self._ours(direction)

    def create_answer(self, offer: SessionDescription, direction: str = "sendrecv") -> tuple[SessionDescription, NegotiatedMedia]:  # fmt: skip
        """The browser's first offer was answered by rtpengine when the session opened; a re-offer on the
        established connection (hold, resume) gets the same answer with the direction mirrored."""
        ours = answer_direction(active_audio(offer)[1].direction, direction)
        if not self._answered and not self.session.answering:
            raise SdpNegotiationError("a WebRTC offer on a session opened without it")
        self._answered = True
        desc = self._ours(ours, answer=True)
        return desc, self.session.negotiated_media(desc, ours)

    def process_answer(self, answer: SessionDescription) -> NegotiatedMedia:
        try:
            index, _ = active_audio(answer)
        except SdpNegotiationError:
            raise SdpNegotiationError("the browser rejected audio") from None
        if not self._answered:
            self.session.browser_answer = str(answer)
            self._answered = True
        ours = answer_direction(answer.media[index].direction)
        return self.session.negotiated_media(answer, ours)


class RtpengineWebRtcBackend(RtpengineBackend):
    """Browser legs in rtpengine, controlled over ng at ``ng_address`` (the arguments of `RtpengineBackend`;
    ``webrtc_fallback`` gets a leg when rtpengine does not answer)."""

    def __init__(
        self, ng_address: Addr, *, webrtc_fallback: MediaBackend | None = None, **options: Any
    ) -> None:
        super().__init__(ng_address, **options)
        self.webrtc_fallback = webrtc_fallback

    async def close(self) -> None:
        await super().close()
        if self.webrtc_fallback is not None:
            await self.webrtc_fallback.close()

    def _call_id(self) -> str:
        return f"duplex-webrtc-{self.rng.getrandbits(64):016x}"

    async def _fallback(self, offer: str | None) -> MediaSession:
        fallback = self.webrtc_fallback
        if fallback is None:
            raise NgTimeout(f"rtpengine at {self.client.address[0]}:{self.client.address[1]} does not answer")
        log.warning("rtpengine at %s:%d does not answer: this browser leg's media is in process",
                    *self.client.address)  # fmt: skip
        if offer is not None and isinstance(fallback, AnsweringBackend):
            return await fallback.open_answering_session(offer)
        return await fallback.open_session()

    # without rtpengine the leg is the in-process WebRTC backend's, not an RtpEndpoint
    async def open_session(self) -> RtpengineWebRtcSession | MediaSession:  # type: ignore[override]
        """A leg that offers the browser: rtpengine's WebRTC offer, its inside pointing nowhere yet.

        Raises:
            NgCommandError: rtpengine refused.
            NgTimeout: rtpengine did not answer and there is no ``webrtc_fallback``.
        """
        call_id = self._call_id()
        placeholder = monologue_sdp("0.0.0.0", 9, ALL_FORMATS, "sendrecv")
        try:
            sdp = await _sdp_of(
                self.client, ng.offer(call_id, INT, placeholder, flags=self.flags), TO_BROWSER
            )
        except NgTimeout:
            return await self._fallback(None)
        session = RtpengineWebRtcSession(self, call_id, (self.media_address, audio_port(sdp)), sdp)
        self.sessions.add(session)
        return session

    async def open_answering_session(self, offer: str) -> RtpengineWebRtcSession | MediaSession:
        """A leg the browser called from: rtpengine takes the browser's ``offer`` and answers it.

        Raises:
            SdpNegotiationError: an offer without G.711 audio, or one rtpengine refused (488).
            NgTimeout: rtpengine did not answer and there is no ``webrtc_fallback``.
        """
        try:
            desc = SessionDescription.parse(offer)
        except SdpParseError as exc:
            raise SdpNegotiationError(f"the browser's offer: {exc}") from exc
        pt, codec, te_pt = _g711_of(desc)
        call_id = self._call_id()
        try:
            body = ng.offer(call_id, EXT, offer, flags=self.flags)
            inside = await _sdp_of(
                self.client, body, {**TO_INSIDE, "DTLS-reverse": "passive", "codec": INSIDE_CODECS}
            )
        except NgTimeout:
            return await self._fallback(offer)
        except NgCommandError as exc:
            raise SdpNegotiationError(f"the browser's offer: {exc.reason}") from exc
        formats = [(pt, f"{codec}/8000")] + ([(te_pt, "telephone-event/8000")] if te_pt is not None else [])
        try:
            body = ng.answer(
                call_id, EXT, INT, monologue_sdp("0.0.0.0", 9, formats, "sendrecv"), flags=self.flags
            )
            answer = await _sdp_of(self.client, body, TO_BROWSER)
        except NgCommandError as exc:
            await self.client.delete(call_id)
            raise SdpNegotiationError(f"the browser's offer: {exc.reason}") from exc
        session = RtpengineWebRtcSession(self, call_id, (self.media_address, audio_port(answer)), answer,
                                         answering=True)  # fmt: skip
        session.inside = (self.inside_address, audio_port(inside))
        self.sessions.add(session)
        return session
