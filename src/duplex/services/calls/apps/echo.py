"""Echo test (demo number 1001): answer, beep, send the caller's audio back until they hang up.

Cheap per call: the beep goes out as payloads encoded once per codec, what the caller sends meanwhile is only
counted (nothing uses it), and from the end of the beep the leg relays its packets back re-headered, with no
jitter buffer, decoding or pacing (`RtpEndpoint.echo`).
"""

from __future__ import annotations

from duplex.media.tones import encoded_beep
from duplex.services.calls.call import Leg

__all__ = ["echo"]


async def echo(leg: Leg) -> None:
    await leg.answer()
    media = leg.media
    if not leg.is_up or media is None:
        return
    media.ignore_audio()  # what the caller says during the beep is not echoed: do not decode it
    await media.play_payloads(encoded_beep(media.codec))  # ends early if the leg closes
    if leg.media is not None and leg.is_up:
        leg.media.echo(True)
    await leg.ended.wait()
