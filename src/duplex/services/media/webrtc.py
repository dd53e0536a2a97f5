"""WebRTC media for browser agents, in process, with aiortc: ICE, DTLS-SRTP and Opus or G.711 toward the
browser, plain G.711 RTP toward the rest of the call.

A ``WebRtcSession`` is two halves joined by a loopback hop:

* ``inner``: an ordinary in-process `RtpEndpoint`. Every ``MediaSession`` operation (bridge, play, record,
  DTMF, stats) is its, so call control treats a browser leg like any other leg.
* the browser half: an aiortc ``RTCPeerConnection``. The inner endpoint's RTP goes to a small UDP socket
  (the hop), is decoded and sent to the browser as an audio track; the browser's track is decoded by aiortc,
  resampled to 8 kHz and sent to the inner endpoint as PCMU RTP.

The hop costs a G.711 decode/encode per direction, and buys call control that needs no change: the leg's
SDP comes from the session's ``negotiator`` (`WebRtcNegotiator`), which hands out aiortc's offer and feeds
the browser's answer back to it, and tells the inner endpoint that its peer is the hop.

ICE uses host candidates only (a LAN needs no STUN server), on ``media_address`` (Duplex's ``public_ip``),
so a browser on the same host or LAN reaches them.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aioice.ice
import av
import numpy as np
import numpy.typing as npt
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from duplex.media.codecs import G711Codec
from duplex.media.codecs.g711 import PCMU
from duplex.media.events import MediaEvent
from duplex.media.offer_answer import NegotiatedMedia, SdpNegotiator, answer_direction
from duplex.media.recorder import CallRecorder
from duplex.media.rtp import RtpPacket, is_rtcp
from duplex.media.sdp import SdpNegotiationError, SessionDescription
from duplex.media.session import MediaSession
from duplex.media.stream import RtpStream, StreamStats
from duplex.services.media.local_backend import LocalMediaBackend

__all__ = ["WebRtcBackend", "WebRtcNegotiator", "WebRtcSession"]

log = logging.getLogger("duplex.media.webrtc")
Pcm = npt.NDArray[np.int16]
Addr = tuple[str, int]
RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
_DIRECTION = re.compile(r"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", re.MULTILINE)


class _BrowserBoundTrack(MediaStreamTrack):
    """The audio track sent to the browser: 20 ms frames of what the inner endpoint sends, silence between."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[Pcm] = asyncio.Queue(maxsize=10)  # ~200 ms; older audio is dropped
        self._start: float | None = None
        self._pts = 0

    def push(self, pcm: Pcm) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(pcm)

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += FRAME
            delay = self._start + self._pts / RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        pcm = self.queue.get_nowait() if not self.queue.empty() else np.zeros(FRAME, dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class _Hop(asyncio.DatagramProtocol):
    """The inner endpoint's peer on loopback: its RTP in (for the browser), the browser's audio out."""

    def __init__(self, to_browser: _BrowserBoundTrack) -> None:
        self.to_browser = to_browser
        self.transport: asyncio.DatagramTransport | None = None
        self.inner: Addr | None = None
        self.payload_type = PCMU.payload_type
        self.codec: G711Codec = PCMU
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._ssrc = random.getrandbits(32)
        self.packets_in = 0
        self.packets_out = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        if is_rtcp(data):
            return
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            return
        if packet.payload_type != self.payload_type or not packet.payload:
            return  # telephone-event travels on the SIP side only
        self.packets_in += 1
        self.to_browser.push(self.codec.decode(packet.payload))

    def send(self, pcm: Pcm) -> None:
        if self.transport is None or self.inner is None:
            return
        packet = RtpPacket(payload_type=self.payload_type, sequence_number=self._seq, timestamp=self._ts,
                           ssrc=self._ssrc, payload=self.codec.encode(pcm))  # fmt: skip
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + FRAME) & 0xFFFFFFFF
        self.transport.sendto(bytes(packet), self.inner)
        self.packets_out += 1

    @property
    def address(self) -> Addr:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)


def gather_on(address: str) -> None:
    """Make ICE offer host candidates on ``address`` only. aioice gathers on every interface but loopback,
    and has no option for it; a server is reached on the one address it publishes (``public_ip``), which
    may well be 127.0.0.1, and candidates on other interfaces (container bridges) only slow ICE down."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]


class WebRtcSession:
    """One browser leg: an aiortc peer connection bridged to an in-process RTP endpoint (see the module)."""

    stats_after_close = False

    def __init__(self, inner: MediaSession, pc: RTCPeerConnection, hop: _Hop, track: _BrowserBoundTrack,
                 media_address: str) -> None:  # fmt: skip
        self.inner = inner
        self.pc = pc
        self.hop = hop
        self.track = track
        self.media_address = media_address
        self.listeners: list[Callable[[MediaEvent], None]] = inner.listeners  # the inner endpoint's events
        self.local_sdp = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.remote_track_frames = 0
        self.answering = False  # True when the browser offered (its offer is the remote description)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)

    @classmethod
    async def open(cls, inner: MediaSession, media_address: str, offer: str | None = None) -> WebRtcSession:
        """A session that offers (a call to the browser) or, given the browser's ``offer`` (a call the
        browser placed), answers it; either way ``local_sdp`` is ours, with the host candidates gathered."""
        loop = asyncio.get_running_loop()
        track = _BrowserBoundTrack()
        # the hop talks to the inner endpoint on the address it is bound to (public_ip: on a LAN not loopback)
        host = inner.local_address[0]
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        _, hop = await loop.create_datagram_endpoint(lambda: _Hop(track), local_addr=(host, 0))
        hop.inner = (host, inner.local_address[1])
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self = cls(inner, pc, hop, track, media_address)
        try:
            if offer is None:
                pc.addTrack(track)
                await pc.setLocalDescription(await pc.createOffer())  # gathers the host candidates
            else:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
                # the browser's audio transceiver sends ours (addTrack would open a second m= line)
                audio = next((t for t in pc.getTransceivers() if t.kind == "audio"), None)
                if audio is None:
                    raise ValueError("no audio")
                audio.sender.replaceTrack(track)
                audio.direction = "sendrecv"
                await pc.setLocalDescription(await pc.createAnswer())
                self.answering = True
        except (ValueError, InvalidAccessError, InvalidStateError) as exc:  # an offer aiortc cannot take
            await self.close()  # (closes the inner endpoint too)
            raise SdpNegotiationError(f"the browser's offer: {exc}") from exc
        # aiortc lists sha-256, -384 and -512 fingerprints of its certificate; Chromium takes a media section
        # with several for one without any ("SDP without DTLS fingerprint"), so ours keeps sha-256.
        self.local_sdp = re.sub(r"^a=fingerprint:sha-(384|512) .*\r?\n", "", pc.localDescription.sdp,
                                flags=re.MULTILINE)  # fmt: skip
        return self

    # -- the browser half -------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_state(self) -> None:
        log.debug("webrtc leg %s: %s", self.local_address, self.pc.connectionState)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._pump_from_browser(track))

    async def _pump_from_browser(self, track: MediaStreamTrack) -> None:
        """The browser's audio (Opus 48 kHz or G.711) to 8 kHz mono 20 ms frames toward the inner endpoint."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        pending = np.zeros(0, dtype=np.int16)
        while not self._closed:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.remote_track_frames += 1
            if not isinstance(frame, av.AudioFrame):
                continue
            for out in resampler.resample(frame):
                pending = np.concatenate([pending, out.to_ndarray().reshape(-1).astype(np.int16)])
            while len(pending) >= FRAME:
                self.hop.send(pending[:FRAME])
                pending = pending[FRAME:]

    def accept_answer(self, sdp: str) -> None:
        """The browser's SDP answer to our offer (setRemoteDescription starts ICE and DTLS)."""
        self._spawn(self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer")))

    def negotiator(self, session_id: int) -> WebRtcNegotiator:
        return WebRtcNegotiator(self, session_id=session_id)

    def hop_media(self, direction: str) -> NegotiatedMedia:
        host, port = self.hop.address
        return NegotiatedMedia(remote_address=host, remote_port=port, codec="PCMU", payload_type=0,
                               telephone_event_pt=101, direction=direction)  # fmt: skip

    # -- MediaSession: the inner endpoint's ---------------------------------------------------------
    @property
    def local_address(self) -> Addr:
        return self.inner.local_address

    @property
    def codec(self) -> G711Codec:
        return self.inner.codec

    def apply(self, negotiated: NegotiatedMedia) -> None:
        self.inner.apply(negotiated)

    def set_sending(self, enabled: bool) -> None:
        self.inner.set_sending(enabled)

    def sent_stream(self) -> RtpStream | None:
        return self.inner.sent_stream()

    def ignore_audio(self, ignore: bool = True) -> None:
        self.inner.ignore_audio(ignore)

    async def play(self, frames: Iterable[Pcm]) -> None:
        await self.inner.play(frames)

    async def play_payloads(self, payloads: Iterable[bytes]) -> None:
        await self.inner.play_payloads(payloads)

    async def play_wav(self, path: str | Path) -> None:
        await self.inner.play_wav(path)

    async def play_tts(self, text: str) -> None:
        await self.inner.play_tts(text)

    def stop_playback(self) -> None:
        self.inner.stop_playback()

    def record(self, path: str | Path, *, stereo: bool = False) -> CallRecorder:
        return self.inner.record(path, stereo=stereo)

    def stop_recording(self) -> None:
        self.inner.stop_recording()

    def echo(self, enabled: bool = True) -> None:
        self.inner.echo(enabled)

    def bridge(self, other: MediaSession | None) -> None:
        self.inner.bridge(other.inner if isinstance(other, WebRtcSession) else other)

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        self.inner.send_dtmf(digits, duration_ms)

    def flush_dtmf(self) -> None:
        self.inner.flush_dtmf()

    async def collect_dtmf(self, max_digits: int, timeout: float, terminator: str | None = "#",
                           inter_digit_timeout: float | None = None) -> str:  # fmt: skip
        return await self.inner.collect_dtmf(max_digits, timeout, terminator, inter_digit_timeout)

    def stats(self) -> StreamStats:
        return self.inner.stats()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.track.stop()
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        if self.hop.transport is not None:
            self.hop.transport.close()
        await self.inner.close()


class WebRtcNegotiator(SdpNegotiator):
    """The SDP of a browser leg: aiortc's offer out, the browser's answer in; what the inner endpoint is told
    is the hop (PCMU on loopback)."""

    def __init__(self, session: WebRtcSession, *, session_id: int) -> None:
        host, port = session.hop.address
        super().__init__(address=host, port=port, session_id=session_id)
        self.session = session
        self._answered = False

    def create_offer(self, direction: str = "sendrecv") -> SessionDescription:
        sdp = _DIRECTION.sub(f"a={direction}", self.session.local_sdp)
        return SessionDescription.parse(sdp)

    def create_answer(self, offer: SessionDescription, direction: str = "sendrecv") -> tuple[SessionDescription, NegotiatedMedia]:  # fmt: skip
        """A re-offer from the browser on the established connection (hold, resume): the answer keeps our
        ICE credentials and DTLS fingerprint, with the direction mirrored."""
        offered = next((m.direction for m in offer.media if m.media == "audio"), "sendrecv")
        ours = answer_direction(offered, direction)
        if not self._answered:
            if not self.session.answering:
                raise SdpNegotiationError("a WebRTC offer on a session opened without it")
            # the browser's first offer: the peer connection took it when the session opened
            self._answered = True
            return SessionDescription.parse(_DIRECTION.sub(f"a={ours}", self.session.local_sdp)), (
                self.session.hop_media(ours)
            )
        sdp = _DIRECTION.sub(f"a={ours}", self.session.local_sdp).replace(
            "a=setup:actpass", "a=setup:passive"
        )
        return SessionDescription.parse(sdp), self.session.hop_media(ours)

    def process_answer(self, answer: SessionDescription) -> NegotiatedMedia:
        media = next((m for m in answer.media if m.media == "audio" and m.port != 0), None)
        if media is None:
            raise SdpNegotiationError("the browser rejected audio")
        if not self._answered:
            self.session.accept_answer(str(answer))
            self._answered = True
        return self.session.hop_media(answer_direction(media.direction))


class WebRtcBackend:
    """Browser legs: each is a `WebRtcSession` around an endpoint of the in-process backend ``local``."""

    def __init__(self, local: LocalMediaBackend, media_address: str) -> None:
        self.local = local
        self.media_address = media_address
        gather_on(media_address)
        self.sessions: set[WebRtcSession] = set()

    async def open_session(self) -> WebRtcSession:
        inner = await self.local.open_session()
        session = await WebRtcSession.open(inner, self.media_address)
        self.sessions.add(session)
        return session

    async def open_answering_session(self, offer: str) -> WebRtcSession:
        """A leg the browser called from: its peer connection answers the browser's ``offer``."""
        inner = await self.local.open_session()
        session = await WebRtcSession.open(inner, self.media_address, offer)
        self.sessions.add(session)
        return session

    async def close(self) -> None:
        for session in list(self.sessions):
            await session.close()
        self.sessions.clear()
