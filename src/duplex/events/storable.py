"""Text every database can store, for event data taken from the outside world.

SIP header text is decoded with ``surrogateescape`` so that a byte that is not UTF-8 (a Latin-1 ``é`` in a
From user) survives a round trip to the wire; such text, a lone surrogate from JSON (``"\\ud800"``) or a NUL
character cannot be encoded for SQLite or PostgreSQL (PostgreSQL text and JSONB refuse NUL) and used to fail the
whole insert, losing the event. `storable` escapes exactly those characters as Python-style backslash escapes
(``\\xe9``, ``\\ud800``, ``\\x00``): what was received stays readable and recoverable, everything else is
unchanged.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["storable"]

# surrogateescape maps byte 0x80..0xFF to U+DC80..U+DCFF; any other surrogate is a lone one
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the original byte
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def storable(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with unstorable characters escaped."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return _UNSTORABLE.sub(_escape, value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
