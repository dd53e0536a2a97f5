"""The ng control protocol codec (sans IO): bencode, messages, cookie matching, retransmission as data.

Byte-exact cases come from rtpengine's docs/ng_control_protocol.md ("5323_1 d7:command4:pinge") and the
bencode examples of BitTorrent's BEP 3 (https://www.bittorrent.org/beps/bep_0003.html#bencoding).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duplex.media import rtpengine_ng as ng

# -- bencode -----------------------------------------------------------------------------------------------

BEP3 = [
    (b"4:spam", "spam"),
    (b"i3e", 3),
    (b"i-3e", -3),
    (b"i0e", 0),
    (b"l4:spam4:eggse", ["spam", "eggs"]),
    (b"d3:cow3:moo4:spam4:eggse", {"cow": "moo", "spam": "eggs"}),
    (b"d4:spaml1:a1:bee", {"spam": ["a", "b"]}),
    (b"0:", ""),
]


@pytest.mark.parametrize(("wire", "value"), BEP3)
def test_bencode_bep3_examples(wire: bytes, value: object) -> None:
    assert ng.bencode(value) == wire  # type: ignore[arg-type]
    assert ng.bdecode(wire) == value


def test_bencode_sorts_dictionary_keys_and_counts_utf8_bytes() -> None:
    assert ng.bencode({"spam": "eggs", "cow": "moo"}) == b"d3:cow3:moo4:spam4:eggse"
    assert ng.bencode("é") == b"2:\xc3\xa9"
    assert ng.bencode(("a", 1)) == b"l1:ai1ee"


@pytest.mark.parametrize("value", [1.5, None, True])
def test_bencode_rejects_values_it_cannot_carry(value: object) -> None:
    with pytest.raises(TypeError, match="bencode cannot encode"):
        ng.bencode(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"", "truncated bencode"),
        (b"i12", "truncated integer"),
        (b"ixe", "bad integer b'x'"),
        (b"5:spam", "truncated string"),
        (b"l4:spam", "truncated list or dictionary"),
        (b"d3:cowe", "dictionary keys must be strings, each with a value"),
        (b"di1e3:mooe", "dictionary keys must be strings, each with a value"),
        (b"x", "unexpected byte b'x' at offset 0"),
        (b"i1ei2e", "trailing data after bencoded value at offset 3"),
        (b"4spam", "bad string length"),
    ],
)
def test_bdecode_errors(wire: bytes, message: str) -> None:
    with pytest.raises(ng.BencodeError) as exc:
        ng.bdecode(wire)
    assert str(exc.value) == message


bencodable = st.recursive(
    st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(bencodable)
def test_bencode_round_trip(value: object) -> None:
    assert ng.bdecode(ng.bencode(value)) == value  # type: ignore[arg-type]


@given(st.binary(max_size=40))
def test_bdecode_garbage_raises_only_bencode_error(data: bytes) -> None:
    try:
        ng.bdecode(data)
    except ng.BencodeError:
        pass


# -- messages ----------------------------------------------------------------------------------------------


def test_ping_and_pong_exactly_as_in_the_ng_docs() -> None:
    request = ng.NgRequest(cookie="5323_1", body=ng.ping())
    assert bytes(request) == b"5323_1 d7:command4:pinge"
    response = ng.NgResponse.parse(b"5323_1 d6:result4:ponge")
    assert (response.cookie, response.result, response.ok) == ("5323_1", "pong", True)
    assert bytes(response) == b"5323_1 d6:result4:ponge"
    assert ng.NgRequest.parse(b"5323_1 d7:command4:pinge") == request


def test_offer_answer_delete_query_bytes() -> None:
    offer = ng.offer("c1", "ft", "v=0\r\n", flags=["port latching"])
    assert bytes(ng.NgRequest(cookie="k_1", body=offer)) == (
        b"k_1 d7:call-id2:c17:command5:offer5:flagsl13:port latchinge8:from-tag2:ft3:sdp5:v=0\r\ne"
    )
    answer = ng.answer("c1", "ft", "tt", "v=0\r\n")
    assert bytes(ng.NgRequest(cookie="k_2", body=answer)) == (
        b"k_2 d7:call-id2:c17:command6:answer8:from-tag2:ft3:sdp5:v=0\r\n6:to-tag2:tte"
    )
    assert ng.bencode(ng.delete("c1")) == b"d7:call-id2:c17:command6:deletee"
    assert ng.bencode(ng.query("c1", from_tag="ft")) == b"d7:call-id2:c17:command5:query8:from-tag2:fte"
    assert ng.offer("c1", "ft", "", to_tag="tt")["to-tag"] == "tt"


def test_media_and_recording_commands() -> None:
    assert ng.play_media("c", "t", file="/x.wav", repeat_times=2) == {
        "command": "play media", "call-id": "c", "from-tag": "t", "file": "/x.wav", "repeat-times": 2}  # fmt: skip
    assert ng.stop_media("c", "t") == {"command": "stop media", "call-id": "c", "from-tag": "t"}
    assert ng.bencode(ng.play_dtmf("c", "t", code="5", duration_ms=80)) == (
        b"d7:call-id1:c4:code1:57:command9:play DTMF8:durationi80e8:from-tag1:te"
    )
    assert ng.start_recording("c") == {"command": "start recording", "call-id": "c"}
    assert ng.stop_recording("c") == {"command": "stop recording", "call-id": "c"}


def test_error_reply() -> None:
    response = ng.NgResponse.parse(b"a_1 d12:error-reason15:Unknown call-id6:result5:errore")
    assert not response.ok
    assert response.error_reason == "Unknown call-id"
    assert response.warning is None


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"d6:result2:oke", "ng message without a cookie"),
        (b" d6:result2:oke", "ng message without a cookie"),
        (b"a_1 l2:oke", "ng message body is not a dictionary"),
        (b"a_1 d4:spam4:eggse", "ng reply without a 'result' string"),
        (b"a_1 d6:result2:ok", "truncated list or dictionary"),
    ],
)
def test_response_parse_errors(wire: bytes, message: str) -> None:
    with pytest.raises(ng.BencodeError) as exc:
        ng.NgResponse.parse(wire)
    assert str(exc.value) == message


def test_request_validation() -> None:
    with pytest.raises(ValueError, match="cookie"):
        ng.NgRequest(cookie="a b", body=ng.ping())
    with pytest.raises(ValueError, match="'command'"):
        ng.NgRequest(cookie="a", body={"call-id": "x"})


# -- the connection ----------------------------------------------------------------------------------------


def _conn(**policy: float) -> ng.NgConnection:
    return ng.NgConnection(random.Random(7), ng.NgRetryPolicy(**policy))  # type: ignore[arg-type]


def test_connection_matches_replies_by_cookie() -> None:
    conn = _conn()
    first = conn.send(ng.ping(), now=0.0)
    second = conn.send(ng.query("c1"), now=0.0)
    assert first != second and first.split("_")[0] == second.split("_")[0]
    sent = conn.data_to_send()
    assert sent == [f"{first} d7:command4:pinge".encode(), f"{second} ".encode() + ng.bencode(ng.query("c1"))]
    assert conn.data_to_send() == []
    conn.receive_data(f"{second} d6:result2:oke".encode(), now=0.1)
    conn.receive_data(f"{first} d6:result4:ponge".encode(), now=0.1)
    events = [conn.next_event(), conn.next_event(), conn.next_event()]
    assert [type(e).__name__ for e in events] == ["NgReplied", "NgReplied", "NoneType"]
    assert [e.cookie for e in events if e is not None] == [second, first]
    assert conn.in_flight == 0 and conn.get_timer() is None


def test_connection_retransmits_the_same_bytes_then_fails() -> None:
    conn = _conn(interval=0.5, max_interval=1.0, retries=2)
    assert ng.NgRetryPolicy(interval=0.5, max_interval=1.0, retries=2).delays() == [0.5, 1.0, 1.0]
    cookie = conn.send(ng.ping(), now=10.0)
    (original,) = conn.data_to_send()
    assert conn.get_timer() == 10.5
    conn.handle_timer(10.4)
    assert conn.data_to_send() == []
    conn.handle_timer(10.5)
    assert conn.data_to_send() == [original]
    assert conn.get_timer() == 11.5
    conn.handle_timer(11.5)
    assert conn.data_to_send() == [original]
    conn.handle_timer(12.5)
    assert conn.data_to_send() == []
    event = conn.next_event()
    assert isinstance(event, ng.NgFailed) and event.cookie == cookie and event.request.command == "ping"
    conn.receive_data(f"{cookie} d6:result4:ponge".encode(), now=13.0)  # too late: dropped
    assert conn.next_event() is None and conn.dropped == 1


def test_connection_drops_malformed_and_unknown_and_cancelled() -> None:
    conn = _conn()
    cookie = conn.send(ng.ping(), now=0.0)
    conn.receive_data(b"garbage", now=0.1)
    conn.receive_data(b"other_1 d6:result4:ponge", now=0.1)
    assert (conn.malformed, conn.dropped, conn.next_event()) == (1, 1, None)
    conn.cancel(cookie)
    conn.receive_data(f"{cookie} d6:result4:ponge".encode(), now=0.1)
    assert conn.dropped == 2 and conn.get_timer() is None


def test_cookies_differ_between_connections() -> None:
    a = ng.NgConnection(random.Random(1)).send(ng.ping(), 0.0)
    b = ng.NgConnection(random.Random(2)).send(ng.ping(), 0.0)
    assert a != b
