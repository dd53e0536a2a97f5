"""Browser legs next to rtpengine legs (media_backend=rtpengine), with the real rtpengine-daemon and aiortc's
own peer connection playing the browser (its ICE, DTLS-SRTP and SRTP are a real WebRTC peer's):

* the browser's WebRTC terminated by rtpengine itself (`RtpengineWebRtcBackend`): the browser's ICE pair
  ends on one of rtpengine's ports and no Python endpoint is in the media path, when Duplex offers (a call
  to a browser agent) and when the browser offers (a call placed from the browser);
* the in-process WebRTC backend (aiortc, the setting that keeps it) bridged to an rtpengine leg through its
  inner endpoint.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from duplex.media.codecs.g711 import PCMU
from duplex.media.offer_answer import NegotiatedMedia, is_webrtc_offer
from duplex.media.sdp import SdpNegotiationError, SessionDescription
from duplex.media.session import MediaSession
from duplex.media.tones import tone
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_backend import RtpengineBackend, RtpengineSession
from duplex.services.media.rtpengine_webrtc import RtpengineWebRtcBackend, RtpengineWebRtcSession
from duplex.services.media.webrtc import WebRtcBackend
from interop.rtpengine_daemon import Rtpengine
from media.test_webrtc_backend import ToneTrack, connect_browser, loudest

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


def _phone() -> socket.socket:
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.setblocking(False)
    return phone


def _at(phone: socket.socket) -> NegotiatedMedia:
    return NegotiatedMedia(remote_address="127.0.0.1", remote_port=phone.getsockname()[1], codec="PCMU",
                           payload_type=0, telephone_event_pt=101, direction="sendrecv")  # fmt: skip


async def _talk(
    phone: socket.socket, to: tuple[str, int], heard: asyncio.Queue[np.ndarray]
) -> tuple[int, list[int]]:
    """The phone speaks (a 1 kHz tone as PCMU RTP) for 3 s: the loudest the browser heard in its last second,
    and the peak of every PCMU packet the phone received meanwhile."""
    payload = PCMU.encode(tone([1000], 20, amplitude=8000))
    loop = asyncio.get_running_loop()
    received: list[bytes] = []
    listening: asyncio.Task[int] | None = None
    for seq in range(150):
        phone.sendto(struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + payload, to)
        while True:
            try:
                received.append(phone.recv(2048))
            except BlockingIOError:
                break
        await asyncio.sleep(0.02)
        if seq == 100:
            while not heard.empty():
                heard.get_nowait()  # what the browser heard before: silence while ICE and DTLS came up
            listening = loop.create_task(loudest(heard, 1.0))
    assert listening is not None
    peaks = [int(np.abs(PCMU.decode(p[12:]).astype(np.int32)).max(initial=0)) for p in received
             if len(p) > 12 and p[1] & 0x7F == 0]  # fmt: skip
    return await listening, peaks


def _remote_candidate_port(browser: RTCPeerConnection) -> int:
    """The port of the candidate the browser's ICE connected to (the server's side of the media path)."""
    ice = browser.getTransceivers()[0].sender.transport.transport
    pair = ice._connection._nominated.get(1)  # aioice's nominated pair of component 1 (RTP, muxed RTCP)
    assert pair is not None, "ICE did not connect"
    return int(pair.remote_candidate.port)


async def _browser_offer() -> tuple[RTCPeerConnection, asyncio.Queue[np.ndarray], str]:
    """A browser placing a call: its offer (Opus first, as browsers do, with G.711 behind)."""
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    heard: asyncio.Queue[np.ndarray] = asyncio.Queue()

    async def listen(track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            await heard.put(frame.to_ndarray().reshape(-1))

    browser.on("track", lambda track: asyncio.ensure_future(listen(track)))
    browser.addTrack(ToneTrack())
    await browser.setLocalDescription(await browser.createOffer())
    return browser, heard, browser.localDescription.sdp


def _in_range(port: int, rtpengine: Rtpengine) -> bool:
    return rtpengine.port_min <= port <= rtpengine.port_max


async def _bridge(caller: MediaSession, agent: MediaSession) -> None:
    caller.bridge(agent)
    for leg in (caller, agent):
        assert isinstance(leg, RtpengineSession)
        await leg.settled()
        assert not leg.errors, leg.errors


async def test_rtpengine_answers_the_browser_when_duplex_offers(rtpengine: Rtpengine) -> None:
    backend = RtpengineBackend(rtpengine.ng, media_address="127.0.0.1")
    webrtc = RtpengineWebRtcBackend(rtpengine.ng, media_address="127.0.0.1", stats_interval=0.5)
    phone = _phone()
    caller = await backend.open_session()
    agent = await webrtc.open_session()
    assert isinstance(agent, RtpengineWebRtcSession)
    browser, heard = await connect_browser(agent)  # type: ignore[arg-type]  # the negotiator and apply
    try:
        assert isinstance(caller, RtpengineSession)
        caller.apply(_at(phone))
        await _bridge(caller, agent)
        level, peaks = await _talk(phone, caller.local_address, heard)
        assert level > 1000, level  # the phone's tone reached the browser: rtpengine -> DTLS-SRTP -> browser
        assert len(peaks) > 20 and max(peaks) > 1000, (len(peaks), max(peaks, default=0))  # and the browser's
        port = _remote_candidate_port(browser)
        assert _in_range(port, rtpengine) and port == agent.local_address[1], (
            port
        )  # rtpengine's ICE, no aiortc
        polled = agent.stats().packets_received  # the last of the leg's own queries (every 0.5 s)
        assert polled > 25, agent.last_query  # live counters: the RTP timeout sees the browser's packets
        reply = await agent.refresh_stats()
        assert agent.stats().packets_received > 50, reply  # rtpengine decrypted the browser's SRTP itself
    finally:
        await browser.close()
        await webrtc.close()
        await backend.close()
        phone.close()


async def test_rtpengine_answers_the_browsers_offer(rtpengine: Rtpengine) -> None:
    backend = RtpengineBackend(rtpengine.ng, media_address="127.0.0.1")
    webrtc = RtpengineWebRtcBackend(rtpengine.ng, media_address="127.0.0.1")
    phone = _phone()
    browser, heard, offer = await _browser_offer()
    try:
        agent = await webrtc.open_answering_session(offer)
        assert isinstance(agent, RtpengineWebRtcSession)
        negotiator = agent.negotiator(random.getrandbits(31))
        answer, negotiated = negotiator.create_answer(SessionDescription.parse(offer))
        assert is_webrtc_offer(answer) and "a=candidate:" in str(answer) and "a=setup:passive" in str(answer)
        assert negotiated.codec in ("PCMU", "PCMA"), negotiated  # G.711 inside: rtpengine does not transcode
        agent.apply(negotiated)
        await browser.setRemoteDescription(RTCSessionDescription(sdp=str(answer), type="answer"))
        caller = await backend.open_session()
        assert isinstance(caller, RtpengineSession)
        caller.apply(_at(phone))
        await _bridge(caller, agent)
        level, peaks = await _talk(phone, caller.local_address, heard)
        assert level > 1000, level
        assert len(peaks) > 20 and max(peaks) > 1000, (len(peaks), max(peaks, default=0))
        port = _remote_candidate_port(browser)
        assert _in_range(port, rtpengine) and port == agent.local_address[1], port
        # a re-offer from the browser (hold) is answered with rtpengine's SDP, the direction mirrored
        held, media = negotiator.create_answer(
            SessionDescription.parse(offer.replace("a=sendrecv", "a=sendonly"))
        )
        assert media.direction == "recvonly" and "a=recvonly" in str(held) and "a=candidate:" in str(held)
    finally:
        await browser.close()
        await webrtc.close()
        await backend.close()
        phone.close()


async def test_an_offer_without_g711_is_refused_with_488(rtpengine: Rtpengine) -> None:
    webrtc = RtpengineWebRtcBackend(rtpengine.ng, media_address="127.0.0.1")
    browser, _, offer = await _browser_offer()
    opus_only = "\r\n".join(line for line in offer.split("\r\n") if "PCM" not in line)
    opus_only = opus_only.replace(" 0 8", "").replace(" 8 0", "")
    try:
        with pytest.raises(SdpNegotiationError) as refused:
            await webrtc.open_answering_session(opus_only)
        assert refused.value.status_code == 488
        assert not webrtc.sessions
    finally:
        await browser.close()
        await webrtc.close()


async def test_aiortc_browser_legs_bridge_to_rtpengine_legs(rtpengine: Rtpengine) -> None:
    local = LocalMediaBackend("127.0.0.1")
    backend = RtpengineBackend(rtpengine.ng, media_address="127.0.0.1", fallback=local)
    webrtc = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
    phone = _phone()
    caller = await backend.open_session()
    agent = await webrtc.open_session()
    browser, heard = await connect_browser(agent)
    try:
        caller.apply(_at(phone))
        caller.bridge(agent)  # what the B2BUA does when the agent answers
        level, peaks = await _talk(phone, caller.local_address, heard)
        assert level > 1000  # the caller's tone reached the browser through rtpengine and aiortc
        assert len(peaks) > 20 and max(peaks) > 1000, (len(peaks), max(peaks, default=0))  # the browser's
        assert not _in_range(_remote_candidate_port(browser), rtpengine)  # aiortc's ICE
    finally:
        await browser.close()
        await webrtc.close()
        await backend.close()
        await local.close()
        phone.close()
