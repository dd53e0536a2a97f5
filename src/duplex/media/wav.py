"""WAV files: a crash-tolerant streaming writer and a forgiving reader that returns 8 kHz mono int16.

``WavWriter`` writes the RIFF header first and rewrites its two size fields every ``header_interval``
seconds of audio (after a flush), so a file cut off by a crash is valid up to the last rewrite and
readers that trust the data size lose at most that interval; ``read_wav`` itself also accepts a data
chunk whose size field runs past the end of the file (it reads what is there).
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from duplex.media.codecs.g711 import alaw_decode, ulaw_decode
from duplex.media.resample import resample

__all__ = ["WavInfo", "WavWriter", "read_wav", "read_wav_info"]

Pcm = npt.NDArray[np.int16]
_FMT_PCM, _FMT_FLOAT, _FMT_ALAW, _FMT_ULAW, _FMT_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def _header(channels: int, rate: int, data_bytes: int) -> bytes:
    block = 2 * channels
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, _FMT_PCM, channels, rate, rate * block, block, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class WavWriter:
    """Streams 16-bit PCM frames to ``path`` (mono, or stereo with interleaved ``(n, 2)`` arrays)."""

    def __init__(
        self, path: str | Path, *, channels: int = 1, rate: int = 8000, header_interval: float = 1.0
    ):
        if channels not in (1, 2):
            raise ValueError("WavWriter supports 1 or 2 channels")
        self.path = Path(path)
        self.channels = channels
        self.rate = rate
        self._fh: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(_header(channels, rate, 0))
        self._fh.flush()
        self.frames_written = 0  # sample frames (one sample per channel)
        self._header_every = max(1, int(header_interval * rate))
        self._since_header = 0

    @property
    def duration(self) -> float:
        return self.frames_written / self.rate

    def write(self, pcm: npt.ArrayLike) -> None:
        """Append samples: shape ``(n,)`` for mono, ``(n, 2)`` for stereo, dtype int16."""
        if self._fh is None:
            raise ValueError("WAV writer is closed")
        arr = np.asarray(pcm)
        if arr.dtype != np.int16:
            raise ValueError(f"WAV writer expects int16 samples, got {arr.dtype}")
        if (self.channels == 1 and arr.ndim != 1) or (self.channels == 2 and arr.shape[1:] != (2,)):
            raise ValueError(f"WAV writer with {self.channels} channel(s) got shape {arr.shape}")
        self._fh.write(arr.astype("<i2", copy=False).tobytes())
        self.frames_written += arr.shape[0]
        self._since_header += arr.shape[0]
        if self._since_header >= self._header_every:
            self.sync()

    def sync(self) -> None:
        """Flush data, then rewrite the RIFF and data sizes to match what is on disk."""
        if self._fh is None:
            return
        self._fh.flush()
        data_bytes = self.frames_written * 2 * self.channels
        self._fh.seek(4)
        self._fh.write(struct.pack("<I", 36 + data_bytes))
        self._fh.seek(40)
        self._fh.write(struct.pack("<I", data_bytes))
        self._fh.seek(0, 2)
        self._fh.flush()
        self._since_header = 0

    def close(self) -> None:
        if self._fh is None:
            return
        self.sync()
        self._fh.close()
        self._fh = None

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class WavInfo:
    __slots__ = ("format", "channels", "rate", "bits", "data")

    def __init__(self, fmt: int, channels: int, rate: int, bits: int, data: bytes) -> None:
        self.format, self.channels, self.rate, self.bits, self.data = fmt, channels, rate, bits, data

    @property
    def frames(self) -> int:
        return len(self.data) // max(1, self.channels * self.bits // 8)


def read_wav_info(path: str | Path) -> WavInfo:
    """Parse the RIFF chunks of a WAV file.

    Raises:
        ValueError: not a RIFF/WAVE file, or no ``fmt ``/``data`` chunk.
    """
    raw = Path(path).read_bytes()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise ValueError(f"{path}: fmt chunk truncated")
            tag, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _FMT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise ValueError(f"{path}: data chunk before fmt chunk")
            if size in (0, 0xFFFFFFFF) or pos + 8 + size > len(raw):
                body = raw[pos + 8 :]  # streaming/crashed writer: take everything that is there
            return WavInfo(*fmt, data=body[: len(body) - len(body) % max(1, fmt[1] * fmt[3] // 8)])
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def read_wav(path: str | Path, *, rate: int = 8000) -> Pcm:
    """Read a WAV (PCM 8/16/24/32-bit, float, A-law, µ-law; any rate/channels) as mono int16 at ``rate``."""
    info = read_wav_info(path)
    samples: npt.NDArray[np.float64]
    if info.format == _FMT_PCM and info.bits == 16:
        samples = np.frombuffer(info.data, dtype="<i2").astype(np.float64)
    elif info.format == _FMT_PCM and info.bits == 8:
        samples = (np.frombuffer(info.data, dtype=np.uint8).astype(np.float64) - 128) * 256
    elif info.format == _FMT_PCM and info.bits == 24:
        b = np.frombuffer(info.data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8
        samples = (v >> 16).astype(np.float64)
    elif info.format == _FMT_PCM and info.bits == 32:
        samples = (np.frombuffer(info.data, dtype="<i4") >> 16).astype(np.float64)
    elif info.format == _FMT_FLOAT and info.bits == 32:
        samples = np.frombuffer(info.data, dtype="<f4").astype(np.float64) * 32767
    elif info.format == _FMT_ULAW:
        samples = ulaw_decode(info.data).astype(np.float64)
    elif info.format == _FMT_ALAW:
        samples = alaw_decode(info.data).astype(np.float64)
    else:
        raise ValueError(f"{path}: unsupported WAV format {info.format} with {info.bits} bits")
    if info.channels > 1:
        samples = (
            samples[: len(samples) - len(samples) % info.channels].reshape(-1, info.channels).mean(axis=1)
        )
    return resample(samples, info.rate, rate)
