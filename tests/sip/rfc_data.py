"""Load RFC example messages stored under tests/sip/data/ (written with LF, sent with CRLF)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"


def lf2crlf(data: bytes) -> bytes:
    """RFC 4475 §2: the messages are printed with LF line ends but "are to be sent with CRLF"."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def load(name: str) -> bytes:
    """The named RFC 4475 message as it goes on the wire."""
    return lf2crlf((DATA / f"{name}.sip").read_bytes())
