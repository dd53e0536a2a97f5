"""The asyncio shell around `duplex.media.monitoring.MonitorMixer`: three in-process legs (caller, agent,
supervisor) mixed every 20 ms instead of the caller and agent being relayed to each other (taps in, a 20 ms
ticker, endless playback out: `leg_mix.LegMix`). ``stop()`` takes the taps and the playback away again; the
caller of ``stop`` re-bridges caller and agent (a plain relay) if the call goes on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from duplex.media.monitoring import MonitorMixer, MonitorMode
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.leg_mix import LegMix

__all__ = ["MonitorMix"]

Pcm = npt.NDArray[np.int16]


class MonitorMix(LegMix):
    """Mix ``caller``, ``agent`` and ``supervisor`` (in-process endpoints) in ``mode`` until ``stop()``."""

    def __init__(self, caller: RtpEndpoint, agent: RtpEndpoint, supervisor: RtpEndpoint,
                 mode: MonitorMode = MonitorMode.LISTEN) -> None:  # fmt: skip
        super().__init__((caller, agent, supervisor))
        self.mixer = MonitorMixer(mode)

    @property
    def mode(self) -> MonitorMode:
        return self.mixer.mode

    def set_mode(self, mode: MonitorMode) -> None:
        self.mixer.set_mode(mode)

    def mix(self, frames: list[Pcm | None]) -> list[Pcm]:
        caller, agent, supervisor = frames
        out = self.mixer.mix(caller, agent, supervisor)
        return [out.caller, out.agent, out.supervisor]
