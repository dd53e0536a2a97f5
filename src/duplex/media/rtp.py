"""RTP data packets (RFC 3550 §5.1) and sequence/timestamp arithmetic.

Wire objects follow the house rule: ``RtpPacket.parse(data)`` checks every length before unpacking and
raises ``ValueError`` with a precise message; ``bytes(packet)`` serialises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = [
    "RTP_HEADER_LENGTH",
    "RTP_VERSION",
    "RtpPacket",
    "is_rtcp",
    "seq_add",
    "seq_diff",
    "seq_gt",
    "ts_add",
    "ts_diff",
    "ts_gt",
]

RTP_VERSION = 2
RTP_HEADER_LENGTH = 12

_HEADER = struct.Struct("!BBHII")


def seq_add(a: int, b: int) -> int:
    """Add modulo 2**16 (RTP sequence numbers)."""
    return (a + b) & 0xFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` between two 16-bit sequence numbers, in [-32768, 32767]."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def seq_gt(a: int, b: int) -> bool:
    """True if sequence number ``a`` is newer than ``b`` (serial number arithmetic)."""
    return seq_diff(a, b) > 0


def ts_add(a: int, b: int) -> int:
    """Add modulo 2**32 (RTP timestamps)."""
    return (a + b) & 0xFFFFFFFF


def ts_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` between two 32-bit RTP timestamps."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


def ts_gt(a: int, b: int) -> bool:
    """True if timestamp ``a`` is later than ``b``."""
    return ts_diff(a, b) > 0


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4 demultiplexing: RTCP packet types 192-223 occupy the RTP marker+PT byte."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpPacket:
    """An RTP data packet.

    RFC 3550 §5.1: "The first twelve octets are present in every RTP packet, while the list of CSRC
    identifiers is present only when inserted by a mixer."
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding: int = 0
    version: int = field(default=RTP_VERSION)

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"RTP payload type {self.payload_type} out of range 0-127")
        if not 0 <= self.sequence_number <= 0xFFFF:
            raise ValueError(f"RTP sequence number {self.sequence_number} out of range")
        if not 0 <= self.timestamp <= 0xFFFFFFFF:
            raise ValueError(f"RTP timestamp {self.timestamp} out of range")
        if not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise ValueError(f"RTP SSRC {self.ssrc} out of range")
        if len(self.csrc) > 15:
            raise ValueError("RTP packet has more than 15 CSRCs")
        if len(self.extension) % 4:
            raise ValueError("RTP header extension length is not a multiple of 4")
        if not 0 <= self.padding <= 255:
            raise ValueError("RTP padding length out of range 0-255")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet.

        Raises:
            ValueError: with a message naming the first violated rule.
        """
        if len(data) < RTP_HEADER_LENGTH:
            raise ValueError(f"RTP packet truncated: {len(data)} bytes, header needs 12")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        version = b0 >> 6
        if version != RTP_VERSION:
            raise ValueError(f"RTP version {version} is not 2")
        has_padding = bool(b0 & 0x20)
        has_extension = bool(b0 & 0x10)
        cc = b0 & 0x0F
        pos = RTP_HEADER_LENGTH
        if len(data) < pos + 4 * cc:
            raise ValueError(f"RTP packet truncated: CSRC list needs {4 * cc} bytes")
        csrc = struct.unpack_from(f"!{cc}I", data, pos)
        pos += 4 * cc
        profile: int | None = None
        ext = b""
        if has_extension:
            if len(data) < pos + 4:
                raise ValueError("RTP packet truncated: header extension needs 4 bytes")
            profile, words = struct.unpack_from("!HH", data, pos)
            pos += 4
            if len(data) < pos + 4 * words:
                raise ValueError(f"RTP packet truncated: header extension needs {4 * words} bytes")
            ext = bytes(data[pos : pos + 4 * words])
            pos += 4 * words
        end = len(data)
        padding = 0
        if has_padding:
            padding = data[-1]
            if padding == 0:
                raise ValueError("RTP padding length is zero")
            if end - padding < pos:
                raise ValueError("RTP padding length exceeds payload")
            end -= padding
        return cls(
            version=version,
            marker=bool(b1 & 0x80),
            payload_type=b1 & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            csrc=tuple(csrc),
            extension_profile=profile,
            extension=ext,
            padding=padding,
            payload=bytes(data[pos:end]),
        )

    def __bytes__(self) -> bytes:
        has_ext = self.extension_profile is not None
        b0 = (self.version << 6) | (0x20 if self.padding else 0) | (0x10 if has_ext else 0) | len(self.csrc)
        b1 = (0x80 if self.marker else 0) | self.payload_type
        out = [_HEADER.pack(b0, b1, self.sequence_number, self.timestamp, self.ssrc)]
        out.extend(struct.pack("!I", c) for c in self.csrc)
        if has_ext:
            out.append(struct.pack("!HH", self.extension_profile, len(self.extension) // 4))
            out.append(self.extension)
        out.append(self.payload)
        if self.padding:
            out.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(out)
