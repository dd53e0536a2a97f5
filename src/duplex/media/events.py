"""Events produced by the media layer (immutable values) and the ``FrameTap`` hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from duplex.media.rtcp import RtcpPacket

__all__ = [
    "AudioFrame",
    "DtmfReceived",
    "FrameTap",
    "MediaEvent",
    "RtcpReceived",
    "SsrcChanged",
]

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AudioFrame:
    """One decoded 20 ms frame (160 int16 samples at 8 kHz) of a leg.

    ``concealed`` frames were synthesised by the jitter buffer (repeat or silence) for a missing packet.
    """

    pcm: Pcm
    timestamp: int
    at: float
    concealed: bool = False
    payload: bytes | None = None  # the encoded payload as received (for relaying without transcoding)
    payload_type: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived:
    digit: str
    at: float
    source: Literal["rfc4733", "inband"]
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpReceived:
    packets: tuple[RtcpPacket, ...]
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SsrcChanged:
    old: int | None
    new: int
    at: float


MediaEvent = AudioFrame | DtmfReceived | RtcpReceived | SsrcChanged


@runtime_checkable
class FrameTap(Protocol):
    """Receives every decoded audio frame of a leg, in order (the answering-machine detector, recorders,
    call-progress detection plug in here). Must be fast and must not block: it runs in the media loop."""

    def on_frame(self, frame: AudioFrame) -> None: ...
