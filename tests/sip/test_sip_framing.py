"""StreamFramer: Content-Length framing, keep-alives (RFC 5626 §3.5.1), size guard; whole and byte by byte."""

from __future__ import annotations

import pytest
from rfc_data import load

from duplex.sip import SipParseError, SipRequest, StreamFramer
from duplex.sip.message import SipMessage


def drain(framer: StreamFramer) -> list[SipMessage]:
    out = []
    while (msg := framer.next_message()) is not None:
        out.append(msg)
    return out


def feed(data: bytes, *, bytewise: bool) -> tuple[list[SipMessage], StreamFramer]:
    framer, out = StreamFramer(), []
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    for chunk in chunks:
        framer.receive_data(chunk)
        out += drain(framer)
    return out, framer


STREAM = b"\r\n\r\n" + load("esc01") + b"\r\n" + load("wsinv") + b"\r\n\r\n" + load("transports")


@pytest.mark.parametrize("bytewise", [False, True])
def test_messages_and_keepalives(bytewise: bool) -> None:
    msgs, framer = feed(STREAM, bytewise=bytewise)
    assert [m.call_id for m in msgs] == [
        "esc01.239409asdfakjkn23onasd0-3234",
        "wsinv.ndaksdj@192.0.2.1",
        "transports.kijh4akdnaqjkwendsasfdj",
    ]
    assert [len(m.body) for m in msgs] == [150, 150, 0]
    assert framer.pings_received == 2 and framer.pongs_received == 1
    assert framer.data_to_send() == b"\r\n\r\n" and framer.data_to_send() == b""
    assert framer.buffered == 0


@pytest.mark.parametrize("bytewise", [False, True])
def test_partial_body_waits(bytewise: bool) -> None:
    data = load("esc01")
    msgs, framer = feed(data[:-1], bytewise=bytewise)
    assert msgs == [] and framer.buffered == len(data) - 1
    framer.receive_data(data[-1:])
    (msg,) = drain(framer)
    assert isinstance(msg, SipRequest) and msg.body.endswith(b"LPC\r\n")


def test_missing_content_length_is_fatal_and_sticky() -> None:
    framer = StreamFramer()
    framer.receive_data(load("inv2543"))
    for _ in range(2):
        with pytest.raises(SipParseError) as info:
            framer.next_message()
        assert info.value.status_code == 400


def test_size_guard() -> None:
    framer = StreamFramer(max_message_size=100)
    framer.receive_data(load("esc01"))
    with pytest.raises(SipParseError) as info:
        framer.next_message()
    assert info.value.status_code == 513
    endless = StreamFramer(max_message_size=100)
    endless.receive_data(b"INVITE sip:a@b SIP/2.0\r\nX: " + b"y" * 200)
    with pytest.raises(SipParseError):
        endless.next_message()


def test_bad_message_is_consumed_and_stream_continues() -> None:
    framer = StreamFramer()
    framer.receive_data(load("mismatch01") + load("zeromf"))
    with pytest.raises(SipParseError):
        framer.next_message()
    (msg,) = drain(framer)
    assert msg.max_forwards == 0


def test_header_line_limit_is_a_framing_error() -> None:
    """A stream from an untrusted peer gets a limit on head lines: thousands of header lines cost tens of
    milliseconds to parse, so such a message closes the connection instead."""
    head = (
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@h>;tag=1\r\n"
        b"To: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
        + b"X-A: 1\r\n" * 50
        + b"Content-Length: 0\r\n\r\n"
    )
    framer = StreamFramer(max_headers=20)
    framer.receive_data(head)
    with pytest.raises(SipParseError) as error:
        framer.next_message()
    assert error.value.status_code == 513
    relaxed = StreamFramer(max_headers=100)
    relaxed.receive_data(head)
    assert relaxed.next_message() is not None
