"""Voicemail demo (demo number 1002): answer, TTS greeting, beep, record the caller until BYE or 60 s.

The recording goes to ``<data_dir>/recordings/<call_id>.wav``; `Leg.record` stores the Recording row and the
``recording.saved`` event.
"""

from __future__ import annotations

from duplex.media.tones import beep
from duplex.services.calls.call import Leg

__all__ = ["GREETING", "voicemail_demo"]

GREETING = "Hello, you have reached the Duplex demo. Please leave a message after the beep."
MAX_SECONDS = 60.0


async def voicemail_demo(leg: Leg) -> None:
    await leg.answer()
    if not leg.is_up:
        return
    await leg.play(tts=GREETING)
    await leg.play(beep(1000.0, 300.0))
    path = leg.control.settings.data_dir / "recordings" / f"{leg.call.id}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    await leg.record(path, max_seconds=MAX_SECONDS)
    if leg.is_up:
        await leg.hangup("recording_complete")
