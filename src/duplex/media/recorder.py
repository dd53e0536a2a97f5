"""Call recording: mono per leg or stereo (left = caller, right = agent) with gap filling (sans-IO).

Frames are added with the time they belong to. A channel whose next frame starts more than
``gap_tolerance`` after the end of its previous frame gets silence inserted, and a channel that lags
the other by more than ``max_lag`` (on hold, no packets) is padded with silence, so both channels stay
aligned to wall time. Interleaved audio is written as soon as both channels have it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from duplex.media.events import AudioFrame
from duplex.media.wav import WavWriter

__all__ = ["CallRecorder", "ChannelTap"]

CALLER, AGENT = 0, 1


class CallRecorder:
    def __init__(
        self,
        path: str | Path,
        *,
        channels: int = 2,
        start: float,
        rate: int = 8000,
        gap_tolerance: float = 0.03,
        max_lag: float = 0.5,
        header_interval: float = 1.0,
    ) -> None:
        self.writer = WavWriter(path, channels=channels, rate=rate, header_interval=header_interval)
        self.channels = channels
        self.rate = rate
        self.start = start
        self.gap_tolerance = int(gap_tolerance * rate)
        self.max_lag = int(max_lag * rate)
        self._pending: list[list[npt.NDArray[np.int16]]] = [[] for _ in range(channels)]
        self._pending_len = [0] * channels
        self._position = [0] * channels  # samples placed on each channel's timeline
        self.gaps_filled = 0
        # Paused (card details being read out): frames are dropped, and the gap is filled with silence on
        # both channels when recording resumes, so the file keeps wall time and holds none of that audio.
        self.paused = False

    def add(self, pcm: npt.NDArray[np.int16], now: float, channel: int = 0) -> None:
        """Place one frame that started at ``now`` on ``channel`` (0 = left/caller, 1 = right/agent)."""
        if self.paused:
            return
        ideal = int(round((now - self.start) * self.rate))
        gap = ideal - self._position[channel]
        if gap > self.gap_tolerance:
            self._append(channel, np.zeros(gap, dtype=np.int16))
            self.gaps_filled += 1
        self._append(channel, np.asarray(pcm, dtype=np.int16))
        self._drain()

    def _append(self, channel: int, pcm: npt.NDArray[np.int16]) -> None:
        self._pending[channel].append(pcm)
        self._pending_len[channel] += len(pcm)
        self._position[channel] += len(pcm)

    def _take(self, channel: int, n: int) -> npt.NDArray[np.int16]:
        buf = np.concatenate(self._pending[channel]) if self._pending[channel] else np.zeros(0, np.int16)
        out, rest = buf[:n], buf[n:]
        self._pending[channel] = [rest] if len(rest) else []
        self._pending_len[channel] = len(rest)
        return out

    def _drain(self, final: bool = False) -> None:
        lens = self._pending_len
        if self.channels == 1:
            if lens[0]:
                self.writer.write(self._take(0, lens[0]))
            return
        lead = max(lens)
        for ch in range(2):
            if final or lead - lens[ch] > self.max_lag:
                pad = lead - lens[ch] if final else lead - lens[ch] - self.max_lag
                self._append(ch, np.zeros(pad, dtype=np.int16))
        n = min(self._pending_len)
        if n:
            self.writer.write(np.stack([self._take(0, n), self._take(1, n)], axis=1))

    def close(self) -> None:
        self._drain(final=True)
        self.writer.close()


class ChannelTap:
    """A ``FrameTap`` that records a leg's frames into one channel of a ``CallRecorder``."""

    def __init__(self, recorder: CallRecorder, channel: int) -> None:
        self.recorder = recorder
        self.channel = channel

    def on_frame(self, frame: AudioFrame) -> None:
        self.recorder.add(frame.pcm, frame.at, self.channel)
