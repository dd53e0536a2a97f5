"""What a leg sends instead of silence: one prompt at a time, PCM frames or payloads already encoded for
the leg's codec. A new prompt (or ``stop``) replaces the one playing; ``play`` returns when its last frame
was taken or when it was replaced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

__all__ = ["Playback"]

Pcm = npt.NDArray[np.int16]


class Playback:
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake  # tells the leg's pacer there is something to send
        self._source: Iterator[Pcm | bytes] | None = None
        self._done: asyncio.Future[None] | None = None

    @property
    def active(self) -> bool:
        return self._source is not None

    async def play(self, source: Iterator[Pcm | bytes]) -> None:
        self.stop()
        self._source = source
        self._done = asyncio.get_running_loop().create_future()
        self._wake()
        await self._done

    def next_frame(self) -> Pcm | bytes | None:
        """The prompt's next frame; None when there is no prompt or it just ended."""
        if self._source is None:
            return None
        frame = next(self._source, None)
        if frame is None:
            self.stop()
        return frame

    def stop(self) -> None:
        self._source = None
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
