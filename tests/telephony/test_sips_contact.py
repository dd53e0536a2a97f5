"""RFC 3261 §8.1.1.8 / §12.1.1: a request for a sips: Request-URI (over TLS) is answered with a sips:
Contact, which also becomes the dialog's local target; a sip: request keeps a sip: Contact."""

from __future__ import annotations

import pytest
from engine_fixtures import EngineEnv, engine_options, memory_env

from duplex.services.calls.call import Call
from duplex.services.calls.uas import InboundLeg
from duplex.sip.events import TransactionKey
from duplex.sip.message import SipRequest, parse_message
from duplex.sip.uri import NameAddr, SipUri
from duplex.telephony.legdialog import uas_dialog

__all__ = ["memory_env", "engine_options"]


def _invite(uri: str, transport: str) -> SipRequest:
    text = (f"INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK-s1;rport\r\n"
            "From: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: sips-1\r\n"
            "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sips:alice@127.0.0.1:5999>\r\n"
            "Content-Length: 0\r\n\r\n")  # fmt: skip
    request = parse_message(text.encode())
    assert isinstance(request, SipRequest)
    return request


def test_engine_contact_is_sips_only_when_secure_over_tls(memory_env: EngineEnv) -> None:
    engine = memory_env.engine
    tls = engine.contact("TLS", secure=True)
    assert tls.startswith("<sips:duplex@127.0.0.1:") and "transport" not in tls
    assert engine.contact("TLS").endswith(";transport=tls>") and engine.contact("TLS").startswith("<sip:")
    assert engine.contact("WSS", secure=True).endswith(";transport=ws>")
    assert engine.contact("UDP", secure=True).startswith("<sip:")  # sips needs TLS: never over UDP/TCP
    assert engine.contact("TCP", secure=True) == engine.contact("TCP")


@pytest.mark.parametrize(("uri", "transport", "scheme"),
                         [("sips:1001@127.0.0.1", "TLS", "sips"), ("sip:1001@127.0.0.1;transport=tls", "TLS", "sip"),
                          ("sip:1001@127.0.0.1", "UDP", "sip")])  # fmt: skip
async def test_inbound_leg_contact_follows_the_request_uri_scheme(
    memory_env: EngineEnv, uri: str, transport: str, scheme: str
) -> None:
    invite = _invite(uri, transport)
    call = Call(memory_env.engine, direction="inbound", from_number="alice", to_number="1001")
    key = TransactionKey(branch="z9hG4bK-s1", method="INVITE", sent_by="127.0.0.1:5999")
    leg = InboundLeg(call, invite, key, ("127.0.0.1", 5999))
    for status in (180, 183, 200):
        contact = NameAddr.parse(leg._response(status).headers.required("Contact"))
        assert isinstance(contact.uri, SipUri) and contact.uri.scheme == scheme, (status, contact)
    dialog = uas_dialog(invite, leg.local_tag, leg._contact())
    assert dialog.local_contact is not None and isinstance(dialog.local_contact.uri, SipUri)
    assert dialog.local_contact.uri.scheme == scheme
