"""The pure parts of browser legs in rtpengine: the choice of backend, the SDP the browser gets (rtpengine's,
cut to the other leg's codec, directions mirrored) and the fallback to aiortc when rtpengine is away. The
daemon with a real WebRTC peer is in tests/interop/test_rtpengine_webrtc.py and, with Chromium, in
tests/web/test_softphone_rtpengine.py."""

from __future__ import annotations

import socket

import pytest

from duplex.config import Settings
from duplex.media.rtpengine_ng import NgRetryPolicy, NgTimeout
from duplex.media.sdp import SdpNegotiationError, SessionDescription
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_client import RtpengineClient
from duplex.services.media.rtpengine_webrtc import RtpengineWebRtcBackend, RtpengineWebRtcSession
from duplex.services.media.webrtc import WebRtcBackend, WebRtcSession
from duplex.services.node import webrtc_backend

# what rtpengine 10.5 offers a browser (ng ``offer`` with the WebRTC flags, from a G.711 placeholder)
RTPENGINE_OFFER = (
    "v=0\r\no=duplex 1 1 IN IP4 127.0.0.1\r\ns=duplex\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 33000 UDP/TLS/RTP/SAVPF 0 8 101\r\na=mid:1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendonly\r\na=rtcp:33000\r\na=rtcp-mux\r\n"
    "a=setup:actpass\r\na=fingerprint:sha-256 14:6A:ED:2C:B7:F7:54:00:79:4D:82:C0:9F:C1:FD:93:63:6A:61:C7:D7:D5"
    ":AC:30:7D:64:CC:AE:87:4E:58:8D\r\na=ptime:20\r\na=ice-ufrag:wU7xQ34p\r\n"
    "a=ice-pwd:4b0buD5CqDKRUcUMt3whkrdyhM\r\n"
    "a=candidate:rjojFHDE0MUGilpN 1 UDP 2130706431 127.0.0.1 33000 typ host\r\n"
)
# a browser's answer to it (Chromium keeps the offer's codecs and answers the DTLS client)
BROWSER_ANSWER = (
    "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8 101\r\n"
    "c=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=setup:active\r\na=sendrecv\r\na=rtcp-mux\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n"
)


def _session() -> RtpengineWebRtcSession:
    backend = RtpengineWebRtcBackend(("127.0.0.1", 9), media_address="192.0.2.10")
    return RtpengineWebRtcSession(backend, "duplex-webrtc-1", ("192.0.2.10", 33000), RTPENGINE_OFFER)


def test_settings_choose_where_browser_legs_get_their_media() -> None:
    assert isinstance(webrtc_backend(Settings(sip_host="127.0.0.1")), WebRtcBackend)
    backend = webrtc_backend(Settings(media_backend="rtpengine", media_rtpengine_ng="127.0.0.1:2300",
                                      public_ip="192.0.2.10"))  # fmt: skip
    assert isinstance(backend, RtpengineWebRtcBackend)
    assert backend.client.address == ("127.0.0.1", 2300) and backend.media_address == "192.0.2.10"
    assert isinstance(backend.webrtc_fallback, WebRtcBackend) and backend.fallback is not None
    assert not backend.inject_dtmf and "inject DTMF" not in backend.flags
    assert backend.stats_interval == 15.0  # the RTP timeout reads a browser leg's counters too
    dtmf = webrtc_backend(Settings(media_backend="rtpengine", media_rtpengine_inject_dtmf=True))
    assert isinstance(dtmf, RtpengineWebRtcBackend) and "inject DTMF" in dtmf.flags
    kept = webrtc_backend(Settings(media_backend="rtpengine", media_rtpengine_webrtc=False))
    assert isinstance(kept, WebRtcBackend)


def test_the_offer_is_rtpengines_cut_to_the_other_legs_codec() -> None:
    negotiator = _session().negotiator(7)
    negotiator.codecs = ("PCMA",)  # the caller's codec: rtpengine relays it unchanged
    offer = negotiator.create_offer()
    audio = offer.media[0]
    assert audio.formats == ("8", "101") and audio.direction == "sendrecv"  # not the placeholder's sendonly
    assert audio.proto == "UDP/TLS/RTP/SAVPF" and audio.port == 33000
    assert audio.attribute("rtpmap") == "8 PCMA/8000" and "0 PCMU/8000" not in audio.attribute_values(
        "rtpmap"
    )
    for name in ("fingerprint", "ice-ufrag", "ice-pwd", "candidate", "setup", "rtcp-mux"):
        assert audio.attribute(name) is not None, name  # rtpengine's WebRTC attributes reach the browser
    assert (offer.origin.session_id, offer.origin.session_version) == (7, 7)
    held = negotiator.create_offer("sendonly")
    assert held.media[0].direction == "sendonly" and held.origin.session_version == 8  # RFC 3264 §8


def test_the_browsers_answer_goes_to_rtpengine_and_says_the_codec() -> None:
    session = _session()
    negotiator = session.negotiator(7)
    negotiator.create_offer()
    negotiated = negotiator.process_answer(SessionDescription.parse(BROWSER_ANSWER))
    assert (negotiated.codec, negotiated.payload_type, negotiated.telephone_event_pt) == ("PCMA", 8, 101)
    assert negotiated.direction == "sendrecv" and negotiated.send_enabled
    assert session.browser_answer is not None and "a=setup:active" in session.browser_answer
    # a re-offer from the browser (hold) is answered with rtpengine's SDP, DTLS role kept, direction mirrored
    reoffer = SessionDescription.parse(BROWSER_ANSWER.replace("a=sendrecv", "a=sendonly"))
    answer, held = negotiator.create_answer(reoffer)
    assert held.direction == "recvonly" and answer.media[0].direction == "recvonly"
    assert answer.media[0].attribute("setup") == "passive"
    with pytest.raises(SdpNegotiationError, match="rejected audio"):
        negotiator.process_answer(SessionDescription.parse(BROWSER_ANSWER.replace("m=audio 9", "m=audio 0")))


def test_a_browser_offer_on_a_session_that_offered_is_refused() -> None:
    with pytest.raises(SdpNegotiationError):
        _session().negotiator(7).create_answer(SessionDescription.parse(BROWSER_ANSWER))


async def test_offers_without_g711_are_refused_before_rtpengine_is_asked() -> None:
    backend = RtpengineWebRtcBackend(("127.0.0.1", 9))
    opus = BROWSER_ANSWER.replace("8 101", "111").replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:111 opus/48000/2")
    try:
        with pytest.raises(SdpNegotiationError, match="no G.711") as refused:
            await backend.open_answering_session(opus)
        assert refused.value.status_code == 488
    finally:
        await backend.close()


async def test_browser_legs_fall_back_to_aiortc_when_rtpengine_does_not_answer() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        client = RtpengineClient(silent.getsockname(), policy=NgRetryPolicy(interval=0.02, retries=1))
        in_process = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
        backend = RtpengineWebRtcBackend(silent.getsockname(), client=client, webrtc_fallback=in_process)
        try:
            leg = await backend.open_session()
            assert isinstance(leg, WebRtcSession) and leg in in_process.sessions
            assert not backend.sessions
        finally:
            await backend.close()
        assert not in_process.sessions  # closing the backend closed its fallback's legs
        without = RtpengineWebRtcBackend(silent.getsockname(), client=RtpengineClient(
            silent.getsockname(), policy=NgRetryPolicy(interval=0.02, retries=0)))  # fmt: skip
        try:
            with pytest.raises(NgTimeout):
                await without.open_session()
        finally:
            await without.close()
