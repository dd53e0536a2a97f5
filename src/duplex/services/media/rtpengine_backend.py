"""A ``MediaBackend`` whose legs live in rtpengine: bridged calls relay RTP without touching Python.

Each ``RtpengineSession`` is one rtpengine call (its own Call-ID) with two monologues:

* ``ext``: the SIP peer of the leg (a phone, a carrier). Its port is ``local_address``, which Duplex writes
  into the leg's SDP; ``apply(negotiated)`` tells rtpengine where the peer is (an ng ``answer``).
* ``int``: the inside of the leg. Unbridged it points nowhere (``c=0.0.0.0``, rtpengine drops the media);
  ``bridge(other)`` points each leg's ``int`` at the other's ``int`` port (a re-``offer``), so RTP flows
  phone -> rtpengine -> rtpengine -> carrier and back; Python only sends ng commands.

Every ng command is sent with ``port latching`` so rtpengine keeps the ports already advertised in SIP.
The chain costs one extra loopback hop inside rtpengine per direction; it lets call control stay unchanged
(legs open their media before the other leg exists). One rtpengine call per bridged pair needs the legs'
SDP to pass through rtpengine (``offer`` on leg A's offer, ``answer`` on leg B's answer) and is left for
later.

Operations that need the audio in Python (play, play_wav, play_tts, collect_dtmf, echo, record) fall back to
the in-process backend when the backend has a ``fallback`` (the engine always gives it one): the first such
operation opens a local ``RtpEndpoint`` and points the leg's ``int`` side at it, so an IVR leg's RTP flows
phone -> rtpengine -> Python. Bridging the leg closes that endpoint (the inside then faces the other leg);
an audio operation on a bridged leg raises ``RtpengineUnsupported``, and so does ``record`` before another
operation attached the endpoint (it must return its recorder at once). Without a fallback every one of them
raises ``RtpengineUnsupported``. The endpoint's media events (``dtmf.received`` for the leg) go to the
session's ``listeners``. Bridging to an in-process ``RtpEndpoint`` (a leg opened while rtpengine did not
answer) attaches the endpoint too and bridges it to the other leg in Python.

``send_dtmf`` is rtpengine's ``play DTMF`` when the backend was made with ``inject_dtmf=True`` (rtpengine
then runs its codec handlers on every leg's packets, which costs more than plain forwarding), else the
fallback endpoint's. ``stats()`` is the last ``query`` (every ``stats_interval`` s if set, and at ``close()``,
so a leg's ``call.quality`` waits for its close). The
operations are synchronous in ``MediaSession`` (apply, bridge, echo, send_dtmf), so each session runs its ng
commands in order on a task chain; ``close()`` waits for the chain and deletes the rtpengine call.

Deployment: rtpengine runs on the host whose address is Duplex's ``public_ip`` (Duplex writes that address
into its SDP, with rtpengine's ports), for example userspace-only as the tests start it::

    rtpengine --foreground --table=-1 --interface=<public_ip> --listen-ng=127.0.0.1:2223 \\
        --port-min=20000 --port-max=29999 --delete-delay=0

and ``media_backend = "rtpengine"``, ``media_rtpengine_ng = "127.0.0.1:2223"`` in duplex.toml. Each leg
holds four rtpengine ports (RTP and RTCP on each side), so a bridged call holds eight.

Browser legs go to rtpengine too (`rtpengine_webrtc`, unless ``media_rtpengine_webrtc = false`` keeps them in
aiortc): the browser then sends its ICE checks and DTLS-SRTP to rtpengine's ports on ``--interface``, so that
address must be one the agents' browsers reach (``public_ip``; 127.0.0.1 serves a browser on the same host).
rtpengine needs no WebRTC option of its own: the ng flags of each command ask for ICE, DTLS and RTCP-mux.
The keypad of a browser (SIP INFO) reaches a bridged rtpengine leg only with ``media_rtpengine_inject_dtmf``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from duplex.media.codecs import G711Codec, get_codec
from duplex.media.events import MediaEvent
from duplex.media.offer_answer import NegotiatedMedia
from duplex.media.recorder import CallRecorder
from duplex.media.rtpengine_ng import NgError, NgRetryPolicy, NgTimeout, block_media, play_dtmf, unblock_media
from duplex.media.rtpengine_sdp import (
    ALL_FORMATS,
    EXT,
    INT,
    PEER_DIRECTION,
    RTPMAP,
    audio_port,
    monologue_sdp,
    stats_from_query,
)
from duplex.media.session import MediaBackend, MediaSession
from duplex.media.stream import RtpStream, StreamStats
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_client import RtpengineClient

__all__ = ["RtpengineBackend", "RtpengineSession", "RtpengineUnsupported"]

log = logging.getLogger("duplex.media.rtpengine")
Pcm = npt.NDArray[np.int16]
Addr = tuple[str, int]
FLAGS = ("port latching",)
# rtpengine answers in well under a millisecond; call setup should not wait the client's default 7.5 s
POLICY = NgRetryPolicy(interval=0.25, max_interval=1.0, retries=3)


class RtpengineUnsupported(NotImplementedError):
    """The operation needs the leg's audio in Python; rtpengine legs relay it outside Python."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} is not available on this rtpengine media leg (its RTP is relayed outside "
                         f"Python, and Python audio needs the backend's in-process fallback on an unbridged leg)")  # fmt: skip


class RtpengineSession:
    """One media leg as an rtpengine call (see the module docstring)."""

    stats_after_close = True  # close() takes the final ``query`` before it deletes the call

    def __init__(self, backend: RtpengineBackend, call_id: str, local_address: Addr) -> None:
        self.backend = backend
        self.client = backend.client
        self.call_id = call_id
        self._local = local_address
        self.inside: Addr | None = None  # rtpengine's port for the int side, known after apply()
        self.peer: RtpengineSession | None = None
        self.errors: list[Exception] = []
        self.negotiated: NegotiatedMedia | None = None
        self.audio: RtpEndpoint | None = None  # the Python endpoint the inside faces (IVR legs, on demand)
        self.last_query: dict[str, Any] = {}
        self.listeners: list[Callable[[MediaEvent], None]] = []  # get the fallback endpoint's events
        self.local_peer: RtpEndpoint | None = None  # an in-process leg bridged through the fallback endpoint
        self._poller: asyncio.Task[None] | None = None
        self._ext_sdp: str | None = None
        self._tail: asyncio.Task[None] | None = None
        self._closed = False
        self._sending = True  # False: ``block media`` holds back what goes to the SIP peer

    def __repr__(self) -> str:
        return f"<RtpengineSession {self.call_id} ext={self._local} int={self.inside}>"

    # -- the ordered chain of ng commands ------------------------------------------------------------------
    def _enqueue(self, op: Callable[[], Awaitable[None]], *, also: RtpengineSession | None = None) -> None:
        sessions = [self] if also is None else [self, also]
        before = [s._tail for s in sessions if s._tail is not None]
        task = asyncio.get_running_loop().create_task(self._run_after(before, op))
        for s in sessions:
            s._tail = task

    async def _run_after(self, before: list[asyncio.Task[None]], op: Callable[[], Awaitable[None]]) -> None:
        if before:
            await asyncio.wait(before)
        try:
            await op()
        except Exception as exc:  # kept for settled() callers and tests; the chain goes on
            self.errors.append(exc)
            log.warning("rtpengine call %s: %s", self.call_id, exc)

    async def settled(self) -> None:
        """Wait until every ng command queued so far has been answered."""
        if self._tail is not None:
            await asyncio.wait([self._tail])

    # -- MediaSession: configuration -------------------------------------------------------------------
    @property
    def local_address(self) -> Addr:
        return self._local

    @property
    def codec(self) -> G711Codec:
        return get_codec(self.negotiated.codec if self.negotiated is not None else "PCMU")

    def set_sending(self, enabled: bool) -> None:
        """Hold back (``block media`` on the inside monologue: rtpengine forwards nothing of what reaches the
        inside, from the other leg or the fallback endpoint, to the SIP peer) or release it (``unblock``)."""
        if enabled == self._sending:
            return
        self._sending = enabled
        command = unblock_media if enabled else block_media
        self._enqueue(lambda: self._send_command(command(self.call_id, INT)))

    async def _send_command(self, body: dict[str, Any]) -> None:
        await self.client.request(body)

    def sent_stream(self) -> RtpStream | None:
        return None  # rtpengine sends this leg's RTP and answers its RTCP

    def apply(self, negotiated: NegotiatedMedia) -> None:
        """Tell rtpengine where the SIP peer is and what it sends (an ng ``answer`` from ``ext``)."""
        self.negotiated = negotiated
        formats = [(negotiated.payload_type, RTPMAP.get(negotiated.codec, f"{negotiated.codec}/8000"))]
        if negotiated.telephone_event_pt is not None:
            formats.append((negotiated.telephone_event_pt, "telephone-event/8000"))
        self._ext_sdp = monologue_sdp(negotiated.remote_address, negotiated.remote_port, formats,
                             PEER_DIRECTION[negotiated.direction])  # fmt: skip
        self._enqueue(self._answer)
        if self._poller is None and self.backend.stats_interval > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll_stats())

    async def _poll_stats(self) -> None:
        """Query the counters every ``stats_interval`` s, so ``stats()`` (read synchronously when the leg ends,
        for ``call.quality``) is at most that old; ``close()`` takes the final ones."""
        while not self._closed:
            await asyncio.sleep(self.backend.stats_interval)
            try:
                await self.refresh_stats()
            except NgError as exc:
                log.debug("rtpengine call %s: stats query: %s", self.call_id, exc)

    async def _answer(self) -> None:
        assert self._ext_sdp is not None
        sdp = await self.client.answer(self.call_id, INT, EXT, self._ext_sdp, flags=self.backend.flags)
        self.inside = (self.backend.inside_address, audio_port(sdp))
        if self.audio is not None:
            self.audio.apply(self._inside_media())

    async def _point(self, target: Addr | None) -> None:
        """Re-offer the int side at ``target`` (None: nowhere). rtpengine redirects at once and keeps what
        the last answer said about the peer, so no re-answer is needed (one round trip)."""
        host, port = target if target is not None else ("0.0.0.0", 9)
        await self.client.offer(self.call_id, INT, monologue_sdp(host, port, ALL_FORMATS, "sendrecv"), to_tag=EXT,
                                flags=self.backend.flags)  # fmt: skip

    def bridge(self, other: MediaSession | None) -> None:
        """Point this leg's inside at ``other``'s and back (``None`` unbridges both).

        ``other`` may be an in-process ``RtpEndpoint`` (a leg opened while rtpengine did not answer): this
        leg's inside then faces its fallback endpoint, bridged in Python to ``other``. Another backend's leg
        (a browser's WebRTC leg) is asked to bridge itself to this one: it reaches it through the in-process
        endpoint inside it.

        Raises:
            RtpengineUnsupported: ``other`` is an ``RtpEndpoint`` and the backend has no fallback.
        """
        if isinstance(other, RtpEndpoint):
            self._bridge_local(other)
            return
        if other is not None and not isinstance(other, RtpengineSession):
            other.bridge(self)
            return
        if self.local_peer is not None:
            self._bridge_local(None)
        old = self.peer
        if old is not None and old is not other:
            old.peer = None
            self._enqueue(lambda: self._unbridge(old), also=old)
        if other is not None and other.peer is not None and other.peer is not self:
            other.peer.bridge(None)  # other leaves its current peer first
        if other is None:
            if old is None:
                return
            self.peer = None
            self._enqueue(lambda: self._point(None))
            return
        self.peer, other.peer = other, self
        self._enqueue(lambda: self._bridge(other), also=other)

    async def _bridge(self, other: RtpengineSession) -> None:
        if self.inside is None or other.inside is None:
            raise NgBridgeError(f"{self!r} and {other!r} need their SDP applied before bridging")
        await asyncio.gather(self._detach(), other._detach())
        # both legs at once: the caller's first packets after the answer are dropped until this returns
        await asyncio.gather(self._point(other.inside), other._point(self.inside))

    async def _unbridge(self, old: RtpengineSession) -> None:
        await old._point(None)

    def _bridge_local(self, other: RtpEndpoint | None) -> None:
        if other is None:
            self.local_peer = None
            if self.audio is not None:
                self.audio.bridge(None)
            return
        if self.backend.fallback is None:
            raise RtpengineUnsupported("bridge to an in-process leg")
        if self.peer is not None:
            self.bridge(None)
        log.info("rtpengine call %s: bridged to an in-process leg through a Python endpoint", self.call_id)
        self.local_peer = other
        self._with_audio("bridge to an in-process leg", lambda audio: audio.bridge(other))

    # -- MediaSession: what rtpengine does ------------------------------------------------------------------
    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        """Send RFC 4733 events to the SIP peer: ng ``play DTMF`` (one per digit) with ``inject_dtmf``, else
        from the fallback endpoint.

        Raises:
            RtpengineUnsupported: no ``inject_dtmf`` and no fallback, or a bridged leg without ``inject_dtmf``.
        """
        if not self.backend.inject_dtmf:
            self._with_audio("send_dtmf", lambda audio: audio.send_dtmf(digits, duration_ms))
            return
        for digit in digits:
            self._enqueue(lambda d=digit: self._play_dtmf(d, duration_ms))  # type: ignore[misc]

    async def _play_dtmf(self, digit: str, duration_ms: int) -> None:
        await self.client.request(play_dtmf(self.call_id, INT, code=digit, duration_ms=duration_ms))

    def stats(self) -> StreamStats:
        return stats_from_query(self.last_query)

    async def refresh_stats(self) -> StreamStats:
        """Query rtpengine now (the call's packet counters) and return the leg's stats."""
        self.last_query = await self.client.query(self.call_id)
        return self.stats()

    async def close(self) -> None:
        """Take the final counters and delete the rtpengine call (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
        self.local_peer = None
        if self.peer is not None:
            self.peer.peer = None
            self.peer = None
        await self.settled()
        await self._detach()
        try:
            await self.refresh_stats()
            await self.client.delete(self.call_id)
        except NgError as exc:
            self.errors.append(exc)
            log.warning("rtpengine call %s: %s", self.call_id, exc)
        self.backend.sessions.discard(self)

    # -- MediaSession: what needs the audio in Python (the fallback endpoint) ---------------------------------
    def _inside_media(self) -> NegotiatedMedia:
        assert self.negotiated is not None and self.inside is not None
        n, (host, port) = self.negotiated, self.inside
        return NegotiatedMedia(remote_address=host, remote_port=port, codec=n.codec, payload_type=n.payload_type,
                               telephone_event_pt=n.telephone_event_pt, direction="sendrecv")  # fmt: skip

    def _check_audio(self, operation: str) -> None:
        if self.backend.fallback is None:
            raise RtpengineUnsupported(operation)
        if self.peer is not None:
            raise RtpengineUnsupported(f"{operation} on a bridged leg")

    async def _attach(self) -> None:
        """Open the fallback endpoint and point the inside at it (runs on the chain)."""
        fallback = self.backend.fallback
        if self.audio is not None or fallback is None or self._closed:
            return
        if self.inside is None or self.negotiated is None:
            raise NgBridgeError(f"{self!r} needs its SDP applied before audio operations")
        audio = await fallback.open_session()
        audio.apply(self._inside_media())
        host, port = audio.local_address
        self.audio = audio
        audio.listeners.append(self._forward)
        await self._point((self.backend.media_address if host in ("", "0.0.0.0") else host, port))

    def _forward(self, event: MediaEvent) -> None:
        for listener in self.listeners:
            listener(event)

    async def _detach(self) -> None:
        audio, self.audio = self.audio, None
        if audio is not None:
            await audio.close()

    async def _audio(self, operation: str) -> RtpEndpoint:
        """The fallback endpoint, attached on first use.

        Raises:
            RtpengineUnsupported: no fallback, the leg is bridged, or attaching failed.
        """
        self._check_audio(operation)
        if self.audio is None:
            self._enqueue(self._attach)
            await self.settled()
        if self.audio is None:
            raise RtpengineUnsupported(
                f"{operation} (attaching the Python endpoint failed: {self.errors[-1:]})"
            )
        return self.audio

    def _with_audio(self, operation: str, then: Callable[[RtpEndpoint], None]) -> None:
        """Run a synchronous operation on the fallback endpoint now, or once the chain has attached it."""
        self._check_audio(operation)
        if self.audio is not None:
            then(self.audio)
            return

        async def attach_then() -> None:
            await self._attach()
            if self.audio is not None:
                then(self.audio)

        self._enqueue(attach_then)

    async def play(self, frames: Iterable[Pcm]) -> None:
        await (await self._audio("play")).play(frames)

    async def play_wav(self, path: str | Path) -> None:
        await (await self._audio("play_wav")).play_wav(path)

    async def play_tts(self, text: str) -> None:
        await (await self._audio("play_tts")).play_tts(text)

    async def play_payloads(self, payloads: Iterable[bytes]) -> None:
        await (await self._audio("play")).play_payloads(payloads)

    def ignore_audio(self, ignore: bool = True) -> None:
        if self.audio is not None:
            self.audio.ignore_audio(ignore)

    def stop_playback(self) -> None:
        if self.audio is not None:
            self.audio.stop_playback()

    def record(self, path: str | Path, *, stereo: bool = False) -> CallRecorder:
        """Record on the fallback endpoint (attached by an earlier play, collect_dtmf or echo).

        Raises:
            RtpengineUnsupported: no endpoint attached yet, no fallback, or a bridged leg.
        """
        self._check_audio("record")
        if self.audio is None:
            raise RtpengineUnsupported(
                "record before a play, collect_dtmf or echo attached the Python endpoint"
            )
        return self.audio.record(path, stereo=stereo)

    def stop_recording(self) -> None:
        if self.audio is not None:
            self.audio.stop_recording()

    def echo(self, enabled: bool = True) -> None:
        if enabled:
            self._with_audio("echo", lambda audio: audio.echo(True))
        elif self.audio is not None:
            self.audio.echo(False)

    def flush_dtmf(self) -> None:
        if self.audio is not None:
            self.audio.flush_dtmf()

    async def collect_dtmf(self, max_digits: int, timeout: float, terminator: str | None = "#",
                           inter_digit_timeout: float | None = None) -> str:  # fmt: skip
        audio = await self._audio("collect_dtmf")
        return await audio.collect_dtmf(max_digits, timeout, terminator, inter_digit_timeout)


class NgBridgeError(NgError):
    """``bridge`` before both legs had their SDP applied."""


class RtpengineBackend:
    """Media legs in rtpengine, controlled over ng at ``ng_address``.

    Args:
        ng_address: the daemon's ``--listen-ng``.
        media_address: the address the SIP peers reach rtpengine's ports on (Duplex writes ``public_ip``
            into its SDP, so rtpengine must listen there).
        inside_address: the address rtpengine reaches its own ports on (bridges between legs).
        inject_dtmf: ``send_dtmf`` through rtpengine (ng flag ``inject DTMF`` on every leg).
        fallback: where Python-audio operations get their endpoint (None: they raise).
        stats_interval: seconds between a leg's ``query`` commands once its SDP is applied (0: only at close),
            so its ``call.quality`` has counters at most that old.
    """

    def __init__(self, ng_address: Addr, *, media_address: str = "127.0.0.1", inside_address: str = "127.0.0.1",
                 client: RtpengineClient | None = None, rng: random.Random | None = None,
                 inject_dtmf: bool = False, fallback: LocalMediaBackend | None = None,
                 stats_interval: float = 0.0) -> None:  # fmt: skip
        self.rng = rng or random.Random()
        self.client = client or RtpengineClient(ng_address, rng=self.rng, policy=POLICY)
        self.media_address = media_address
        self.inside_address = inside_address
        self.sessions: set[RtpengineSession] = set()
        self.inject_dtmf = inject_dtmf
        self.fallback = fallback
        self.stats_interval = stats_interval
        self.flags = (*FLAGS, "inject DTMF") if inject_dtmf else FLAGS

    async def open_session(self) -> RtpengineSession | RtpEndpoint:
        """Create the leg's rtpengine call: an ng ``offer`` from the (unbridged) inside. When rtpengine does
        not answer and there is a fallback, the leg gets an in-process endpoint instead (logged): calls go on
        with media in Python (two such legs bridge as usual; an rtpengine leg bridges to such a leg through
        its own fallback endpoint).

        Raises:
            NgCommandError: rtpengine refused.
            NgTimeout: rtpengine did not answer and there is no fallback.
        """
        call_id = f"duplex-{self.rng.getrandbits(64):016x}"
        placeholder = monologue_sdp("0.0.0.0", 9, ALL_FORMATS, "sendrecv")
        try:
            sdp = await self.client.offer(call_id, INT, placeholder, flags=self.flags)
        except NgTimeout:
            if self.fallback is None:
                raise
            log.warning(
                "rtpengine at %s:%d does not answer: this leg's media is in process", *self.client.address
            )
            return await self.fallback.open_session()
        session = RtpengineSession(self, call_id, (self.media_address, audio_port(sdp)))
        self.sessions.add(session)
        return session

    async def close(self) -> None:
        for session in list(self.sessions):
            await session.close()
        if self.fallback is not None:
            await self.fallback.close()
        await self.client.close()


def _conforms(session: RtpengineSession, backend: RtpengineBackend) -> tuple[MediaSession, MediaBackend]:
    """mypy checks here that the rtpengine implementation satisfies both protocols."""
    return session, backend
