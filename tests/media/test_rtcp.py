"""RTCP SR/RR/SDES/BYE and compound packets, RFC 3550 §6.4-6.6."""

from __future__ import annotations

import pytest

from duplex.media.rtcp import (
    RtcpBye,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpReportBlock,
    RtcpSdes,
    RtcpSenderReport,
    RtcpUnknown,
    ntp_to_seconds,
    parse_compound,
    seconds_to_ntp,
    serialize_compound,
)

BLOCK = RtcpReportBlock(ssrc=0x11223344, fraction_lost=64, packets_lost=-2, highest_sequence=0x1FFFF,
                        jitter=37, lsr=0xAABBCCDD, dlsr=65536)  # fmt: skip


def test_report_block_wire_layout() -> None:
    raw = bytes(BLOCK)
    assert raw == bytes.fromhex("1122334440fffffe0001ffff00000025aabbccdd00010000")
    assert RtcpReportBlock.parse(raw) == BLOCK


def test_sender_report_round_trip_and_header() -> None:
    sr = RtcpSenderReport(ssrc=1, ntp_timestamp=seconds_to_ntp(1_700_000_000.5), rtp_timestamp=160,
                          packet_count=10, octet_count=1600, reports=(BLOCK,))  # fmt: skip
    raw = bytes(sr)
    # V=2 RC=1 PT=200 length = (28 + 24) / 4 - 1 = 12 words
    assert raw[:4] == bytes([0x81, 200, 0, 12])
    assert len(raw) == 52
    assert parse_compound(raw) == [sr]
    assert abs(ntp_to_seconds(sr.ntp_timestamp) - 1_700_000_000.5) < 1e-6


def test_compound_rr_sdes_bye_round_trip() -> None:
    packets: list[RtcpPacket] = [
        RtcpReceiverReport(ssrc=0xCAFEBABE, reports=(BLOCK,)),
        RtcpSdes.cname(0xCAFEBABE, "agent7@duplex"),
        RtcpBye(sources=(0xCAFEBABE,), reason="hangup"),
    ]
    raw = serialize_compound(packets)
    assert len(raw) % 4 == 0
    parsed = parse_compound(raw)
    assert parsed == packets
    sdes = parsed[1]
    assert isinstance(sdes, RtcpSdes) and sdes.get_cname(0xCAFEBABE) == "agent7@duplex"


def test_sdes_chunk_is_null_terminated_and_padded() -> None:
    raw = bytes(RtcpSdes.cname(1, "ab"))
    # chunk: SSRC(4) CNAME(1) len(1) "ab"(2) null item(1) = 9, padded to 12; length = 16/4 - 1 = 3
    assert raw == bytes([0x81, 202, 0, 3]) + bytes.fromhex("00000001") + b"\x01\x02ab" + bytes(4)


def test_unknown_types_are_kept_verbatim() -> None:
    app = bytes([0x80, 204, 0, 2]) + bytes.fromhex("00000001") + b"NAME"
    (pkt,) = parse_compound(app)
    assert isinstance(pkt, RtcpUnknown) and pkt.packet_type == 204
    assert bytes(pkt) == app


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\xc8", "RTCP packet truncated: 2 bytes, header needs 4"),
        (bytes([0x40, 200, 0, 0]), "RTCP version 1 is not 2"),
        (bytes([0x80, 200, 0, 6]) + bytes(8), "RTCP packet truncated: length field says 28 bytes"),
        (bytes([0x80, 200, 0, 1]) + bytes(4), "RTCP SR truncated: 4 bytes, sender info needs 24"),
        (bytes([0x81, 201, 0, 1]) + bytes(4), "RTCP RR truncated: 1 report blocks need 24 bytes"),
        (bytes([0x80, 201, 0, 0]), "RTCP RR truncated: 0 bytes, needs 4"),
        (bytes([0x81, 202, 0, 1]) + bytes.fromhex("00000001"), "RTCP SDES truncated: chunk not terminated"),
        (
            bytes([0x81, 202, 0, 2]) + bytes.fromhex("00000001") + b"\x01\x09ab",
            "RTCP SDES truncated: item exceeds packet",
        ),  # fmt: skip
        (bytes([0x82, 203, 0, 1]) + bytes(4), "RTCP BYE truncated: 2 sources need 8 bytes"),
        (bytes([0x81, 203, 0, 2]) + bytes(4) + b"\x09abc", "RTCP BYE truncated: reason exceeds packet"),
        (bytes([0xA0, 201, 0, 1]) + bytes(3) + b"\x09", "RTCP padding length invalid"),
        (bytes(RtcpReceiverReport(ssrc=1)) + b"\x80", "RTCP packet truncated: 1 bytes, header needs 4"),
    ],
)
def test_invalid_and_truncated(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_compound(data)
    assert str(exc.value) == message


def test_cumulative_lost_is_clamped_to_24_bits() -> None:
    block = RtcpReportBlock(ssrc=1, packets_lost=10_000_000)
    assert RtcpReportBlock.parse(bytes(block)).packets_lost == 0x7FFFFF
