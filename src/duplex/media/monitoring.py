"""Who hears whom while a supervisor monitors a bridged call: listen, whisper and barge on one mixer.

Three parties: the ``caller`` (the customer's leg), the ``agent`` and the ``supervisor``. The routing of
each mode is the `ConferenceMixer`'s, so the rules live in one place:

* listen: the supervisor hears caller and agent; nobody hears the supervisor (their frame is dropped);
* whisper: the supervisor is a coach of the agent (only the agent hears them); the caller does not;
* barge: the supervisor is a full participant; everyone hears everyone but themselves.

Caller and agent always hear each other. The mode changes between two ticks, without touching the legs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from duplex.media.mixer import ConferenceMixer

__all__ = ["CALLER", "MonitorMixer", "MonitorMode", "MonitorOutputs", "SUPERVISOR", "AGENT"]

Pcm = npt.NDArray[np.int16]
CALLER, AGENT, SUPERVISOR = "caller", "agent", "supervisor"


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


@dataclass(frozen=True, slots=True)
class MonitorOutputs:
    """One 20 ms tick of what each party is sent."""

    caller: Pcm
    agent: Pcm
    supervisor: Pcm


class MonitorMixer:
    """The mixer of one monitored call: ``mix(caller, agent, supervisor)`` once per 20 ms tick, each input a
    frame of 160 samples or None (nothing received this tick: silence)."""

    def __init__(self, mode: MonitorMode = MonitorMode.LISTEN, frame_samples: int = 160) -> None:
        self._mixer = ConferenceMixer(frame_samples)
        self._mixer.add(CALLER)
        self._mixer.add(AGENT)
        self._mixer.add(SUPERVISOR)
        self.mode = mode
        self.set_mode(mode)

    def set_mode(self, mode: MonitorMode) -> None:
        self.mode = MonitorMode(mode)
        self._mixer.set_whisper(SUPERVISOR, AGENT if self.mode is MonitorMode.WHISPER else None)

    def mix(self, caller: Pcm | None, agent: Pcm | None, supervisor: Pcm | None) -> MonitorOutputs:
        heard = None if self.mode is MonitorMode.LISTEN else supervisor  # a listener's microphone is cut
        out = self._mixer.mix({CALLER: caller, AGENT: agent, SUPERVISOR: heard})
        return MonitorOutputs(caller=out[CALLER], agent=out[AGENT], supervisor=out[SUPERVISOR])
