"""SIP for Duplex: a sans-IO message layer (parse/serialise, framing, digest auth) plus transactions/dialogs."""

from duplex.sip.errors import LocalProtocolError, RemoteProtocolError, SipError, SipParseError
from duplex.sip.headers import CSeq, Headers, Via
from duplex.sip.message import (
    SipMessage,
    SipRequest,
    SipResponse,
    make_response,
    parse_message,
    reason_phrase,
)
from duplex.sip.uri import AbsoluteUri, NameAddr, SipUri, Uri, parse_uri

__all__ = [
    "AbsoluteUri",
    "CSeq",
    "Headers",
    "LocalProtocolError",
    "NameAddr",
    "RemoteProtocolError",
    "SipError",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "Uri",
    "Via",
    "make_response",
    "parse_message",
    "parse_uri",
    "reason_phrase",
]
