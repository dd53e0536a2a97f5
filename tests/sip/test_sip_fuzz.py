"""Hypothesis: only SipParseError escapes parse_message and StreamFramer, on noise and on mutated messages."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rfc_data import DATA, load

from duplex.sip import SipParseError, StreamFramer, parse_message

SEEDS = [load(p.stem) for p in sorted(DATA.glob("*.sip"))]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "dup"]))
        token = draw(
            st.sampled_from([b"\r\n", b" ", b";", b",", b"<", b">", b'"', b":", b"%", b"\x00", b"\xff", b"="])
        )
        if action == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            data[pos:pos] = token
        elif action == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 40))]
    return bytes(data)


def check_datagram(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError:
        return
    bytes(msg)  # whatever parses must serialise


def check_stream(data: bytes, step: int) -> None:
    framer = StreamFramer(max_message_size=4096)
    try:
        for i in range(0, len(data), step):
            framer.receive_data(data[i : i + step])
            while True:
                try:
                    if framer.next_message() is None:
                        break
                except SipParseError:
                    framer.next_message()  # sticky errors raise again; per-message errors continue
    except SipParseError:
        return


@FUZZ
@given(st.binary(max_size=2000))
def test_noise(data: bytes) -> None:
    check_datagram(data)
    check_stream(data, 7)


@FUZZ
@given(mutated(), st.integers(1, 64))
def test_mutated_messages(data: bytes, step: int) -> None:
    check_datagram(data)
    check_stream(data + data, step)
