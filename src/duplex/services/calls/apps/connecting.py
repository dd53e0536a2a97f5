"""Placeholder for numbers routed to an IVR flow or a queue until the IVR (#4) and ACD land: answer, say that
the call is being connected, hang up."""

from __future__ import annotations

from duplex.services.calls.call import Leg

__all__ = ["PROMPT", "connecting"]

PROMPT = "Your call is being connected."


async def connecting(leg: Leg) -> None:
    await leg.answer()
    if not leg.is_up:
        return
    await leg.play(tts=PROMPT)
    if leg.is_up:
        await leg.hangup("ivr_not_available")
