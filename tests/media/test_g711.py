"""G.711 µ-law/A-law bit-exactness (ITU-T G.711 tables 1a/2a)."""

from __future__ import annotations

import numpy as np
import pytest

from duplex.media.codecs import PCMA, PCMU, get_codec
from duplex.media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

ALL = np.arange(-32768, 32768, dtype=np.int16)


def ref_ulaw(sample: int) -> int:
    """Scalar µ-law per G.711/G.191: 14-bit magnitude (one's complement for negatives), bias 33,
    8 segments of 16 steps, code bits inverted, sign bit 1 for positive."""
    mag = ((~sample if sample < 0 else sample) >> 2) + 33
    mag = min(mag, 0x1FFF)
    seg = mag.bit_length() - 6  # segment 0 covers 33..63
    code = (seg << 4) | ((mag >> (seg + 1)) & 0x0F)
    return (code ^ 0x7F) | (0x80 if sample >= 0 else 0)


def ref_alaw(sample: int) -> int:
    """Scalar A-law per G.711: 13-bit values, even bits inverted (XOR 0x55)."""
    x = sample >> 3
    sign = 0x80 if x >= 0 else 0x00
    mag = x if x >= 0 else -x - 1
    if mag < 32:
        code = mag >> 1
    else:
        seg = next((s for s in range(1, 8) if mag < (32 << s)), None)
        code = 0x7F if seg is None else (seg << 4) | ((mag >> seg) & 0x0F)
    return (sign | code) ^ 0x55


@pytest.mark.parametrize(
    ("linear", "ulaw", "alaw"),
    [(0, 0xFF, 0xD5), (-1, 0x7F, 0x55), (32767, 0x80, 0xAA), (-32768, 0x00, 0x2A), (1000, 0xCE, 0xFA)],
)
def test_standard_table_entries(linear: int, ulaw: int, alaw: int) -> None:
    pcm = np.array([linear], dtype=np.int16)
    assert ulaw_encode(pcm) == bytes([ulaw])
    assert alaw_encode(pcm) == bytes([alaw])


def test_decode_reference_values() -> None:
    assert ulaw_decode(bytes([0x00, 0x80, 0xFF, 0x7F])).tolist() == [-32124, 32124, 0, 0]
    assert alaw_decode(bytes([0x2A, 0xAA, 0xD5, 0x55])).tolist() == [-32256, 32256, 8, -8]


def test_encoders_match_scalar_reference_for_every_16_bit_input() -> None:
    u = np.frombuffer(ulaw_encode(ALL), dtype=np.uint8)
    a = np.frombuffer(alaw_encode(ALL), dtype=np.uint8)
    for i in range(65536):
        s = int(ALL[i])
        assert u[i] == ref_ulaw(s), s
        assert a[i] == ref_alaw(s), s


def test_every_code_round_trips() -> None:
    codes = bytes(range(256))
    assert ulaw_encode(ulaw_decode(codes)) == codes.replace(b"\x7f", b"\xff")  # "-0" decodes to 0 -> 0xFF
    assert alaw_encode(alaw_decode(codes)) == codes


def test_ulaw_is_symmetric_under_ones_complement() -> None:
    """G.191 encodes a negative x like ~x with the sign bit cleared (Sun's/sox's encoder does not)."""
    ours = np.frombuffer(ulaw_encode(ALL), dtype=np.uint8)
    assert np.array_equal(ours[:32768] | 0x80, ours[32768:][::-1])


def test_codec_objects() -> None:
    assert get_codec("pcmu") is PCMU and PCMU.payload_type == 0 and PCMA.payload_type == 8
    frame = (np.sin(np.arange(160) / 5) * 10000).astype(np.int16)
    assert len(PCMU.encode(frame)) == 160
    err = np.abs(PCMA.decode(PCMA.encode(frame)).astype(int) - frame).max()
    assert err < 400  # quantisation step at 10000 is 256 for A-law, so half a step plus rounding
    with pytest.raises(ValueError, match="int16"):
        PCMU.encode(frame.astype(np.float32))
