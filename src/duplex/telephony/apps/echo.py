"""Echo test (demo number 1001): answer, beep, send the caller's audio back until they hang up."""

from __future__ import annotations

from duplex.media.tones import beep
from duplex.telephony.call import Leg

__all__ = ["echo"]


async def echo(leg: Leg) -> None:
    await leg.answer()
    if not leg.is_up or leg.media is None:
        return
    await leg.play(beep(1000.0, 200.0))
    if leg.media is not None:
        leg.media.echo(True)
    await leg.ended.wait()
