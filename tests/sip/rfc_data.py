"""Load RFC example messages stored under tests/sip/data/ (written with LF, sent with CRLF)."""

from __future__ import annotations

import re
from pathlib import Path

DATA = Path(__file__).parent / "data"


def lf2crlf(data: bytes) -> bytes:
    """RFC 4475 §2: the messages are printed with LF line ends but "are to be sent with CRLF"."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


_HEX = re.compile(rb"<hex>(.*?)</hex>", re.DOTALL)


def unhex(data: bytes) -> bytes:
    """RFC 4475 §2.2: "<hex>" ... "</hex>" encloses the hex form of bytes that cannot be printed.

    Line breaks inside the tags only wrap the hex text; they are not part of the message.
    """
    return _HEX.sub(lambda m: bytes.fromhex(m.group(1).decode("ascii")), data)


def load(name: str) -> bytes:
    """The named RFC 4475 message as it goes on the wire (CRLF first, so binary parts keep their bytes)."""
    return unhex(lf2crlf((DATA / f"{name}.sip").read_bytes()))
