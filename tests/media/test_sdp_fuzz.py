"""Hypothesis fuzzing of SDP parsing and offer/answer: whatever arrives in an INVITE body, only the
defined errors escape (SdpParseError -> 400, SdpNegotiationError -> 488), and whatever parses can be
serialised and parsed again to the same description."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duplex.media.offer_answer import SdpNegotiator
from duplex.media.sdp import SdpNegotiationError, SdpParseError, SessionDescription

DATA = Path(__file__).parent / "data"
SAMPLES = [p.read_bytes() for p in sorted(DATA.glob("*.sdp"))]
SDP_LINE_TYPES = b"vosicuepbztkamr"


def _check(body: bytes) -> None:
    try:
        desc = SessionDescription.parse(body)
    except SdpParseError:
        return
    again = SessionDescription.parse(bytes(desc))
    assert again == desc
    negotiator = SdpNegotiator(address="127.0.0.1", port=40000, session_id=1)
    try:
        answer, _media = negotiator.create_answer(desc)
    except SdpNegotiationError as exc:
        assert exc.status_code == 488
        return
    except SdpParseError:
        return  # attributes (a=rtpmap, a=fmtp) are read when negotiating; still the defined 400 error
    assert SessionDescription.parse(bytes(answer)) == answer


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, chunk in edits:
        if not buf:
            break
        i = pos % len(buf)
        if kind == 0:
            del buf[i : i + len(chunk) + 1]
        elif kind == 1:
            buf[i:i] = chunk
        else:
            buf[i : i + len(chunk)] = chunk
    return bytes(buf)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_the_parse_error(body: bytes) -> None:
    _check(body)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 10_000),
            st.one_of(
                st.binary(min_size=1, max_size=8),
                st.sampled_from([b"\r\n", b"=", b" ", b"m=audio x RTP/AVP", b"a=rtpmap:", b"c=IN IP4", b"0"]),
            ),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_real_offers_raise_only_defined_errors(
    sample: bytes, edits: list[tuple[int, int, bytes]]
) -> None:
    _check(_mutate(sample, edits))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(SDP_LINE_TYPES)), st.text(max_size=40)),
        max_size=12,
    )
)
def test_well_formed_lines_with_random_values(lines: list[tuple[int, str]]) -> None:
    body = "".join(f"{chr(kind)}={value}\r\n" for kind, value in lines).encode("utf-8", "surrogatepass")
    _check(b"v=0\r\n" + body)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(SDP_LINE_TYPES)), st.text(max_size=40)),
        max_size=8,
    )
)
def test_random_lines_after_a_media_section(lines: list[tuple[int, str]]) -> None:
    head = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n"
    body = "".join(f"{chr(kind)}={value}\r\n" for kind, value in lines).encode("utf-8", "surrogatepass")
    _check(head + body)


def test_session_lines_inside_media_are_refused() -> None:
    body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nt=1 2\r\n"
    with pytest.raises(SdpParseError, match="^SDP t= line is not allowed inside a media description$"):
        SessionDescription.parse(body)


def test_samples_are_present() -> None:
    assert len(SAMPLES) >= 3
