"""SipRequest/SipResponse, headers, URIs and make_response, fed with RFC 3261 §24 example messages."""

from __future__ import annotations

import pytest
from rfc_data import lf2crlf

from duplex.sip import (
    Headers,
    LocalProtocolError,
    NameAddr,
    SipError,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    make_response,
    parse_message,
)

# RFC 3261 §24.1 F1 (https://www.rfc-editor.org/rfc/rfc3261#section-24.1)
REGISTER_F1 = lf2crlf(b"""REGISTER sip:registrar.biloxi.com SIP/2.0
Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Bob <sip:bob@biloxi.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: <sip:bob@192.0.2.4>
Expires: 7200
Content-Length: 0

""")
# RFC 3261 §24.2 F1 (Alice's SDP is "not shown" in the RFC, so the body is empty here).
INVITE_F1 = lf2crlf(b"""INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Type: application/sdp
Content-Length: 0

""")
# RFC 3261 §4 (Figure 1 message F8-style 180 Ringing through two proxies).
RINGING = lf2crlf(b"""SIP/2.0 180 Ringing
Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1
Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.com
Contact: <sip:bob@192.0.2.4>
CSeq: 314159 INVITE
Content-Length: 0

""")


def test_register_f1() -> None:
    msg = SipRequest.parse(REGISTER_F1)
    assert msg.method == "REGISTER" and str(msg.uri) == "sip:registrar.biloxi.com"
    assert msg.top_via.sent_by == ("bobspc.biloxi.com", 5060) and msg.branch == "z9hG4bKnashds7"
    assert msg.from_tag == "456248" and msg.to_tag is None and msg.call_id == "843817637684230@998sdasdh09"
    assert msg.headers.int_value("Expires") == 7200
    assert [str(c.uri) for c in msg.contacts] == ["sip:bob@192.0.2.4"]
    assert bytes(msg) == REGISTER_F1


def test_invite_f1_and_response_per_8_2_6() -> None:
    invite = SipRequest.parse(INVITE_F1)
    assert invite.is_invite and not invite.is_ack
    trying = make_response(invite, 100)
    assert trying.to_tag is None and trying.reason == "Trying"
    ringing = make_response(invite, 180, to_tag="a6c85cf", headers=[("Contact", "<sip:bob@192.0.2.4>")])
    assert ringing.headers.raw("Via") == invite.headers.raw("Via")
    assert ringing.headers.get("From") == invite.headers.get("From")
    assert ringing.call_id == invite.call_id and ringing.cseq == invite.cseq
    assert ringing.to_tag == "a6c85cf" and ringing.to_addr.uri == invite.to_addr.uri
    assert ringing.is_invite and ringing.is_provisional and not ringing.is_final
    assert bytes(SipResponse.parse(bytes(ringing))) == bytes(ringing)
    with pytest.raises(LocalProtocolError):
        make_response(invite, 200)


def test_response_with_record_route_list() -> None:
    msg = SipResponse.parse(RINGING)
    assert msg.status == 180 and msg.reason == "Ringing" and msg.method == "INVITE"
    assert [v.received for v in msg.vias] == ["192.0.2.3", "192.0.2.2", "192.0.2.1"]
    assert [str(r.uri) for r in msg.headers.name_addrs("Record-Route")] == [
        "sip:server10.biloxi.com;lr",
        "sip:bigbox3.site3.atlanta.com;lr",
    ]
    assert bytes(msg) == RINGING


def test_serializer_fixes_content_length_and_lf_only_input() -> None:
    lf_only = INVITE_F1.replace(b"\r\n", b"\n").replace(
        b"Content-Length: 0\n\n", b"Content-Length: 4\n\nv=0\n"
    )
    msg = parse_message(lf_only)
    assert msg.body == b"v=0\n"
    changed = SipRequest(msg.method, msg.uri, msg.headers.copy(), b"longer body")
    assert b"\r\nContent-Length: 11\r\n\r\nlonger body" in bytes(changed)


def test_compact_forms_and_multi_value_splitting() -> None:
    h = Headers(
        [("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b"), ("m", '"A, B" <sip:a@b>;q=0.5, <sip:c@d>')]
    )
    assert [n for n, _ in h] == ["Via", "Contact"]
    assert len(h.vias()) == 2 and "VIA" in h
    assert [c.display_name for c in h.contacts()] == ["A, B", None] and h.contacts()[0].q == 0.5
    assert h.pop_first("Via") == "SIP/2.0/UDP a;branch=z9hG4bK1" and len(h.vias()) == 1
    h.prepend("Via", "SIP/2.0/UDP c;branch=z9hG4bK2")
    assert h.vias()[0].host == "c"


def test_single_value_header_repeated_is_400() -> None:
    with pytest.raises(SipParseError) as info:
        Headers([("Call-ID", "a"), ("i", "b")]).required("Call-ID")
    assert info.value.status_code == 400


def test_errors_are_typed() -> None:
    with pytest.raises(TypeError):
        SipError("abstract")
    assert SipParseError("too big", 513).status_code == 513


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [  # RFC 3261 §19.1.4 examples
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", True),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", True),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5", True),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x", True),
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", False),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", False),
        ("sips:alice@atlanta.com", "sip:alice@atlanta.com", False),
    ],
)  # fmt: skip
def test_uri_comparison(a: str, b: str, equal: bool) -> None:
    assert (SipUri.parse(a) == SipUri.parse(b)) is equal


def test_uri_parse_and_str() -> None:
    uri = SipUri.parse("sips:al%20ice:pw@[2001:db8::1]:5061;transport=tls;lr?Subject=hi%20there")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "al ice",
        "pw",
        "[2001:db8::1]",
        5061,
    )
    assert uri.params == {"transport": "tls", "lr": None} and uri.headers == {"Subject": "hi there"}
    assert SipUri.parse(str(uri)) == uri and "al%20ice" in str(uri)
    tel = SipUri.parse("tel:+1-201-555-0123;phone-context=example.com")
    assert tel.user == "+1-201-555-0123" and str(tel) == "tel:+1-201-555-0123;phone-context=example.com"
    with pytest.raises(SipParseError) as info:
        SipUri.parse("http://example.com")
    assert info.value.status_code == 416


def test_name_addr_round_trip() -> None:
    na = NameAddr.parse('"Bob \\"B\\"" <sip:bob@biloxi.com>;tag=a6c85cf')
    assert na.display_name == 'Bob "B"' and na.tag == "a6c85cf"
    assert NameAddr.parse(str(na)) == na
    assert NameAddr.parse(str(na.with_tag("x"))).tag == "x"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (b"INVITE sip:a@b SIP/2.0\r\n", 400),
        (b"x" * 70000, 513),
        (b"OPTIONS sip:" + b"a" * 5000 + b"@b SIP/2.0\r\n\r\n", 414),
        (b"SIP/3.0 200 OK\r\n\r\n", 505),
    ],
)
def test_bad_datagrams(data: bytes, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.status_code == status
