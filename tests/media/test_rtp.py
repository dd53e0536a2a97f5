"""RTP packets, RFC 3550 §5.1."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duplex.media.rtp import RtpPacket, is_rtcp, seq_add, seq_diff, seq_gt, ts_add, ts_diff, ts_gt

# V=2, P=0, X=0, CC=0, M=1, PT=0, seq=0x1234, ts=0xdeadbeef, ssrc=0x01020304, payload "ab"
MINIMAL = bytes.fromhex("80801234deadbeef01020304") + b"ab"


def test_parse_minimal_header_fields() -> None:
    p = RtpPacket.parse(MINIMAL)
    assert (p.version, p.marker, p.payload_type) == (2, True, 0)
    assert (p.sequence_number, p.timestamp, p.ssrc) == (0x1234, 0xDEADBEEF, 0x01020304)
    assert p.payload == b"ab"
    assert bytes(p) == MINIMAL


def test_csrc_extension_and_padding_round_trip() -> None:
    # CC=2, X=1 (profile 0xBEDE, one word), P=1 with 3 bytes of padding
    data = (
        bytes.fromhex("b2080001000000100000abcd")
        + bytes.fromhex("0000000100000002")
        + bytes.fromhex("bede000111223344")
        + b"xyz"
        + b"\x00\x00\x03"
    )
    p = RtpPacket.parse(data)
    assert p.csrc == (1, 2)
    assert p.extension_profile == 0xBEDE and p.extension == bytes.fromhex("11223344")
    assert p.padding == 3 and p.payload == b"xyz" and p.payload_type == 8 and not p.marker
    assert bytes(p) == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTP packet truncated: 0 bytes, header needs 12"),
        (MINIMAL[:11], "RTP packet truncated: 11 bytes, header needs 12"),
        (bytes([0x40]) + MINIMAL[1:], "RTP version 1 is not 2"),
        (bytes([0x82]) + MINIMAL[1:12] + b"1234", "RTP packet truncated: CSRC list needs 8 bytes"),
        (bytes([0x90]) + MINIMAL[1:12] + b"\xbe", "RTP packet truncated: header extension needs 4 bytes"),
        (
            bytes([0x90]) + MINIMAL[1:12] + bytes.fromhex("bede0002") + b"1234",
            "RTP packet truncated: header extension needs 8 bytes",
        ),  # fmt: skip
        (bytes([0xA0]) + MINIMAL[1:12] + b"ab\x00", "RTP padding length is zero"),
        (bytes([0xA0]) + MINIMAL[1:12] + b"ab\x09", "RTP padding length exceeds payload"),
    ],
)
def test_invalid_and_truncated_packets(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        RtpPacket.parse(data)
    assert str(exc.value) == message


def test_constructor_validates_ranges() -> None:
    with pytest.raises(ValueError, match="payload type 128"):
        RtpPacket(payload_type=128, sequence_number=0, timestamp=0, ssrc=0)
    with pytest.raises(ValueError, match="sequence number 65536"):
        RtpPacket(payload_type=0, sequence_number=65536, timestamp=0, ssrc=0)


@given(
    pt=st.integers(0, 127),
    seq=st.integers(0, 0xFFFF),
    ts=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    payload=st.binary(max_size=200),
    padding=st.integers(0, 255),
)
def test_round_trip_property(
    pt: int, seq: int, ts: int, ssrc: int, marker: bool, csrc: list[int], payload: bytes, padding: int
) -> None:
    p = RtpPacket(payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=ssrc, marker=marker,
                  csrc=tuple(csrc), payload=payload, padding=padding)  # fmt: skip
    assert RtpPacket.parse(bytes(p)) == p


@given(st.binary(max_size=64))
def test_parse_never_raises_anything_but_value_error(data: bytes) -> None:
    try:
        RtpPacket.parse(data)
    except ValueError:
        pass


def test_wraparound_helpers() -> None:
    assert seq_add(0xFFFF, 1) == 0
    assert seq_diff(0, 0xFFFF) == 1 and seq_diff(0xFFFF, 0) == -1
    assert seq_gt(2, 0xFFFE) and not seq_gt(0xFFFE, 2)
    assert ts_add(0xFFFFFFF0, 0x20) == 0x10
    assert ts_diff(0x10, 0xFFFFFFF0) == 0x20
    assert ts_gt(0, 0xFFFFFF60) and not ts_gt(0xFFFFFF60, 0)


def test_rtcp_demultiplexing_rfc5761() -> None:
    assert not is_rtcp(MINIMAL)
    assert is_rtcp(bytes([0x80, 200, 0, 6]))
    assert is_rtcp(bytes([0x81, 201, 0, 7]))
