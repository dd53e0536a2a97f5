"""RTCP packets (RFC 3550 §6.4-6.6): SR, RR, SDES, BYE, and compound packets.

``parse_compound(data)`` splits a compound datagram into typed packets (unknown types are kept as
``RtcpUnknown`` so they can be forwarded); ``serialize_compound(packets)`` joins them again.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "RTCP_BYE",
    "RTCP_RR",
    "RTCP_SDES",
    "RTCP_SR",
    "RtcpBye",
    "RtcpPacket",
    "RtcpReceiverReport",
    "RtcpReportBlock",
    "RtcpSdes",
    "RtcpSenderReport",
    "RtcpUnknown",
    "SDES_CNAME",
    "ntp_to_seconds",
    "parse_compound",
    "seconds_to_ntp",
    "serialize_compound",
]

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
SDES_CNAME = 1
_NTP_EPOCH_OFFSET = 2208988800  # 1900-01-01 -> 1970-01-01


def seconds_to_ntp(t: float) -> int:
    """Unix time in seconds -> 64-bit NTP timestamp (RFC 3550 §4)."""
    return int((t + _NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_to_seconds(ntp: int) -> float:
    return ntp / (1 << 32) - _NTP_EPOCH_OFFSET


def _header(count: int, pt: int, body_len: int) -> bytes:
    return struct.pack("!BBH", 0x80 | count, pt, body_len // 4)


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpReportBlock:
    """RFC 3550 §6.4.1 reception report block (24 bytes)."""

    ssrc: int
    fraction_lost: int = 0
    packets_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    LENGTH = 24

    @classmethod
    def parse(cls, data: bytes) -> RtcpReportBlock:
        if len(data) < cls.LENGTH:
            raise ValueError(f"RTCP report block truncated: {len(data)} bytes, needs 24")
        ssrc, lost_word, hs, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:  # cumulative number of packets lost is a signed 24-bit integer
            lost -= 0x1000000
        return cls(
            ssrc=ssrc,
            fraction_lost=lost_word >> 24,
            packets_lost=lost,
            highest_sequence=hs,
            jitter=jitter,
            lsr=lsr,
            dlsr=dlsr,
        )

    def __bytes__(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.packets_lost)) & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (self.fraction_lost & 0xFF) << 24 | lost,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _parse_blocks(data: bytes, count: int, pos: int, what: str) -> tuple[RtcpReportBlock, ...]:
    if len(data) < pos + 24 * count:
        raise ValueError(f"RTCP {what} truncated: {count} report blocks need {24 * count} bytes")
    return tuple(RtcpReportBlock.parse(data[pos + 24 * i : pos + 24 * (i + 1)]) for i in range(count))


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpSenderReport:
    """RFC 3550 §6.4.1 SR: sender info plus reception report blocks."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[RtcpReportBlock, ...] = ()

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpSenderReport:
        if len(body) < 24:
            raise ValueError(f"RTCP SR truncated: {len(body)} bytes, sender info needs 24")
        ssrc, msw, lsw, rtp_ts, pc, oc = struct.unpack_from("!IIIIII", body)
        return cls(
            ssrc=ssrc,
            ntp_timestamp=(msw << 32) | lsw,
            rtp_timestamp=rtp_ts,
            packet_count=pc,
            octet_count=oc,
            reports=_parse_blocks(body, count, 24, "SR"),
        )

    def __bytes__(self) -> bytes:
        body = struct.pack(
            "!IIIIII",
            self.ssrc,
            self.ntp_timestamp >> 32,
            self.ntp_timestamp & 0xFFFFFFFF,
            self.rtp_timestamp,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
        ) + b"".join(bytes(r) for r in self.reports)
        return _header(len(self.reports), RTCP_SR, len(body)) + body


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpReceiverReport:
    """RFC 3550 §6.4.2 RR."""

    ssrc: int
    reports: tuple[RtcpReportBlock, ...] = ()

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpReceiverReport:
        if len(body) < 4:
            raise ValueError(f"RTCP RR truncated: {len(body)} bytes, needs 4")
        (ssrc,) = struct.unpack_from("!I", body)
        return cls(ssrc=ssrc, reports=_parse_blocks(body, count, 4, "RR"))

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(r) for r in self.reports)
        return _header(len(self.reports), RTCP_RR, len(body)) + body


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpSdes:
    """RFC 3550 §6.5 SDES. ``chunks`` maps each SSRC to its (item type, text) items."""

    chunks: tuple[tuple[int, tuple[tuple[int, bytes], ...]], ...]

    @classmethod
    def cname(cls, ssrc: int, cname: str) -> RtcpSdes:
        return cls(chunks=((ssrc, ((SDES_CNAME, cname.encode()),)),))

    def get_cname(self, ssrc: int) -> str | None:
        for chunk_ssrc, items in self.chunks:
            if chunk_ssrc == ssrc:
                for kind, value in items:
                    if kind == SDES_CNAME:
                        return value.decode("utf-8", "replace")
        return None

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpSdes:
        pos = 0
        chunks = []
        for _ in range(count):
            if len(body) < pos + 4:
                raise ValueError("RTCP SDES truncated: chunk needs an SSRC")
            (ssrc,) = struct.unpack_from("!I", body, pos)
            pos += 4
            items = []
            while True:
                if pos >= len(body):
                    raise ValueError("RTCP SDES truncated: chunk not terminated")
                kind = body[pos]
                if kind == 0:
                    pos = (pos + 4) & ~3  # skip the null item and pad to the next 32-bit boundary
                    break
                if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                    raise ValueError("RTCP SDES truncated: item exceeds packet")
                length = body[pos + 1]
                items.append((kind, bytes(body[pos + 2 : pos + 2 + length])))
                pos += 2 + length
            chunks.append((ssrc, tuple(items)))
        return cls(chunks=tuple(chunks))

    def __bytes__(self) -> bytes:
        body = b""
        for ssrc, items in self.chunks:
            chunk = struct.pack("!I", ssrc)
            for kind, value in items:
                if len(value) > 255:
                    raise ValueError("RTCP SDES item longer than 255 bytes")
                chunk += bytes([kind, len(value)]) + value
            chunk += b"\x00"
            chunk += bytes(-len(chunk) % 4)
            body += chunk
        return _header(len(self.chunks), RTCP_SDES, len(body)) + body


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpBye:
    """RFC 3550 §6.6 BYE with optional reason."""

    sources: tuple[int, ...]
    reason: str = ""

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpBye:
        if len(body) < 4 * count:
            raise ValueError(f"RTCP BYE truncated: {count} sources need {4 * count} bytes")
        sources = struct.unpack_from(f"!{count}I", body)
        reason = ""
        pos = 4 * count
        if pos < len(body):
            length = body[pos]
            if pos + 1 + length > len(body):
                raise ValueError("RTCP BYE truncated: reason exceeds packet")
            reason = body[pos + 1 : pos + 1 + length].decode("utf-8", "replace")
        return cls(sources=tuple(sources), reason=reason)

    def __bytes__(self) -> bytes:
        body = b"".join(struct.pack("!I", s) for s in self.sources)
        if self.reason:
            raw = self.reason.encode()[:255]
            body += bytes([len(raw)]) + raw
            body += bytes(-len(body) % 4)
        return _header(len(self.sources), RTCP_BYE, len(body)) + body


@dataclass(frozen=True, slots=True, kw_only=True)
class RtcpUnknown:
    """Any other RTCP packet type (APP, RTPFB, XR, ...), kept verbatim."""

    packet_type: int
    count: int
    body: bytes

    def __bytes__(self) -> bytes:
        return _header(self.count, self.packet_type, len(self.body)) + self.body


RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpSdes | RtcpBye | RtcpUnknown

_PARSERS: dict[int, Callable[[int, bytes], RtcpPacket]] = {
    RTCP_SR: RtcpSenderReport.parse_body,
    RTCP_RR: RtcpReceiverReport.parse_body,
    RTCP_SDES: RtcpSdes.parse_body,
    RTCP_BYE: RtcpBye.parse_body,
}


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Parse a (compound) RTCP datagram.

    Raises:
        ValueError: on the first malformed packet (RFC 3550 §A.2 validity checks).
    """
    if len(data) < 4:
        raise ValueError(f"RTCP packet truncated: {len(data)} bytes, header needs 4")
    packets: list[RtcpPacket] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise ValueError(f"RTCP packet truncated: {len(data) - pos} bytes, header needs 4")
        b0, pt, words = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            raise ValueError(f"RTCP version {b0 >> 6} is not 2")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise ValueError(f"RTCP packet truncated: length field says {4 + 4 * words} bytes")
        body = data[pos + 4 : end]
        if b0 & 0x20:
            if not body or body[-1] == 0 or body[-1] > len(body):
                raise ValueError("RTCP padding length invalid")
            body = body[: -body[-1]]
        count = b0 & 0x1F
        parser = _PARSERS.get(pt)
        if parser is not None:
            packets.append(parser(count, bytes(body)))
        else:
            packets.append(RtcpUnknown(packet_type=pt, count=count, body=bytes(body)))
        pos = end
    return packets


def serialize_compound(packets: Iterable[RtcpPacket] | Sequence[RtcpPacket]) -> bytes:
    return b"".join(bytes(p) for p in packets)
