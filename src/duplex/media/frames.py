"""20 ms frames of 8 kHz audio: what a leg sends every tick and what it plays a prompt in."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

__all__ = ["FRAME", "PTIME", "split_frames"]

Pcm = npt.NDArray[np.int16]
FRAME = 160  # samples in one frame
PTIME = 0.02  # seconds of one frame


def split_frames(pcm: Pcm, frame: int = FRAME) -> Iterator[Pcm]:
    """Cut PCM into 20 ms frames, zero-padding the last one."""
    for i in range(0, len(pcm), frame):
        chunk = pcm[i : i + frame]
        if len(chunk) < frame:
            chunk = np.concatenate([chunk, np.zeros(frame - len(chunk), dtype=np.int16)])
        yield chunk
