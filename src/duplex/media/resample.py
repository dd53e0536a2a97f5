"""Band-limited resampling with numpy (windowed-sinc interpolation, no scipy)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["resample"]


def resample(pcm: npt.ArrayLike, src_rate: int, dst_rate: int, *, taps: int = 16) -> npt.NDArray[np.int16]:
    """Resample int16/float mono audio from ``src_rate`` to ``dst_rate``.

    Each output sample is a Blackman-windowed sinc sum over the input with cutoff at 0.95 x half the lower
    rate (so downsampling 22050 -> 8000 Hz is low-passed below 3.8 kHz, avoiding aliasing).
    ``taps`` is the kernel half-width counted in periods of the lower rate.
    """
    x = np.asarray(pcm, dtype=np.float64)
    if src_rate == dst_rate:
        return np.clip(np.round(x), -32768, 32767).astype(np.int16)
    n_out = int(len(x) * dst_rate // src_rate)
    cutoff = 0.95 * min(src_rate, dst_rate) / 2  # Hz
    half = int(np.ceil(taps * src_rate / min(src_rate, dst_rate)))  # in input samples
    offsets = np.arange(-half, half + 1)
    out = np.empty(n_out, dtype=np.float64)
    xp = np.concatenate([np.zeros(half + 1), x, np.zeros(half + 1)])
    chunk = 4096
    for start in range(0, n_out, chunk):
        n = np.arange(start, min(n_out, start + chunk))
        pos = n * (src_rate / dst_rate)  # position in input samples
        base = np.floor(pos).astype(np.int64)
        idx = base[:, None] + offsets[None, :]  # (chunk, taps)
        dt = (pos[:, None] - idx) / src_rate  # seconds
        u = (pos[:, None] - idx) / (half + 1)  # in (-1, 1)
        w = 0.42 + 0.5 * np.cos(np.pi * u) + 0.08 * np.cos(2 * np.pi * u)  # Blackman window
        h = 2 * cutoff / src_rate * np.sinc(2 * cutoff * dt) * w
        out[start : start + len(n)] = np.sum(xp[idx + half + 1] * h, axis=1)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)
