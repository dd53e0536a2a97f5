"""Conference mixing: N legs in, N outputs, each leg hears everyone but itself ("N-1"), with whisper.

A *coach* (supervisor whisper) is heard only by the participant it coaches; the coach hears everyone.
Sums are done in int32 and saturated to int16.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ConferenceMixer", "mix_n_minus_1", "saturate"]

Pcm = npt.NDArray[np.int16]


def saturate(x: npt.ArrayLike) -> Pcm:
    return np.clip(x, -32768, 32767).astype(np.int16)


def mix_n_minus_1(frames: Sequence[Pcm]) -> list[Pcm]:
    """Each output i is the saturated sum of all inputs except input i."""
    if not frames:
        return []
    stack = np.array(frames, dtype=np.int32)
    out = np.clip(stack.sum(axis=0) - stack, -32768, 32767).astype(np.int16)
    return list(out)


@dataclass(slots=True)
class _Leg:
    coach_of: str | None = None  # a whispering coach: heard only by this leg


class ConferenceMixer:
    """Mix one 20 ms tick of a conference.

    ``mix({leg: pcm or None})`` returns ``{leg: pcm}`` for every registered leg; a leg without a frame this
    tick (no packet, muted) contributes silence but still gets its output.
    """

    def __init__(self, frame_samples: int = 160) -> None:
        self.frame_samples = frame_samples
        self._legs: dict[str, _Leg] = {}

    @property
    def legs(self) -> tuple[str, ...]:
        return tuple(self._legs)

    def add(self, leg: str, *, coach_of: str | None = None) -> None:
        """Add a participant, or a coach whose audio only ``coach_of`` hears."""
        if leg in self._legs:
            raise ValueError(f"leg {leg!r} is already in the conference")
        if coach_of is not None and coach_of not in self._legs:
            raise ValueError(f"coached leg {coach_of!r} is not in the conference")
        self._legs[leg] = _Leg(coach_of=coach_of)

    def remove(self, leg: str) -> None:
        self._legs.pop(leg, None)
        for other in self._legs.values():
            if other.coach_of == leg:
                other.coach_of = None  # an orphaned coach becomes a silent listener

    def set_whisper(self, leg: str, coach_of: str | None) -> None:
        """Switch a leg between whisper (``coach_of``=target) and full participant (``None``): barge-in."""
        self._legs[leg].coach_of = coach_of

    def mix(self, frames: Mapping[str, Pcm | None]) -> dict[str, Pcm]:
        if all(info.coach_of is None for info in self._legs.values()) and all(
            frames.get(leg) is not None for leg in self._legs
        ):  # fast path: plain N-1 conference with a frame from everyone
            legs = list(self._legs)
            return dict(zip(legs, mix_n_minus_1([frames[leg] for leg in legs]), strict=True))  # type: ignore[misc]
        n = self.frame_samples
        zero = np.zeros(n, dtype=np.int32)
        x = {
            leg: (zero if frames.get(leg) is None else np.asarray(frames[leg], dtype=np.int32))
            for leg in self._legs
        }
        talkers = [leg for leg, info in self._legs.items() if info.coach_of is None]
        total = np.sum([x[leg] for leg in talkers], axis=0, dtype=np.int32) if talkers else zero
        out: dict[str, Pcm] = {}
        for leg, info in self._legs.items():
            acc = total - x[leg] if info.coach_of is None else total.copy()
            for coach, cinfo in self._legs.items():
                if cinfo.coach_of == leg and coach != leg:
                    acc = acc + x[coach]
            out[leg] = saturate(acc)
        return out
