"""Hang up answered legs whose far end stopped sending RTP (the rtptimeout of other PBXs).

A phone that lost power or network, or a caller whose sipp/softphone died without a BYE, otherwise leaves
a leg up forever: it holds a trunk channel and an agent, keeps its media timers running and never ends its
CDR. A leg counts as silent when its received-packet count has not moved for ``timeout`` seconds while its
negotiated direction says the far end should be sending (a leg on hold with ``inactive``/``sendonly`` from
the far end is exempt). Sans-IO: ``check(now, legs)`` returns the legs to hang up; the switch's
housekeeping (`housekeeping.Housekeeping`) calls it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from duplex.services.calls.call import Leg, LegState

__all__ = ["RtpWatchdog"]


@dataclass(slots=True)
class _Seen:
    packets: int
    since: float


class RtpWatchdog:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._seen: dict[str, _Seen] = {}

    def check(self, now: float, legs: Iterable[Leg]) -> list[Leg]:
        """Legs silent for ``timeout`` seconds (each returned once); forgets legs no longer given."""
        silent: list[Leg] = []
        seen: dict[str, _Seen] = {}
        for leg in legs:
            negotiated = leg.negotiated
            if (
                leg.state is not LegState.ANSWERED
                or leg.media is None
                or negotiated is None
                or not negotiated.receive_enabled
            ):
                continue
            packets = leg.media.stats().packets_received
            last = self._seen.get(leg.id)
            if last is None or last.packets != packets:
                seen[leg.id] = _Seen(packets, now)
            elif now - last.since >= self.timeout:
                silent.append(leg)
            else:
                seen[leg.id] = last
        self._seen = seen
        return silent
