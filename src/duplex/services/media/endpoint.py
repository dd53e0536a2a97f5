"""The asyncio shell around ``RtpStream``: one UDP socket pair per leg, a 20 ms paced sender, and the
operations a call controller needs (play, record, echo, bridge, DTMF). The prompt a leg plays is its
`playback.Playback`, the digits it received wait in its `dtmf_inbox.DtmfInbox`.

``MediaBackend``/``MediaSession`` (media/session.py) are the seam: a controller only talks to these protocols;
``RtpEndpoint`` and ``local_backend.LocalMediaBackend`` are the in-process implementation, rtpengine_backend
the out-of-process one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Container, Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from duplex.media.codecs import PCMU, G711Codec, get_codec
from duplex.media.events import AudioFrame, DtmfReceived, FrameTap, MediaEvent
from duplex.media.frames import FRAME, PTIME, split_frames
from duplex.media.offer_answer import NegotiatedMedia
from duplex.media.recorder import CallRecorder, ChannelTap
from duplex.media.session import MediaBackend, MediaSession
from duplex.media.stream import RtpStream, StreamStats
from duplex.media.wav import read_wav
from duplex.services.media.dtmf_inbox import DtmfInbox
from duplex.services.media.playback import Playback
from duplex.services.media.ports import bind_port_pair
from duplex.services.media.tts import TextToSpeech

__all__ = ["MediaBackend", "MediaSession", "RtpEndpoint", "split_frames"]

log = logging.getLogger("duplex.media.endpoint")

Pcm = npt.NDArray[np.int16]
Addr = tuple[str, int]


class RtpEndpoint:
    """One RTP/RTCP leg on ``host``: RTP on an even port, RTCP on the next one (no rtcp-mux)."""

    stats_after_close = False  # the counters are live

    def __init__(self, stream: RtpStream, tts: TextToSpeech | None = None) -> None:
        self.stream = stream
        self.tts = tts or TextToSpeech()
        self.remote: Addr | None = None
        self.remote_rtcp: Addr | None = None
        self._send_enabled = True
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when _timer fires (uvloop's handles have no when())
        self._pacer: asyncio.Task[None] | None = None
        self._echo: deque[AudioFrame] | None = None
        self._bridge_to: RtpEndpoint | None = None
        self._bridged_from: RtpEndpoint | None = None
        self._recorder: CallRecorder | None = None
        self._rec_taps: list[FrameTap] = []
        self.dtmf = DtmfInbox()  # what collect_dtmf reads
        self.listeners: list[Callable[[MediaEvent], None]] = []
        self.ticks_late = 0
        self._relay: RtpEndpoint | None = None  # fast relay target (self when echoing), see _update_relay
        self._audio_listeners = 0
        self._wake = asyncio.Event()
        self.playback = Playback(self._wake.set)  # the prompt sent instead of silence
        self._on_closed: Callable[[RtpEndpoint], None] | None = None
        self._ignore_audio = False  # set by ignore_audio()
        self._discard = False  # received audio is only counted, see _update_relay
        self._silence: tuple[G711Codec | None, bytes] = (None, b"")

    @classmethod
    async def open(
        cls,
        host: str = "127.0.0.1",
        port_range: tuple[int, int] | None = None,
        *,
        codec: G711Codec = PCMU,
        telephone_event_pt: int | None = 101,
        jitter_delay: float | None = 0.06,
        rng: random.Random | None = None,
        tts: TextToSpeech | None = None,
        avoid: Container[int] = (),
    ) -> RtpEndpoint:
        """Open a leg on a free port pair (see `duplex.services.media.ports.bind_port_pair`)."""
        loop = asyncio.get_running_loop()
        rng = rng or random.Random()
        stream = RtpStream(codec=codec, rng=rng, telephone_event_pt=telephone_event_pt, jitter_delay=jitter_delay,
                           wallclock_offset=time.time() - loop.time())  # fmt: skip
        self = cls(stream, tts)
        self._rtp, self._rtcp = await bind_port_pair(host, port_range, self._on_rtp, self._on_rtcp, rng=rng,
                                                     avoid=avoid)  # fmt: skip
        self._pacer = loop.create_task(self._pace())
        return self

    # -- configuration ---------------------------------------------------------------------------

    @property
    def local_address(self) -> Addr:
        assert self._rtp is not None
        host, port = self._rtp.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def set_remote(self, addr: Addr, rtcp: Addr | None = None) -> None:
        self.remote = addr
        self.remote_rtcp = rtcp or (addr[0], addr[1] + 1)
        self._wake.set()

    @property
    def codec(self) -> G711Codec:
        return self.stream.codec

    def set_sending(self, enabled: bool) -> None:
        self.send_enabled = enabled

    def sent_stream(self) -> RtpStream:
        return self.stream

    @property
    def send_enabled(self) -> bool:
        """Whether this leg sends RTP: False while the negotiated direction forbids it (recvonly/inactive),
        and while a call controller holds it back (e.g. a caller's leg before our answer is sent)."""
        return self._send_enabled

    @send_enabled.setter
    def send_enabled(self, enabled: bool) -> None:
        self._send_enabled = enabled
        self._wake.set()

    def apply(self, negotiated: NegotiatedMedia) -> None:
        """Configure codec, telephone-event PT, remote address and direction from SDP negotiation."""
        self.stream.configure(codec=get_codec(negotiated.codec), payload_type=negotiated.payload_type,
                              telephone_event_pt=negotiated.telephone_event_pt)  # fmt: skip
        self.set_remote((negotiated.remote_address, negotiated.remote_port))
        self.send_enabled = negotiated.send_enabled
        self._update_relays()

    def _update_relays(self) -> None:
        for ep in (self, self._bridged_from):
            if ep is not None:
                ep._update_relay()

    def _update_relay(self) -> None:
        """Choose the fast relay: received packets go out re-headered (``RtpStream.relay``) with no jitter
        buffer, decoding, re-encoding or 20 ms pacing, when this leg echoes or is bridged to a leg with the
        same codec and nothing needs its audio (recording, taps, in-band DTMF, ``frames()``)."""
        target = self if self._echo is not None else self._bridge_to
        ok = (
            target is not None
            and target.stream.codec is self.stream.codec
            and not self.stream.taps
            and self.stream.inband is None
            and not self._audio_listeners
            and (target._recorder is None or target._recorder.channels == 1)
        )
        relay = target if ok else None
        # The controller said nobody uses what this leg receives (ignore_audio) and nothing else does (no echo,
        # bridge, tap, recording, in-band DTMF or frames()): packets are only counted for RTCP and checked for
        # telephone-events, not buffered and decoded.
        discard = self._ignore_audio and target is None and not self._needs_audio()
        if (relay is not None and self._relay is None) or (discard and not self._discard):
            self.stream.reset_jitter()
            if self._echo:
                self._echo.clear()
        self._relay = relay
        self._discard = discard
        self._wake.set()

    def _needs_audio(self) -> bool:
        return bool(
            self.stream.taps
            or self.stream.inband is not None
            or self._audio_listeners
            or self._recorder is not None
        )

    def _idle(self) -> bool:
        """Nothing for the pacer to do: no prompt or DTMF to send, and this leg's output is relayed audio."""
        if self.playback.active or self.stream.dtmf_pending:
            return False
        if not self._send_enabled or self.remote is None:
            return True  # no silence to send: not answered yet, on hold, no remote address
        # a bridged leg sends what its peer relays (or transcodes) to it
        return self._relay is self or self._bridged_from is not None

    # -- network input ---------------------------------------------------------------------------

    def _on_rtp(self, data: bytes, addr: Addr) -> None:
        target = self._relay
        if target is not None:
            now = self._loop.time()
            out = self.stream.relay(data, now, target.stream)
            if out is None:  # RTCP, a new source, DTMF, ...: the full path, then forward
                if self.remote is None:
                    self.set_remote(addr)
                events = self.stream.receive_datagram(data, now, decode=False)
                out = self.stream.forward(data, now, target.stream)
                self._dispatch(events)
            if (
                out is not None
                and target._send_enabled
                and target.remote is not None
                and target._rtp is not None
            ):
                target._rtp.sendto(out, target.remote)
                if target._timer is None:
                    target._arm_timer()  # its RTCP timer when it only sends
            return
        if self.remote is None:  # symmetric RTP: latch onto the first sender
            self.set_remote(addr)
        now = self._loop.time()
        if self._discard:
            if not self.stream.account(data, now):
                self._dispatch(self.stream.receive_datagram(data, now, decode=False))
            elif self._timer is None:
                self._arm_timer()  # RTCP reports what we receive
            return
        self._dispatch(self.stream.receive_datagram(data, now))

    def _on_rtcp(self, data: bytes, addr: Addr) -> None:
        self._dispatch(self.stream.receive_datagram(data, self._loop.time()))

    def _dispatch(self, events: list[MediaEvent]) -> None:
        for ev in events:
            if isinstance(ev, AudioFrame):
                self._on_audio(ev)
            elif isinstance(ev, DtmfReceived):
                self.dtmf.put(ev)
            for listener in self.listeners:
                listener(ev)
        self._flush_rtcp()
        self._arm_timer()

    def _on_audio(self, frame: AudioFrame) -> None:
        if self._echo is not None:
            self._echo.append(frame)
        peer = self._bridge_to
        if peer is not None and peer.send_enabled:
            now = self._loop.time()
            same = frame.payload_type == peer.stream.payload_type and not frame.concealed and frame.payload
            if same and frame.payload is not None:
                peer._send(peer.stream.send_payload(frame.payload, now))  # relay without transcoding
            else:
                peer._send(peer.stream.send_frame(frame.pcm, now))
            peer._tap_sent(frame.pcm, now)

    def _arm_timer(self) -> None:
        when = self.stream.get_timer()
        if self._timer is not None:
            if when is not None and self._timer_at == when:
                return  # unchanged (most packets do not move the playout or RTCP time)
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._on_timer) if when is not None else None
        self._timer_at = when if when is not None else 0.0

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch(self.stream.handle_timer(self._loop.time()))

    # -- network output --------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if data and self._rtp is not None and self.remote is not None:
            self._rtp.sendto(data, self.remote)

    def _flush_rtcp(self) -> None:
        for data in self.stream.rtcp_to_send():
            if self._rtcp is not None and self.remote_rtcp is not None:
                self._rtcp.sendto(data, self.remote_rtcp)

    def _next_frame(self) -> Pcm | bytes:
        frame = self.playback.next_frame()
        if frame is not None:
            return frame
        if self._echo:
            return self._echo.popleft().pcm
        return self._silence_payload()

    def _silence_payload(self) -> bytes:
        """One frame of silence encoded with our codec, encoded once per codec (legs send it every 20 ms
        while they have nothing to play)."""
        codec = self.stream.codec
        if self._silence[0] is not codec:
            self._silence = (codec, codec.encode(np.zeros(FRAME, dtype=np.int16)))
        return self._silence[1]

    async def _pace(self) -> None:
        """Send one frame every 20 ms on the loop clock; the schedule is absolute, so sleep jitter does
        not accumulate (drift compensation), and after a stall of > 100 ms it restarts from now."""
        next_tick = self._loop.time()
        while True:
            if self._idle():
                self._wake.clear()
                await self._wake.wait()
                next_tick = self._loop.time()
            now = self._loop.time()
            if now - next_tick > 0.1:
                self.ticks_late += 1
                next_tick = now
            if self._bridged_from is None and self._send_enabled and self.remote is not None:
                self._send_frame(self._next_frame(), next_tick)
            elif self.playback.active or self._echo:
                self._next_frame()  # keep playback time moving while muted/bridged
            next_tick += PTIME
            await asyncio.sleep(max(0.0, next_tick - self._loop.time()))

    def _send_frame(self, frame: Pcm | bytes, now: float) -> None:
        if isinstance(frame, bytes):  # already encoded (see play_payloads)
            self._send(self.stream.send_payload(frame, now))
            if self._recorder is not None and self._recorder.channels == 2:
                self._tap_sent(self.stream.codec.decode(frame), now)
            return
        self._send(self.stream.send_frame(frame, now))
        self._tap_sent(frame, now)

    def _tap_sent(self, pcm: Pcm, now: float) -> None:
        if self._recorder is not None and self._recorder.channels == 2:
            self._recorder.add(pcm, now, 1)

    # -- operations ------------------------------------------------------------------------------

    async def play(self, frames: Iterable[Pcm]) -> None:
        """Send these frames (160 samples each) instead of silence; returns when all are sent."""
        await self.playback.play(iter(frames))

    async def play_payloads(self, payloads: Iterable[bytes]) -> None:
        """Send 20 ms payloads already encoded with this leg's codec (e.g. `tones.encoded_beep`, cached per
        codec) instead of silence, with no encoding per packet; returns when all are sent."""
        await self.playback.play(iter(payloads))

    async def play_pcm(self, pcm: Pcm) -> None:
        await self.play(split_frames(pcm))

    async def play_wav(self, path: str | Path) -> None:
        pcm = await self._loop.run_in_executor(None, read_wav, path)
        await self.play_pcm(pcm)

    async def play_tts(self, text: str) -> None:
        pcm = await self._loop.run_in_executor(None, self.tts.synthesize, text)
        await self.play_pcm(pcm)

    def stop_playback(self) -> None:
        self.playback.stop()

    def record(self, path: str | Path, *, stereo: bool = False) -> CallRecorder:
        """Record received audio (mono), or received=left and sent=right (stereo)."""
        self.stop_recording()
        rec = CallRecorder(path, channels=2 if stereo else 1, start=self._loop.time())
        self._recorder = rec
        tap = ChannelTap(rec, 0)
        self._rec_taps.append(tap)
        self.add_tap(tap)
        return rec

    def add_tap(self, tap: FrameTap) -> None:
        """Feed every received frame to ``tap`` (recorders, detectors); the leg then decodes its audio."""
        self.stream.add_tap(tap)
        self._update_relays()

    def remove_tap(self, tap: FrameTap) -> None:
        self.stream.remove_tap(tap)
        self._update_relays()

    def stop_recording(self) -> None:
        for tap in self._rec_taps:
            self.stream.remove_tap(tap)
        self._rec_taps.clear()
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        self._update_relays()

    def ignore_audio(self, ignore: bool = True) -> None:
        """Say that nothing uses the audio this leg receives (e.g. while the echo test's beep plays): packets
        are then only counted for RTCP and checked for telephone-events, not buffered or decoded, and
        ``listeners`` get no ``AudioFrame``. Echo, a bridge, taps, recording, in-band DTMF and ``frames()``
        still get their audio."""
        self._ignore_audio = ignore
        self._update_relay()

    def echo(self, enabled: bool = True) -> None:
        """Send received audio back to its sender (at most ~100 ms queued)."""
        self._echo = deque(maxlen=5) if enabled else None
        self._update_relay()

    def bridge(self, other: MediaSession | None) -> None:
        """Relay this leg's received audio to ``other`` and vice versa (``None`` unbridges).

        Payloads are forwarded unchanged when both legs use the same payload type, else transcoded.
        """
        if other is not None and not isinstance(other, RtpEndpoint):
            other.bridge(self)  # another backend's leg (rtpengine) knows how to reach an RtpEndpoint
            return
        touched: list[RtpEndpoint] = [self]
        pairs: list[tuple[RtpEndpoint, RtpEndpoint | None]] = [(self, other)]
        if other is not None:
            pairs.append((other, self))
        elif self._bridge_to is not None and self._bridge_to._bridge_to is self:
            pairs.append((self._bridge_to, None))  # unbridge both directions
        for a, b in pairs:
            old = a._bridge_to
            if old is not None:
                old._bridged_from = None
                touched.append(old)
            a._bridge_to = b
            if b is not None:
                b._bridged_from = a
            touched.append(a)
        for ep in touched:
            ep._update_relays()

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        self.stream.send_dtmf(digits, duration_ms)
        self._wake.set()

    def flush_dtmf(self) -> None:
        """Forget digits typed ahead (``collect_dtmf`` otherwise consumes them first)."""
        self.dtmf.flush()

    async def next_dtmf(self) -> DtmfReceived:
        return await self.dtmf.next()

    async def collect_dtmf(self, max_digits: int, timeout: float, terminator: str | None = "#",
                           inter_digit_timeout: float | None = None) -> str:  # fmt: skip
        """Collect up to ``max_digits`` (RFC 4733 or in-band), stopping at ``terminator`` (not included)
        or when ``timeout`` (overall) / ``inter_digit_timeout`` (after the first digit) expires."""
        return await self.dtmf.collect(max_digits, timeout, terminator, inter_digit_timeout)

    def stats(self) -> StreamStats:
        return self.stream.stats()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Iterate received frames (a convenience for tests and simple taps)."""
        queue: asyncio.Queue[AudioFrame] = asyncio.Queue()

        def listener(ev: MediaEvent) -> None:
            if isinstance(ev, AudioFrame):
                queue.put_nowait(ev)

        self.listeners.append(listener)
        self._audio_listeners += 1
        self._update_relays()
        try:
            while True:
                yield await queue.get()
        finally:
            self.listeners.remove(listener)
            self._audio_listeners -= 1
            self._update_relays()

    async def close(self) -> None:
        """Send RTCP BYE, stop the pacer and timers, close sockets and any recording.

        The sockets are closed and the port released whatever fails before: a leg whose far end gave an
        address we cannot send to must not keep two sockets and its ports for the life of the process."""
        try:
            self._send_rtcp_bye()
            self.bridge(None)
            self.stop_playback()
            self.stop_recording()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self._pacer is not None:
                self._pacer.cancel()
                await asyncio.gather(self._pacer, return_exceptions=True)
            for t in (self._rtp, self._rtcp):
                if t is not None:
                    t.close()
            self._rtp = self._rtcp = None
            if self._on_closed is not None:
                self._on_closed(self)
                self._on_closed = None

    def _send_rtcp_bye(self) -> None:
        if self._rtcp is None or self.remote_rtcp is None:
            return
        try:  # a courtesy to the far end (RFC 3550 §6.6): an unreachable or unusable address only loses it
            self._rtcp.sendto(self.stream.build_rtcp(self._loop.time(), bye=True), self.remote_rtcp)
        except (OSError, ValueError, TypeError) as exc:
            log.debug("RTCP BYE to %s not sent: %s", self.remote_rtcp, exc)
