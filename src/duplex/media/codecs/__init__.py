"""Audio codecs. Only G.711 is built in; all share the ``encode(pcm) -> bytes`` / ``decode(bytes)`` shape."""

from __future__ import annotations

from duplex.media.codecs.g711 import PCMA, PCMU, G711Codec

__all__ = ["CODECS_BY_NAME", "CODECS_BY_PT", "PCMA", "PCMU", "G711Codec", "get_codec"]

CODECS_BY_NAME: dict[str, G711Codec] = {"PCMU": PCMU, "PCMA": PCMA}
CODECS_BY_PT: dict[int, G711Codec] = {0: PCMU, 8: PCMA}


def get_codec(name: str) -> G711Codec:
    """Codec by SDP encoding name (case-insensitive). Raises KeyError if unsupported."""
    return CODECS_BY_NAME[name.upper()]
