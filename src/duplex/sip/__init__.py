"""SIP for Duplex: a sans-IO message layer (parse/serialise, framing, digest auth) plus transactions/dialogs."""

from duplex.sip.digest import AuthResult, DigestChallenge, DigestCredentials, DigestServer, authorize
from duplex.sip.errors import LocalProtocolError, RemoteProtocolError, SipError, SipParseError
from duplex.sip.framing import StreamFramer
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
    "AuthResult",
    "CSeq",
    "DigestChallenge",
    "DigestCredentials",
    "DigestServer",
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
    "StreamFramer",
    "Uri",
    "Via",
    "authorize",
    "make_response",
    "parse_message",
    "parse_uri",
    "reason_phrase",
]
