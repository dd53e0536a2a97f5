"""The transaction layer: matching (RFC 3261 §17.1.3, §17.2.3), CANCEL (§9), stray 2xx/ACK to the TU."""

from __future__ import annotations

import random

import pytest
from helpers_txn import ALICE, BOB, lf2crlf, make_pair, request, response

from duplex.sip._txn_util import make_response
from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    StrayResponseReceived,
    TransactionKey,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
)
from duplex.sip.message import SipResponse
from duplex.sip.transaction import State
from duplex.sip.transaction_layer import TransactionLayer


def only(events: list[object], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


def test_branch_ids_use_magic_cookie_and_injected_rng() -> None:
    """§8.1.1.7: "The branch ID inserted by an element compliant with this specification MUST always begin
    with the characters 'z9hG4bK'"; randomness comes only from the injected RNG."""
    first = TransactionLayer(rng=random.Random(7)).new_branch()
    again = TransactionLayer(rng=random.Random(7)).new_branch()
    other = TransactionLayer(rng=random.Random(8)).new_branch()
    assert first.startswith("z9hG4bK") and len(first) == 23
    assert first == again != other


def test_lost_invite_is_retransmitted_and_delivered_once() -> None:
    """§17.1.1.2 + §17.2.3: the first INVITE is lost, Timer A retransmits it; a duplicate then reaching the
    server matches the existing server transaction and is absorbed (one RequestReceived only)."""
    pair = make_pair()
    pair.alice.layer.send_request(request(), BOB, 0.0)
    pair.transfer(pair.alice, deliver=False)
    assert pair.advance() == 0.5
    pair.transfer(pair.alice)
    pair.bob.layer.receive(request(), ALICE, 0.6)  # a late duplicate
    requests = only(pair.bob.inbox, RequestReceived)
    assert len(requests) == 1 and requests[0].request.method == "INVITE"
    trying = pair.transfer(pair.bob)
    assert [m.status for m in trying] == [100, 100]  # type: ignore[union-attr]
    client = pair.alice.layer.transactions[TransactionKey("z9hG4bK776asdhds", "INVITE")]
    assert client.state is State.PROCEEDING


def test_full_non_invite_exchange_and_timer_j_k() -> None:
    """§17.1.2/§17.2.2: OPTIONS -> 200; the client waits Timer K (T4), the server Timer J (64*T1)."""
    pair = make_pair()
    key = pair.alice.layer.send_request(request("OPTIONS"), BOB, 0.0)
    pair.transfer(pair.alice)
    (rr,) = only(pair.bob.inbox, RequestReceived)
    pair.bob.layer.send_response(rr.key, response(rr.request, 200), 0.0)
    pair.transfer(pair.bob)
    (got,) = only(pair.alice.inbox, ResponseReceived)
    assert got.key == key and got.response.status == 200
    assert pair.advance() == 5.0  # Timer K
    assert key not in pair.alice.layer.transactions
    assert pair.advance() == 32.0  # Timer J
    assert pair.bob.layer.transactions == {}
    assert pair.bob.layer.get_timer() is None


def test_response_matching_needs_branch_and_method() -> None:
    """§17.1.3: a response matches if the branch matches and "the method parameter in the CSeq header field
    matches the method of the request that created the transaction"; otherwise it is not passed to it."""
    layer = TransactionLayer(rng=random.Random(1))
    layer.send_request(request("OPTIONS"), BOB, 0.0)
    wrong_method = make_response(request("INFO"), 200, tag="x")
    layer.receive(wrong_method, BOB, 0.1)
    assert layer.events() == [] and layer.dropped == 1


def test_invite_timeout_through_layer() -> None:
    """§17.1.1.2: Timer B fires after 64*T1 with nobody answering; the TU sees a timeout (408 equivalent)."""
    pair = make_pair()
    key = pair.alice.layer.send_request(request(), BOB, 0.0)
    while pair.next_deadline() is not None:
        pair.advance()
        pair.transfer(pair.alice, deliver=False)
    assert only(pair.alice.inbox, TransactionTimeout) == [TransactionTimeout(key=key, timer="Timer B")]
    assert len([w for w in pair.wire if w[0] == ALICE]) == 7  # original + 6 retransmissions


def test_cancel_gets_200_and_invite_gets_487() -> None:
    """§9.2: "the UAS SHOULD respond to the CANCEL ... with a 200 (OK) response ... If the original request
    was an INVITE, the UAS SHOULD immediately respond to the INVITE with a 487 (Request Terminated)"; the
    client transaction ACKs the 487 (§17.1.1.3) which confirms the server transaction."""
    pair = make_pair()
    invite_key = pair.alice.layer.send_request(request(), BOB, 0.0)
    pair.transfer(pair.alice)
    (rr,) = only(pair.bob.inbox, RequestReceived)
    pair.bob.layer.send_response(rr.key, response(rr.request, 180, tag="b0b"), 0.1)
    pair.transfer(pair.bob)
    cancel_key = pair.alice.layer.cancel(invite_key, 0.2)
    assert cancel_key is not None and cancel_key.method == "CANCEL"
    pair.transfer(pair.alice)
    assert only(pair.bob.inbox, CancelReceived)[0].invite_key == rr.key
    sent = pair.transfer(pair.bob)
    assert sorted((m.status, m.cseq.method, m.to_tag) for m in sent) == [  # type: ignore[union-attr]
        (200, "CANCEL", "b0b"),
        (487, "INVITE", "b0b"),
    ]
    acks = pair.transfer(pair.alice)
    assert [m.method for m in acks] == ["ACK"]  # type: ignore[union-attr]
    assert pair.bob.layer.transactions[rr.key].state is State.CONFIRMED
    statuses = [e.response.status for e in only(pair.alice.inbox, ResponseReceived)]
    assert statuses == [100, 180, 200, 487]


def test_cancel_before_provisional_is_deferred() -> None:
    """§9.1: "If no provisional response has been received, the CANCEL request MUST NOT be sent; rather, the
    client MUST wait for the arrival of a provisional response before sending the request"."""
    pair = make_pair()
    invite_key = pair.alice.layer.send_request(request(), BOB, 0.0)
    pair.transfer(pair.alice, deliver=False)
    assert pair.alice.layer.cancel(invite_key, 0.1) is None
    assert pair.alice.layer.datagrams_to_send() == []
    pair.alice.layer.receive(make_response(request(), 100), BOB, 0.2)
    sent = pair.transfer(pair.alice, deliver=False)
    assert [m.method for m in sent] == ["CANCEL"]  # type: ignore[union-attr]


def test_cancel_for_unknown_transaction_gets_481() -> None:
    """§9.2: "If the UAS did not find a matching transaction for the CANCEL according to the procedure above,
    it SHOULD respond to the CANCEL with a 481 (Call Leg/Transaction Does Not Exist)"."""
    layer = TransactionLayer(rng=random.Random(3))
    layer.receive(request("CANCEL", branch="z9hG4bKnothere"), ALICE, 0.0)
    ((data, addr),) = layer.datagrams_to_send()
    assert data.startswith(b"SIP/2.0 481 ") and addr == ALICE
    assert layer.events() == []


def test_cancel_after_final_response_has_no_effect() -> None:
    """§9.2: "If the UAS has already sent a final response for the original request, the CANCEL has no
    effect on the original request" - the CANCEL still gets its 200."""
    layer = TransactionLayer(rng=random.Random(3), send_trying=False)
    layer.receive(request(), ALICE, 0.0)
    (rr,) = layer.events()
    assert isinstance(rr, RequestReceived)
    layer.send_response(rr.key, make_response(rr.request, 200, tag="t1"), 0.1)
    layer.datagrams_to_send()
    layer.receive(request("CANCEL"), ALICE, 0.2)
    sent = [d for d, _ in layer.datagrams_to_send()]
    assert len(sent) == 1 and sent[0].startswith(b"SIP/2.0 200 OK") and b"CSeq: 314159 CANCEL" in sent[0]
    assert layer.events() == []


def test_stray_2xx_and_ack_for_2xx_go_to_the_tu() -> None:
    """RFC 6026 §8.4 / §17.2.3: a 2xx to INVITE matching no transaction and an ACK matching no transaction
    are passed to the TU (the dialog layer), not dropped."""
    layer = TransactionLayer(rng=random.Random(4))
    ok = make_response(request(branch="z9hG4bKgone"), 200, tag="t")
    layer.receive(ok, BOB, 1.0)
    ack = request("ACK", cseq_method="ACK", branch="z9hG4bKack2xx", to_tag="t")
    layer.receive(ack, BOB, 1.1)
    assert layer.events() == [
        StrayResponseReceived(response=ok, addr=BOB),
        AckReceived(request=ack, addr=BOB),
    ]
    assert layer.transactions == {}


def test_send_request_rejects_ack_and_duplicate_branch() -> None:
    """§17.1: the ACK for 2xx is not a transaction ("handled by the TU"); a branch MUST be unique (§8.1.1.7)."""
    layer = TransactionLayer(rng=random.Random(5))
    with pytest.raises(LocalProtocolError):
        layer.send_request(request("ACK", cseq_method="ACK"), BOB, 0.0)
    layer.send_request(request(), BOB, 0.0)
    with pytest.raises(LocalProtocolError, match="already exists"):
        layer.send_request(request(), BOB, 0.0)


def test_malformed_datagram_is_dropped_and_counted() -> None:
    """§18.3 / practice 5: malformed datagrams are dropped and counted, never raised into the loop."""
    layer = TransactionLayer(rng=random.Random(6))
    layer.receive_data(lf2crlf("INVITE sip:bob@biloxi.com SIP/2.0\nVia: nonsense\n\n"), ALICE, 0.0)
    assert layer.dropped == 1 and layer.events() == []


def test_reliable_transport_terminates_at_once() -> None:
    """Table 4: Timers D, I, J, K are 0 s on TCP, so transactions end with their final exchange."""
    pair = make_pair(reliable=True)
    key = pair.alice.layer.send_request(request("BYE"), BOB, 0.0)
    pair.transfer(pair.alice)
    (rr,) = only(pair.bob.inbox, RequestReceived)
    pair.bob.layer.send_response(rr.key, response(rr.request, 200), 0.0)
    pair.transfer(pair.bob)
    assert pair.bob.layer.transactions == {} and pair.alice.layer.transactions == {}
    assert TransactionTerminated(key=key) in pair.alice.inbox
    assert isinstance(only(pair.alice.inbox, ResponseReceived)[0].response, SipResponse)


def test_ack_retransmissions_absorbed_in_confirmed() -> None:
    """§17.2.1: in Confirmed "any ACK messages ... are absorbed without changing state", and nothing is
    passed to the TU for the ACK of a non-2xx (it belongs to the transaction)."""
    pair = make_pair()
    pair.alice.layer.send_request(request(), BOB, 0.0)
    pair.transfer(pair.alice)
    (rr,) = only(pair.bob.inbox, RequestReceived)
    pair.bob.layer.send_response(rr.key, response(rr.request, 486), 0.0)
    pair.transfer(pair.bob)
    pair.transfer(pair.alice)  # ACK
    pair.transfer(pair.alice)
    pair.bob.layer.receive(request("ACK", cseq_method="ACK", to_tag="a6c85cf"), ALICE, 0.2)
    assert pair.bob.layer.transactions[rr.key].state is State.CONFIRMED
    assert only(pair.bob.inbox, AckReceived) == []
    assert pair.bob.layer.datagrams_to_send() == []


def test_timer_d_through_the_layer() -> None:
    """§17.1.1.2: "The client transaction SHOULD start timer D when it enters the 'Completed' state, with a
    value of at least 32 seconds for unreliable transports"; a retransmitted 486 in that time is ACKed
    again but not passed up."""
    pair = make_pair()
    key = pair.alice.layer.send_request(request(), BOB, 0.0)
    pair.transfer(pair.alice, deliver=False)
    busy = make_response(request(), 486, tag="b")
    pair.alice.layer.receive(busy, BOB, 0.2)
    pair.alice.layer.receive(busy, BOB, 1.0)
    acks = pair.transfer(pair.alice, deliver=False)
    assert [m.method for m in acks] == ["ACK", "ACK"]  # type: ignore[union-attr]
    assert len(only(pair.alice.inbox, ResponseReceived)) == 1
    assert pair.alice.layer.get_timer() == pytest.approx(32.2)
    pair.advance()
    assert key not in pair.alice.layer.transactions


def test_transport_error_reaches_the_tu() -> None:
    """§17.1.4: "the client transaction SHOULD inform the TU that a transport failure has occurred, and the
    client transaction SHOULD transition directly to the 'Terminated' state"."""
    layer = TransactionLayer(rng=random.Random(9))
    key = layer.send_request(request("OPTIONS"), BOB, 0.0)
    layer.transport_error(key, 0.1)
    assert layer.events() == [TransportError(key=key), TransactionTerminated(key=key)]
    assert layer.transactions == {}


def test_response_without_branch_is_dropped() -> None:
    """§17.1.3 matching needs the top Via branch; a response without one cannot match and is dropped,
    never raised (remote errors are not local errors)."""
    layer = TransactionLayer(rng=random.Random(10))
    data = lf2crlf(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP pc33.atlanta.com\nTo: <sip:bob@biloxi.com>;tag=1\n"
        "From: <sip:alice@atlanta.com>;tag=2\nCall-ID: x@y\nCSeq: 1 OPTIONS\n\n"
    )
    layer.receive_data(data, BOB, 0.0)
    assert layer.dropped == 1 and layer.events() == []
