"""The SDP Duplex hands rtpengine for each side of a leg, and a leg's counters from a ``query`` reply.

Sans-IO helpers of `duplex.services.media.rtpengine_backend`: each leg is one rtpengine call with two
monologues, ``ext`` (the SIP peer) and ``int`` (the inside, pointed at another leg or at Python).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from duplex.media.sdp import SdpConnection, SdpMedia, SdpOrigin, SessionDescription
from duplex.media.stream import StreamStats

__all__ = [
    "ALL_FORMATS",
    "EXT",
    "INT",
    "PEER_DIRECTION",
    "RTPMAP",
    "audio_port",
    "monologue_sdp",
    "stats_from_query",
]

EXT, INT = "ext", "int"
PEER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
RTPMAP = {"PCMU": "PCMU/8000", "PCMA": "PCMA/8000"}


def monologue_sdp(address: str, port: int, formats: Iterable[tuple[int, str]], direction: str) -> str:
    """One audio stream at ``address``:``port`` with ``formats`` (payload type, rtpmap) and ``direction``."""
    attrs: list[tuple[str, str | None]] = [("rtpmap", f"{pt} {enc}") for pt, enc in formats]
    attrs += [("fmtp", f"{pt} 0-16") for pt, enc in formats if enc.startswith("telephone-event")]
    attrs += [("ptime", "20"), (direction, None)]
    media = SdpMedia(port=port, formats=tuple(str(pt) for pt, _ in formats), attributes=tuple(attrs))
    desc = SessionDescription(origin=SdpOrigin(username="duplex", session_id=1, session_version=1,
                                               address=address if address != "0.0.0.0" else "127.0.0.1"),
                              session_name="duplex", connection=SdpConnection(address=address),
                              media=(media,))  # fmt: skip
    return str(desc)


ALL_FORMATS = ((0, "PCMU/8000"), (8, "PCMA/8000"), (101, "telephone-event/8000"))


def audio_port(sdp: str) -> int:
    """The port of the audio stream rtpengine put in its SDP."""
    desc = SessionDescription.parse(sdp)
    return next(m.port for m in desc.media if m.media == "audio")


def stream_counts(reply: Mapping[str, Any], tag: str) -> tuple[int, int]:
    """(packets, bytes) rtpengine received on ``tag``'s RTP stream."""
    medias = reply.get("tags", {}).get(tag, {}).get("medias", [])
    for media in medias:
        for stream in media.get("streams", []):
            if "RTP" in stream.get("flags", []):
                stats = stream.get("stats", {})
                return int(stats.get("packets", 0)), int(stats.get("bytes", 0))
    return 0, 0


def stats_from_query(reply: Mapping[str, Any]) -> StreamStats:
    """``StreamStats`` of one leg from its ``query`` reply: received = from the SIP peer (``ext``), sent =
    what reached the leg from the inside (``int``) and went on to the peer. Loss and jitter are not known."""
    received, _ = stream_counts(reply, EXT)
    sent, sent_octets = stream_counts(reply, INT)
    return StreamStats(packets_sent=sent, octets_sent=sent_octets, packets_received=received,
                       packets_expected=received, packets_lost=0, loss_ratio=0.0, jitter_ms=0.0, rtt_ms=None,
                       malformed=0, unknown_payload=0, late=0, duplicates=0, concealed=0, r_factor=0.0,
                       mos=0.0)  # fmt: skip
