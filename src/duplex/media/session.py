"""The seam between call control and media: what a controller may do with a media leg (``MediaSession``)
and where legs come from (``MediaBackend``). ``endpoint.RtpEndpoint``/``LocalMediaBackend`` implement it in
process; an rtpengine adapter (NG control protocol) can implement it out of process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from duplex.media.codecs import G711Codec
from duplex.media.events import MediaEvent
from duplex.media.offer_answer import NegotiatedMedia, SdpNegotiator
from duplex.media.recorder import CallRecorder
from duplex.media.stream import RtpStream, StreamStats

__all__ = ["AnsweringBackend", "MediaBackend", "MediaSession", "NegotiatingSession"]

Pcm = npt.NDArray[np.int16]
Addr = tuple[str, int]


class MediaSession(Protocol):
    """What a call controller may do with one media leg (rtpengine can implement this too).

    ``listeners`` are called with the leg's ``MediaEvent``s (DTMF received, RTCP, audio frames where the leg
    decodes them); an rtpengine leg forwards those of its in-process fallback endpoint while it is attached.
    """

    listeners: list[Callable[[MediaEvent], None]]

    @property
    def local_address(self) -> Addr: ...
    @property
    def codec(self) -> G711Codec:
        """The negotiated codec (PCMU until ``apply``)."""
        ...

    def apply(self, negotiated: NegotiatedMedia) -> None: ...
    def set_sending(self, enabled: bool) -> None:
        """Hold back (False) or release what this leg sends its SIP peer. Call control holds a leg back
        until the answer (RFC 3264 §6) and while the negotiated direction forbids sending."""
        ...

    def sent_stream(self) -> RtpStream | None:
        """The RTP stream this leg sends, when it is sent from this process (RTCP reports about it are read
        against it); None when another process (rtpengine) sends it."""
        ...

    def ignore_audio(self, ignore: bool = True) -> None:
        """Nothing uses the received audio for now: count packets, do not decode them."""
        ...

    async def play(self, frames: Iterable[Pcm]) -> None: ...
    async def play_payloads(self, payloads: Iterable[bytes]) -> None:
        """Send 20 ms payloads already encoded with ``codec``; returns when all are sent."""
        ...

    async def play_wav(self, path: str | Path) -> None: ...
    async def play_tts(self, text: str) -> None: ...
    def stop_playback(self) -> None: ...
    def record(self, path: str | Path, *, stereo: bool = False) -> CallRecorder: ...
    def stop_recording(self) -> None: ...
    def echo(self, enabled: bool = True) -> None: ...
    def bridge(self, other: MediaSession | None) -> None: ...
    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None: ...
    def flush_dtmf(self) -> None: ...
    async def collect_dtmf(
        self,
        max_digits: int,
        timeout: float,
        terminator: str | None = "#",
        inter_digit_timeout: float | None = None,
    ) -> str: ...
    def stats(self) -> StreamStats: ...

    # True when ``stats()`` is only final once ``close()`` returned (rtpengine takes its last counters there)
    stats_after_close: bool

    async def close(self) -> None: ...


class MediaBackend(Protocol):
    async def open_session(self) -> MediaSession: ...
    async def close(self) -> None: ...


@runtime_checkable
class AnsweringBackend(Protocol):
    """A backend whose sessions can start from the peer's offer (a browser's WebRTC INVITE: the answer's ICE
    and DTLS attributes come from a peer connection that took that offer first)."""

    async def open_answering_session(self, offer: str) -> MediaSession: ...


@runtime_checkable
class NegotiatingSession(Protocol):
    """A session that writes its own SDP (a WebRTC leg: ICE and DTLS attributes from its peer connection);
    the leg negotiates through ``negotiator`` instead of a plain RTP/AVP ``SdpNegotiator``."""

    def negotiator(self, session_id: int) -> SdpNegotiator: ...
