"""Small message helpers of the transaction layer (keys, ACK for non-2xx, CANCEL), on top of message.py.

Rules of this module (h11 style):

1. Pure functions of messages; no state, no clock.
2. Each builder quotes the RFC 3261 sentence it implements.
"""

from __future__ import annotations

from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import TransactionKey
from duplex.sip.headers import Headers
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.message import make_response as _make_response

__all__ = ["client_key", "cseq_method", "make_ack", "make_cancel", "make_response", "server_key", "to_tag"]

MAGIC_COOKIE = "z9hG4bK"


def cseq_method(message: SipRequest | SipResponse) -> str:
    """The method named in CSeq."""
    return message.cseq.method


def to_tag(message: SipRequest | SipResponse) -> str | None:
    """The To tag, or None."""
    return message.to_tag


def _branch(message: SipRequest | SipResponse) -> str:
    branch = message.branch
    if branch is None:
        raise LocalProtocolError("top Via has no branch parameter")
    return branch


def client_key(message: SipRequest | SipResponse) -> TransactionKey:
    """RFC 3261 §17.1.3: a response matches a client transaction "if the response has the same value of the
    branch parameter in the top Via header field as the branch parameter in the top Via header field of the
    request that created the transaction" and "the method parameter in the CSeq header field matches the
    method of the request that created the transaction"."""
    return TransactionKey(_branch(message), cseq_method(message))


def server_key(request: SipRequest) -> TransactionKey:
    """RFC 3261 §17.2.3: match on branch, top Via sent-by and method (ACK counts as INVITE).

    Requests without the ``z9hG4bK`` cookie (RFC 2543) get a key made from Request-URI, From tag, Call-ID
    and CSeq number, an approximation of the RFC 2543 matching rules.
    """
    via = request.top_via
    host, port = via.sent_by
    sent_by = f"{host.lower()}:{port if port is not None else 5060}"
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch is None or not branch.startswith(MAGIC_COOKIE):
        branch = f"2543|{request.uri}|{request.from_tag}|{request.call_id}|{request.cseq.number}|{branch}"
    return TransactionKey(branch, method, sent_by)


def make_response(request: SipRequest, status: int, *, tag: str | None = None) -> SipResponse:
    """A response to ``request`` (RFC 3261 §8.2.6), adding ``tag`` to To when the request has none."""
    if request.to_tag is not None or status == 100:
        tag = None
    return _make_response(request, status, to_tag=tag)


def _single_via_copy(request: SipRequest, method: str, to_value: str) -> Headers:
    src = request.headers
    out = Headers()
    out.add("Via", src.get_all("Via")[0])
    out.add("Max-Forwards", "70")
    out.add("From", src.required("From"))
    out.add("To", to_value)
    out.add("Call-ID", request.call_id)
    out.add("CSeq", f"{request.cseq.number} {method}")
    for route in src.raw("Route"):
        out.add("Route", route)
    return out


def make_ack(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK for a non-2xx final response, built by the INVITE client transaction (RFC 3261 §17.1.1.3).

    "The ACK request constructed by the client transaction MUST contain values for the Call-ID, From, and
    Request-URI that are equal to the values of those header fields in the request passed to the transport
    ... The To header field in the ACK MUST equal the To header field in the response being acknowledged ...
    The ACK MUST contain a single Via header field, and this MUST be equal to the top Via header field of the
    original request. The CSeq header field in the ACK MUST contain the same value for the sequence number as
    was present in the original request, but the method parameter MUST be equal to 'ACK'. If the INVITE
    request whose response is being acknowledged had Route header fields, those header fields MUST appear in
    the ACK."
    """
    return SipRequest("ACK", invite.uri, _single_via_copy(invite, "ACK", response.headers.required("To")))


def make_cancel(request: SipRequest) -> SipRequest:
    """The CANCEL for a pending request (RFC 3261 §9.1).

    "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL request
    MUST be identical to those in the request being cancelled, including tags. A CANCEL constructed by a
    client MUST have only a single Via header field value matching the top Via value in the request being
    cancelled ... If the request being cancelled contains a Route header field, the CANCEL request MUST
    include that Route header field's values."
    """
    if request.method == "ACK":
        raise LocalProtocolError("an ACK cannot be cancelled")
    return SipRequest(
        "CANCEL", request.uri, _single_via_copy(request, "CANCEL", request.headers.required("To"))
    )
