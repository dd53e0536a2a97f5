"""The composition root of a node's call side: the SIP switch with its media backend, INVITE router and
applications.

`duplex.server` (and the tests that run a switch) build the switch here, so the router and the application
table are chosen in one place and passed down; nothing in the call layer imports them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duplex.config import Settings
from duplex.media.session import MediaBackend
from duplex.services.calls.apps import APPLICATIONS
from duplex.services.calls.inbound_router import InboundRouter
from duplex.services.calls.switch import Switch
from duplex.services.contact_center import FEATURE_CODES, ContactCenter
from duplex.services.media.local_backend import LocalMediaBackend
from duplex.services.media.rtpengine_backend import RtpengineBackend
from duplex.services.media.rtpengine_client import parse_address
from duplex.services.media.rtpengine_webrtc import RtpengineWebRtcBackend
from duplex.services.media.webrtc import WebRtcBackend
from duplex.stores.call_store import TelephonyStore

__all__ = ["Node", "build_node", "build_switch", "media_backend", "webrtc_backend"]


def _local_backend(settings: Settings) -> LocalMediaBackend:
    return LocalMediaBackend(
        "0.0.0.0" if settings.sip_host in ("", "0.0.0.0") else settings.sip_host,
        (settings.rtp_port_min, settings.rtp_port_max),
    )


def _stats_interval(settings: Settings) -> float:
    """Seconds between an rtpengine leg's counter queries: the setting, else a quarter of the RTP timeout. An
    rtpengine leg's counters are what its last query said, and the RTP timeout hangs up a leg whose received
    packets stop growing: never queried, every call on rtpengine would end after ``rtp_timeout_seconds``."""
    if settings.media_rtpengine_stats_interval > 0 or settings.rtp_timeout_seconds <= 0:
        return settings.media_rtpengine_stats_interval
    return settings.rtp_timeout_seconds / 4


def media_backend(settings: Settings) -> MediaBackend:
    """The backend ``settings.media_backend`` names: in-process RTP, or rtpengine legs whose IVR operations
    fall back to in-process endpoints (see `duplex.services.media.rtpengine_backend`)."""
    local = _local_backend(settings)
    if settings.media_backend == "rtpengine":
        return RtpengineBackend(parse_address(settings.media_rtpengine_ng), media_address=settings.public_ip,
                                fallback=local, stats_interval=_stats_interval(settings),
                                inject_dtmf=settings.media_rtpengine_inject_dtmf)  # fmt: skip
    return local


def webrtc_backend(settings: Settings) -> MediaBackend:
    """Where browser legs get their media: rtpengine with ``media_backend = "rtpengine"`` (its ICE and
    DTLS-SRTP toward the browser, plain RTP inside; see `duplex.services.media.rtpengine_webrtc`) unless
    ``media_rtpengine_webrtc`` is off, else aiortc in process (ICE host candidates on ``public_ip``), which is
    also where a browser leg goes when rtpengine does not answer."""
    in_process = WebRtcBackend(_local_backend(settings), media_address=settings.public_ip)
    if settings.media_backend == "rtpengine" and settings.media_rtpengine_webrtc:
        ng = parse_address(settings.media_rtpengine_ng)
        return RtpengineWebRtcBackend(ng, media_address=settings.public_ip, fallback=_local_backend(settings),
                                      webrtc_fallback=in_process,
                                      stats_interval=_stats_interval(settings),
                                      inject_dtmf=settings.media_rtpengine_inject_dtmf)  # fmt: skip
    return in_process


@dataclass(frozen=True, slots=True)
class Node:
    """The call side of a node: the switch and the contact center (one live ACD) its flows and queues use.
    Start the switch first, then the center (`ContactCenter.start`)."""

    switch: Switch
    center: ContactCenter


def build_node(settings: Settings, store: TelephonyStore, **options: Any) -> Node:
    """A `Switch` routing INVITEs to the demo applications, the contact center (numbers with a flow or a
    queue, agents' feature codes), agents and trunks, with the media backend the settings name unless
    ``options`` give one; ``options`` go to `Switch`."""
    if "media" not in options:
        options["media"] = media_backend(settings)
    if "webrtc_media" not in options:
        options["webrtc_media"] = webrtc_backend(settings)
    center = ContactCenter(settings, store)
    router = InboundRouter(APPLICATIONS, placeholder=center.run_number, feature_codes=center.feature_code,
                           codes=FEATURE_CODES, on_agent_call=center.agent_placed_call)  # fmt: skip
    switch = Switch(settings, store, invite_router=router, **options)
    center.attach(switch)
    return Node(switch, center)


def build_switch(settings: Settings, store: TelephonyStore, **options: Any) -> Switch:
    """The switch of `build_node` (its contact center is not started: flows and queues wait for it)."""
    return build_node(settings, store, **options).switch
