"""The composition root of a node's call side: the SIP switch with its media backend, INVITE router and
applications.

`duplex.server` (and the tests that run a switch) build the switch here, so the router and the application
table are chosen in one place and passed down; nothing in the call layer imports them back.
"""

from __future__ import annotations

from typing import Any

from duplex.config import Settings
from duplex.media.session import MediaBackend
from duplex.services.calls.apps import APPLICATIONS, connecting
from duplex.services.calls.inbound_router import InboundRouter
from duplex.services.calls.switch import Switch
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_backend import RtpengineBackend
from duplex.services.media.rtpengine_client import parse_address
from duplex.services.media.webrtc import WebRtcBackend
from duplex.stores.call_store import TelephonyStore

__all__ = ["build_switch", "media_backend", "webrtc_backend"]


def _local_backend(settings: Settings) -> LocalMediaBackend:
    return LocalMediaBackend(
        "0.0.0.0" if settings.sip_host in ("", "0.0.0.0") else settings.sip_host,
        (settings.rtp_port_min, settings.rtp_port_max),
    )


def media_backend(settings: Settings) -> MediaBackend:
    """The backend ``settings.media_backend`` names: in-process RTP, or rtpengine legs whose IVR operations
    fall back to in-process endpoints (see `duplex.services.media.rtpengine_backend`)."""
    local = _local_backend(settings)
    if settings.media_backend == "rtpengine":
        return RtpengineBackend(parse_address(settings.media_rtpengine_ng), media_address=settings.public_ip,
                                fallback=local, stats_interval=settings.media_rtpengine_stats_interval)  # fmt: skip
    return local


def webrtc_backend(settings: Settings) -> MediaBackend:
    """Where browser legs get their media: aiortc in process (ICE host candidates on ``public_ip``)."""
    return WebRtcBackend(_local_backend(settings), media_address=settings.public_ip)


def build_switch(settings: Settings, store: TelephonyStore, **options: Any) -> Switch:
    """A `Switch` routing INVITEs to the demo applications, agents and trunks, with the media backend the
    settings name unless ``options`` give one; ``options`` go to `Switch`."""
    if "media" not in options:
        options["media"] = media_backend(settings)
    if "webrtc_media" not in options:
        options["webrtc_media"] = webrtc_backend(settings)
    return Switch(
        settings, store, invite_router=InboundRouter(APPLICATIONS, placeholder=connecting), **options
    )
