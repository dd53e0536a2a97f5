"""A voicemail a caller left (a flow's voicemail node, or a queue's overflow to voicemail): recorded as
``voicemail.recorded`` and POSTed to the node's webhook.

The webhook gets one JSON POST (10 s timeout, no redirects) naming the call, the caller, the mailbox and the
recording (its path under the recordings folder and its length); the status it answered is in the event, so a
lost message shows in the record. Every event also reaches the signed event webhooks (`duplex.webhooks`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from duplex.ivr import Voicemail
from duplex.media.wav import read_wav_info
from duplex.services.calls.call import Leg

__all__ = ["WEBHOOK_TIMEOUT_SECONDS", "deliver_voicemail"]

log = logging.getLogger("duplex.services.contact_center.voicemail")

WEBHOOK_TIMEOUT_SECONDS = 10.0


async def deliver_voicemail(leg: Leg, command: Voicemail, path: Path) -> int | None:
    """Record the message's event and POST it to ``command.webhook``; returns the webhook's status."""
    try:
        info = read_wav_info(path)
        duration_ms = int(info.frames * 1000 / info.rate) if info.rate else 0
    except (OSError, ValueError):
        duration_ms = 0  # no file, or no audio written: the event still says a message was attempted
    relative = leg.control.recording_path(path)
    status: int | None = None
    if command.webhook:
        body = {
            "call_id": leg.call.id,
            "caller_id": leg.call.from_number,
            "called_number": leg.call.to_number,
            "mailbox": command.mailbox,
            "recording": {"path": relative, "duration_ms": duration_ms},
        }
        try:
            async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as client:
                response = await client.post(command.webhook, json=body)
            status = response.status_code
        except httpx.HTTPError as exc:
            log.warning("voicemail webhook %s failed: %s", command.webhook, exc)
    leg.emit("voicemail.recorded", {"mailbox": command.mailbox, "path": relative, "duration_ms": duration_ms,
                                    "webhook_status": status})  # fmt: skip
    return status
