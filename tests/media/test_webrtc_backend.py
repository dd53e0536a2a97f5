"""The WebRTC media backend against a real WebRTC peer (aiortc's own RTCPeerConnection playing the browser):
ICE on loopback host candidates, DTLS-SRTP, Opus; the leg's SDP through its negotiator, audio both ways
through the in-process endpoint inside."""

from __future__ import annotations

import asyncio
import fractions
import random

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from duplex.media.offer_answer import is_webrtc_offer
from duplex.media.sdp import SdpNegotiationError, SessionDescription
from duplex.media.tones import tone
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.webrtc import WebRtcBackend, WebRtcSession


class ToneTrack(MediaStreamTrack):
    """A 48 kHz microphone that says 440 Hz (what a browser's fake device sends is a beep too)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.pts = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        else:
            self.pts += 960
            await asyncio.sleep(max(0.0, self.start + self.pts / 48000 - loop.time()))
        t = (np.arange(960) + self.pts) / 48000
        pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


async def connect_browser(session: WebRtcSession) -> tuple[RTCPeerConnection, asyncio.Queue[np.ndarray]]:
    """The browser's side of the offer/answer, as JsSIP does it: our offer in, its answer back."""
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    heard: asyncio.Queue[np.ndarray] = asyncio.Queue()

    async def listen(track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            await heard.put(frame.to_ndarray().reshape(-1))

    browser.on("track", lambda track: asyncio.ensure_future(listen(track)))
    negotiator = session.negotiator(random.getrandbits(31))
    offer = negotiator.create_offer()
    assert is_webrtc_offer(offer)
    assert "a=fingerprint:sha-256" in str(offer) and "a=candidate:" in str(offer)
    browser.addTrack(ToneTrack())
    await browser.setRemoteDescription(RTCSessionDescription(sdp=str(offer), type="offer"))
    await browser.setLocalDescription(await browser.createAnswer())
    negotiated = negotiator.process_answer(SessionDescription.parse(browser.localDescription.sdp))
    session.apply(negotiated)
    return browser, heard


async def loudest(heard: asyncio.Queue[np.ndarray], seconds: float) -> int:
    """The peak level the browser heard in ``seconds``."""
    peak = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        try:
            frame = await asyncio.wait_for(heard.get(), end - loop.time())
        except TimeoutError:
            break
        peak = max(peak, int(np.abs(frame.astype(np.int32)).max(initial=0)))
    return peak


async def test_browser_hears_what_the_leg_plays_and_the_leg_hears_the_browser() -> None:
    backend = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
    session = await backend.open_session()
    browser, heard = await connect_browser(session)
    try:
        for _ in range(100):
            if session.pc.connectionState == "connected" and session.remote_track_frames > 0:
                break
            await asyncio.sleep(0.1)
        assert session.pc.connectionState == "connected"
        assert "127.0.0.1" in (session.pc.getTransceivers()[0].sender.transport.transport.iceGatherer
                               .getLocalCandidates()[0].ip)  # fmt: skip
        assert await loudest(heard, 0.5) < 50  # nothing played yet: silence
        playing = asyncio.ensure_future(session.play([tone([1000], 20) for _ in range(50)]))
        assert await loudest(heard, 1.0) > 1000  # the leg's audio crossed ICE/DTLS-SRTP/Opus
        await playing
        before = session.stats().packets_received
        await asyncio.sleep(0.5)
        assert session.stats().packets_received - before >= 15  # the browser's 20 ms frames, as G.711 RTP
        assert session.hop.packets_out > 0 and session.remote_track_frames > 0
    finally:
        await browser.close()
        await backend.close()


async def test_echo_returns_the_browsers_own_voice() -> None:
    backend = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
    session = await backend.open_session()
    browser, heard = await connect_browser(session)
    try:
        session.echo(True)
        assert await loudest(heard, 3.0) > 1000
    finally:
        await browser.close()
        await backend.close()


async def test_a_call_the_browser_places_answers_its_offer_and_audio_flows_both_ways() -> None:
    backend = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    heard: asyncio.Queue[np.ndarray] = asyncio.Queue()

    async def listen(track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            await heard.put(frame.to_ndarray().reshape(-1))

    browser.on("track", lambda track: asyncio.ensure_future(listen(track)))
    browser.addTrack(ToneTrack())
    await browser.setLocalDescription(await browser.createOffer())  # JsSIP's ua.call: the browser offers
    offer = SessionDescription.parse(browser.localDescription.sdp)
    assert is_webrtc_offer(offer)
    session = await backend.open_answering_session(browser.localDescription.sdp)
    try:
        answer, negotiated = session.negotiator(random.getrandbits(31)).create_answer(offer)
        assert "a=fingerprint:sha-256" in str(answer) and "a=candidate:" in str(answer)
        assert "a=setup:actpass" not in str(answer)  # the answerer picks a DTLS role (RFC 5763)
        assert [m.media for m in answer.media] == ["audio"]  # the browser's transceiver, not a second one
        assert negotiated.remote_address == "127.0.0.1" and negotiated.codec == "PCMU"  # the hop
        session.apply(negotiated)
        await browser.setRemoteDescription(RTCSessionDescription(sdp=str(answer), type="answer"))
        for _ in range(100):
            if session.pc.connectionState == "connected" and session.remote_track_frames > 0:
                break
            await asyncio.sleep(0.1)
        assert session.pc.connectionState == "connected"
        playing = asyncio.ensure_future(session.play([tone([1000], 20) for _ in range(50)]))
        assert await loudest(heard, 1.0) > 1000  # the leg's audio reached the browser
        await playing
        before = session.stats().packets_received
        await asyncio.sleep(0.5)
        assert session.stats().packets_received - before >= 15  # and the browser's reached the leg
    finally:
        await browser.close()
        await backend.close()


async def test_a_browser_offer_without_audio_is_not_acceptable() -> None:
    backend = WebRtcBackend(LocalMediaBackend("127.0.0.1"), media_address="127.0.0.1")
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    browser.createDataChannel("chat")  # an offer with an application section only
    await browser.setLocalDescription(await browser.createOffer())
    try:
        with pytest.raises(SdpNegotiationError):
            await backend.open_answering_session(browser.localDescription.sdp)
        assert not backend.sessions
    finally:
        await browser.close()
        await backend.close()
