"""RFC 4475 SIP torture tests (https://www.rfc-editor.org/rfc/rfc4475), section numbers per message."""

from __future__ import annotations

import email
import email.policy
import hashlib

import pytest
from rfc_data import load

from duplex.sip import AbsoluteUri, SipParseError, SipRequest, SipResponse, SipUri, parse_message
from duplex.sip.framing import StreamFramer

# name -> RFC 4475 section, for the messages a parser must accept.
VALID = {
    "wsinv": "3.1.1.1",
    "intmeth": "3.1.1.2",
    "esc01": "3.1.1.3",
    "escnull": "3.1.1.4",
    "esc02": "3.1.1.5",
    "lwsdisp": "3.1.1.6",
    "longreq": "3.1.1.7",
    "dblreq": "3.1.1.8",
    "semiuri": "3.1.1.9",
    "transports": "3.1.1.10",
    "mpart01": "3.1.1.11",
    "unreason": "3.1.1.12",
    "noreason": "3.1.1.13",
    "badbranch": "3.3.1 (syntactically valid; transaction layer decides)",
    "bcast": "3.3.? (valid syntax; a UA drops it for its second Via)",
    "bext01": "3.3.?",
    "cparam01": "3.3.?",
    "cparam02": "3.3.?",
    "regaut01": "3.3.?",
    "regescrt": "3.3.? (escaped headers inside <> in Contact are legal)",
    "unksm2": "3.3.? (unknown schemes in To/From/Contact)",
    "zeromf": "3.3.?",
    "inv2543": "3.4.1 (RFC 2543 syntax, no Content-Length over UDP)",
}
# name -> (RFC 4475 section, status code we answer with).
INVALID = {
    "badinv01": ("3.1.2.1", 400),
    "clerr": ("3.1.2.2", 400),
    "ncl": ("3.1.2.3", 400),
    "scalar02": ("3.1.2.4", 400),
    "scalarlg": ("3.1.2.5", 400),
    "quotbal": ("3.1.2.6", 400),
    "ltgtruri": ("3.1.2.7", 400),
    "lwsruri": ("3.1.2.8", 400),
    "lwsstart": ("3.1.2.9", 400),
    "trws": ("3.1.2.10", 400),
    "escruri": ("3.1.2.11", 400),
    "baddate": ("3.1.2.12", 400),
    "regbadct": ("3.1.2.13", 400),
    "badaspec": ("3.1.2.14", 400),
    "baddn": ("3.1.2.15", 400),
    "badvers": ("3.1.2.16", 505),
    "mismatch01": ("3.1.2.17", 400),
    "mismatch02": ("3.1.2.18 (501 preferred, 400 acceptable)", 400),
    "bigcode": ("3.1.2.19", 400),
    "insuf": ("3.3.? missing Call-ID/From/To", 400),
    "mcl01": ("3.3.? multiple Content-Length", 400),
    "multi01": ("3.3.? repeated single-value headers", 400),
    "novelsc": ("3.3.? novel Request-URI scheme", 416),
    "unkscm": ("3.3.? unknown Request-URI scheme", 416),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_message_parses_and_round_trips(name: str) -> None:
    msg = parse_message(load(name))
    again = parse_message(bytes(msg))
    assert again == msg
    assert bytes(again) == bytes(msg)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_message_is_rejected_with_status(name: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(load(name))
    assert info.value.status_code == INVALID[name][1]


def test_wsinv_fields() -> None:
    msg = parse_message(load("wsinv"))
    assert isinstance(msg, SipRequest) and msg.method == "INVITE"
    assert msg.uri.params == {"unknownparam": None}
    assert msg.to_tag == "1918181833n" and msg.from_tag == "98asjd8"
    assert msg.from_addr.display_name == 'J Rosenberg \\"'
    assert msg.max_forwards == 68 and msg.cseq.number == 9 and msg.cseq.method == "INVITE"
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.vias[0].rport is True
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = msg.contacts
    assert contact.display_name == 'Quoted string ""' and contact.q == 0.33
    assert contact.params["newparam"] == "newvalue" and contact.params["secondparam"] is None
    assert len(msg.body) == 150


def test_intmeth_fields() -> None:
    msg = parse_message(load("intmeth"))
    assert isinstance(msg, SipRequest)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert msg.to_addr.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_escapes_are_decoded_once() -> None:
    esc01 = parse_message(load("esc01"))
    assert isinstance(esc01, SipRequest)
    assert esc01.uri.user == "sips:user@example.com" and esc01.uri.host == "example.net"
    assert isinstance(esc01.to_addr.uri, SipUri) and esc01.to_addr.uri.user == "user"
    (contact,) = esc01.contacts
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.user == "caller" and contact.uri.params == {"lr": None, "name": "value%41"}
    escnull = parse_message(load("escnull"))
    assert [c.uri.user for c in escnull.contacts if isinstance(c.uri, SipUri)] == ["\x00", "\x00\x00"]
    assert isinstance(escnull.to_addr.uri, SipUri) and escnull.to_addr.uri.user == "null-\x00-null"


def test_esc02_percent_is_not_an_escape_outside_uris() -> None:
    msg = parse_message(load("esc02"))
    assert isinstance(msg, SipRequest) and msg.method == "RE%47IST%45R"
    assert msg.to_addr.display_name == "%Z%45"
    assert [str(c.uri) for c in msg.contacts] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert msg.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_other_valid_details() -> None:
    assert parse_message(load("lwsdisp")).from_addr.display_name == "caller"
    longreq = parse_message(load("longreq"))
    assert len(longreq.vias) == 34 and longreq.vias[-1].received == "192.0.2.5"
    dblreq = parse_message(load("dblreq"))
    assert isinstance(dblreq, SipRequest) and dblreq.method == "REGISTER" and dblreq.body == b""
    semiuri = parse_message(load("semiuri"))
    assert isinstance(semiuri, SipRequest) and semiuri.uri.user == "user;par=u@example.net"
    assert len(semiuri.headers.get_all("Accept")) == 6
    assert [v.transport for v in parse_message(load("transports")).vias] == [
        "UDP",
        "SCTP",
        "TLS",
        "UNKNOWN",
        "TCP",
    ]
    unreason = parse_message(load("unreason"))
    assert isinstance(unreason, SipResponse) and unreason.reason.endswith("простое")
    noreason = parse_message(load("noreason"))
    assert isinstance(noreason, SipResponse) and noreason.status == 100 and noreason.reason == ""
    unksm2 = parse_message(load("unksm2"))
    assert isinstance(unksm2.to_addr.uri, AbsoluteUri) and unksm2.to_addr.uri.scheme == "isbn"
    regescrt = parse_message(load("regescrt"))
    (contact,) = regescrt.contacts
    assert isinstance(contact.uri, SipUri) and contact.uri.headers == {"Route": "<sip:sip.example.com>"}
    inv2543 = parse_message(load("inv2543"))
    assert inv2543.max_forwards is None and inv2543.branch is None and inv2543.body.endswith(b"RTP/AVP 0\r\n")
    assert len(parse_message(load("bcast")).vias) == 2


# RFC 4475 §3.1.1.11: the S/MIME part is a DER SignedData of 4 + 0x152 bytes starting 30 82 01 52, and its
# bytes include CR (0x0D), LF (0x0A) and NUL, so any line-end rewriting of the body corrupts it. The digest is
# of the 342 bytes typed from the RFC hex, checked against a second published (base64) copy of the same DER.
MPART01_SMIME_SHA256 = "497d8aa37a725cd80bbaa56cd17050d32daf8fcfeb6c59dfc8f79e5a4549e054"


def _mpart01_parts() -> list[email.message.Message]:
    msg = parse_message(load("mpart01"))
    assert msg.content_type is not None
    # The SIP core does not split multipart bodies (RFC 3261 §7.4.1 treats the body as opaque); the stdlib
    # MIME parser does, given the Content-Type the SIP message carries.
    mime = email.message_from_bytes(
        b"Content-Type: " + msg.content_type.encode() + b"\r\n\r\n" + msg.body, policy=email.policy.compat32
    )
    assert mime.is_multipart() and mime.defects == []
    parts = mime.get_payload()
    assert isinstance(parts, list)
    return parts


def test_mpart01_body_length_matches_content_length() -> None:
    raw = load("mpart01")
    msg = parse_message(raw)
    assert isinstance(msg, SipRequest) and msg.method == "MESSAGE"
    assert msg.headers.get("Content-Length") == "553" and len(msg.body) == 553
    assert raw.endswith(b"\r\n\r\n" + msg.body)
    assert msg.body.startswith(b"--7a9cbec02ceef655\r\n") and msg.body.endswith(
        b"\r\n--7a9cbec02ceef655--\r\n"
    )
    assert msg.headers.get("Content-Transfer-Encoding") == "binary"
    assert msg.content_type == "multipart/mixed;boundary=7a9cbec02ceef655"


def test_mpart01_multipart_body_splits_into_text_and_smime() -> None:
    text, smime = _mpart01_parts()
    assert text.get_content_type() == "text/plain" and text.get_payload(decode=True) == b"Hello"
    assert smime.get_content_type() == "application/octet-stream"
    der = smime.get_payload(decode=True)
    assert isinstance(der, bytes) and len(der) == 342
    assert der[:4] == bytes.fromhex("30820152") and {0x00, 0x0A, 0x0D} <= set(der)
    assert b"Sipit Test Certificate Authority" in der
    assert hashlib.sha256(der).hexdigest() == MPART01_SMIME_SHA256


def test_mpart01_frames_over_a_stream_whole_and_byte_by_byte() -> None:
    raw = load("mpart01")
    whole = StreamFramer()
    whole.receive_data(raw + raw)
    first, second = whole.next_message(), whole.next_message()
    assert first is not None and first == second == parse_message(raw)
    trickle = StreamFramer()
    got = []
    for i in range(len(raw)):
        trickle.receive_data(raw[i : i + 1])
        if (one := trickle.next_message()) is not None:
            got.append((i, one))
    assert [(i, m.body) for i, m in got] == [(len(raw) - 1, first.body)]
