"""G.711 PCMU (µ-law) and PCMA (A-law), bit-exact with the ITU-T G.191 reference implementation of G.711.

Lookup tables are computed at import from the segment formulas of G.711 (tables 1a/2a): encode tables
have 65536 entries indexed by the 16-bit sample viewed as uint16, decode tables have 256 entries.
Linear frames are numpy ``int16`` arrays; 160 samples are 20 ms at 8 kHz.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "PCMA",
    "PCMU",
    "G711Codec",
    "alaw_decode",
    "alaw_encode",
    "ulaw_decode",
    "ulaw_encode",
]

Pcm = npt.NDArray[np.int16]

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    # ITU-T G.191 (STL) ulaw_compress: 14 MSBs, one's complement for negative samples, bias 33,
    # magnitude limited to 0x1FFF. (Sun's/audioop's lin2ulaw negates in two's complement instead and so
    # differs by one code for some negative inputs.)
    x = np.arange(-32768, 32768, dtype=np.int32)
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.where(x < 0, ~x, x) >> 2, 0x1FFF - 33) + 33
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")
    code = (seg << 4) | ((mag >> (seg + 1)) & 0x0F)
    out = (code ^ mask).astype(np.uint8)
    return np.roll(out, -32768)  # index by the uint16 view: 0..32767 then -32768..-1


def _build_ulaw_decode() -> Pcm:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    lin = np.arange(-32768, 32768, dtype=np.int32) >> 3  # 13-bit domain
    mask = np.where(lin >= 0, 0xD5, 0x55)
    mag = np.where(lin >= 0, lin, -lin - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    mant = np.where(seg < 2, mag >> 1, mag >> np.maximum(seg, 1)) & 0x0F
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | mant)
    out = (code ^ mask).astype(np.uint8)
    return np.roll(out, -32768)


def _build_alaw_decode() -> Pcm:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ULAW_ENC: Final = _build_ulaw_encode()
_ULAW_DEC: Final = _build_ulaw_decode()
_ALAW_ENC: Final = _build_alaw_encode()
_ALAW_DEC: Final = _build_alaw_decode()


def _as_pcm(pcm: npt.ArrayLike) -> Pcm:
    arr = np.asarray(pcm)
    if arr.dtype != np.int16:
        raise ValueError(f"G.711 encoder expects int16 samples, got {arr.dtype}")
    return arr


def ulaw_encode(pcm: npt.ArrayLike) -> bytes:
    """int16 samples -> µ-law bytes."""
    return _ULAW_ENC[_as_pcm(pcm).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes) -> Pcm:
    """µ-law bytes -> int16 samples."""
    return _ULAW_DEC[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(pcm: npt.ArrayLike) -> bytes:
    """int16 samples -> A-law bytes."""
    return _ALAW_ENC[_as_pcm(pcm).view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> Pcm:
    """A-law bytes -> int16 samples."""
    return _ALAW_DEC[np.frombuffer(data, dtype=np.uint8)]


class G711Codec:
    """A G.711 variant as used by the RTP stream (static payload type, 8 kHz, 1 byte per sample)."""

    __slots__ = ("name", "payload_type", "_enc", "_dec", "silence_byte")

    clock_rate: Final = 8000

    def __init__(self, name: str, payload_type: int, enc: npt.NDArray[np.uint8], dec: Pcm) -> None:
        self.name = name
        self.payload_type = payload_type
        self._enc = enc
        self._dec = dec
        self.silence_byte = int(enc[0])

    def encode(self, pcm: npt.ArrayLike) -> bytes:
        return self._enc[_as_pcm(pcm).view(np.uint16)].tobytes()

    def decode(self, data: bytes) -> Pcm:
        return self._dec[np.frombuffer(data, dtype=np.uint8)]

    def __repr__(self) -> str:
        return f"G711Codec({self.name}/{self.payload_type})"


PCMU: Final = G711Codec("PCMU", 0, _ULAW_ENC, _ULAW_DEC)
PCMA: Final = G711Codec("PCMA", 8, _ALAW_ENC, _ALAW_DEC)
