"""Full UA flows through both layers on both sides (RFC 3261 §13, §15; RFC 3665 §3.1 shape)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from helpers_txn import FAST
from ua_core import UserAgentCore

from duplex.sip.dialog import DialogState
from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import (
    AckReceived,
    AckTimeout,
    Address,
    CancelReceived,
    DialogEstablished,
    DialogTerminated,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionKey,
)
from duplex.sip.message import SipRequest, SipResponse, parse_message
from duplex.sip.uri import NameAddr, SipUri

ALICE_ADDR: Address = ("127.0.0.1", 5071)
BOB_ADDR: Address = ("127.0.0.1", 5072)
BOB_URI = SipUri(user="bob", host="127.0.0.1", port=5072)


def ua(name: str, addr: Address, seed: int) -> UserAgentCore:
    return UserAgentCore(
        local_uri=NameAddr(SipUri(user=name, host="example.com")),
        contact=NameAddr(SipUri(user=name, host=addr[0], port=addr[1])),
        sent_by=addr,
        rng=random.Random(seed),
        timers=FAST,
    )


@dataclass
class Call:
    """Alice and Bob wired in memory; ``lose`` drops the next datagrams of one side."""

    alice: UserAgentCore = field(default_factory=lambda: ua("alice", ALICE_ADDR, 1))
    bob: UserAgentCore = field(default_factory=lambda: ua("bob", BOB_ADDR, 2))
    now: float = 0.0
    log: list[tuple[str, str]] = field(default_factory=list)
    a_events: list[Event] = field(default_factory=list)
    b_events: list[Event] = field(default_factory=list)

    def transfer(self, src: UserAgentCore, *, deliver: bool = True) -> list[SipRequest | SipResponse]:
        dst, src_addr, name = (
            (self.bob, ALICE_ADDR, "A>B") if src is self.alice else (self.alice, BOB_ADDR, "B>A")
        )
        sent = []
        for data, addr in src.datagrams_to_send():
            message = parse_message(data)
            sent.append(message)
            first = message.start_line.split(" ")
            self.log.append((name, first[0] if isinstance(message, SipRequest) else first[1]))
            if deliver:
                assert addr == (BOB_ADDR if src is self.alice else ALICE_ADDR)
                dst.receive_data(data, src_addr, self.now)
        self.collect()
        return sent

    def collect(self) -> None:
        self.a_events += self.alice.events()
        self.b_events += self.bob.events()

    def settle(self) -> None:
        while self.alice.transactions._datagrams or self.bob.transactions._datagrams:  # noqa: SLF001
            self.transfer(self.alice)
            self.transfer(self.bob)

    def advance(self) -> float:
        deadlines = [d for d in (self.alice.get_timer(), self.bob.get_timer()) if d is not None]
        self.now = min(deadlines)
        self.alice.handle_timer(self.now)
        self.bob.handle_timer(self.now)
        self.collect()
        return self.now


def of(events: list[Event], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


def ring_and_answer(call: Call) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    call.alice.invite(BOB_URI, BOB_ADDR, call.now)
    call.transfer(call.alice)
    (incoming,) = of(call.b_events, RequestReceived)
    call.bob.respond(incoming.key, 180, call.now)
    call.transfer(call.bob)
    bob_dialog = call.bob.respond(
        incoming.key, 200, call.now, body=b"v=0\r\n", headers=[("Content-Type", "application/sdp")]
    )
    call.transfer(call.bob)
    call.transfer(call.alice)  # the ACK
    assert bob_dialog is not None
    (alice_est,) = [e for e in of(call.a_events, DialogEstablished) if not e.early]
    return alice_est.dialog_id, bob_dialog


def test_invite_180_200_ack_bye_flow() -> None:
    """RFC 3665 §3.1 / RFC 3261 §13.2.2.4, §13.3.1.4, §15: INVITE, 100, 180 (early dialog), 200 (confirmed),
    ACK for 2xx from the UAC core ("The UAC core MUST generate an ACK request for each 2xx"), then BYE/200
    terminates the dialog on both sides."""
    call = Call()
    alice_id, bob_id = ring_and_answer(call)
    assert call.log == [("A>B", "INVITE"), ("B>A", "100"), ("B>A", "180"), ("B>A", "200"), ("A>B", "ACK")]
    assert alice_id == (bob_id[0], bob_id[2], bob_id[1])
    assert [e.early for e in of(call.a_events, DialogEstablished)] == [True, False]
    assert of(call.b_events, AckReceived)
    alice_dialog = call.alice.dialogs.get(alice_id)
    assert alice_dialog is not None and alice_dialog.state is DialogState.CONFIRMED
    assert str(alice_dialog.remote_target) == "sip:bob@127.0.0.1:5072"
    assert call.bob.get_timer() is not None  # Timer L/J etc. still run, the 2xx retransmitter stopped
    assert call.bob._retransmitters == {}  # noqa: SLF001
    call.alice.bye(alice_id, call.now)
    call.transfer(call.alice)
    call.transfer(call.bob)
    assert call.log[-2:] == [("A>B", "BYE"), ("B>A", "200")]
    assert of(call.b_events, DialogTerminated) == [DialogTerminated(dialog_id=bob_id, reason="BYE")]
    assert of(call.a_events, DialogTerminated)[0].dialog_id == alice_id
    assert call.alice.dialogs.dialogs == {} and call.bob.dialogs.dialogs == {}
    while call.alice.get_timer() is not None or call.bob.get_timer() is not None:
        call.advance()
    assert call.alice.transactions.transactions == {} and call.bob.transactions.transactions == {}


def test_lost_ack_makes_uas_retransmit_2xx_and_uac_re_ack() -> None:
    """§13.3.1.4: "The 2xx response is passed to the transport with an interval that starts at T1 seconds
    and doubles for each retransmission until it reaches T2 seconds"; §13.2.2.4: each 2xx retransmission
    makes the UAC core retransmit the ACK, which then stops the UAS."""
    call = Call()
    call.alice.invite(BOB_URI, BOB_ADDR, 0.0)
    call.transfer(call.alice)
    (incoming,) = of(call.b_events, RequestReceived)
    call.bob.respond(incoming.key, 200, 0.0)
    call.transfer(call.bob)
    call.transfer(call.alice, deliver=False)  # ACK lost
    assert call.advance() == 0.5
    assert [m.status for m in call.transfer(call.bob)] == [200]  # type: ignore[union-attr]
    assert [m.method for m in call.transfer(call.alice)] == ["ACK"]  # type: ignore[union-attr]
    assert of(call.b_events, AckReceived)
    assert call.bob._retransmitters == {}  # noqa: SLF001


def test_no_ack_for_64_t1_sends_bye() -> None:
    """§13.3.1.4: "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK,
    the dialog is confirmed, but the session SHOULD be terminated. This is accomplished with a BYE"."""
    call = Call()
    call.alice.invite(BOB_URI, BOB_ADDR, 0.0)
    call.transfer(call.alice)
    (incoming,) = of(call.b_events, RequestReceived)
    bob_id = call.bob.respond(incoming.key, 200, 0.0)
    assert [m.status for m in call.transfer(call.bob, deliver=False)] == [100, 200]  # type: ignore[union-attr]
    sends = []
    while not of(call.b_events, AckTimeout):
        t = call.advance()
        out = call.transfer(call.bob, deliver=False)
        sends += [(t, m.status) for m in out if isinstance(m, SipResponse)]
        call.transfer(call.alice, deliver=False)
    assert [t for t, _ in sends[:5]] == [0.5, 1.5, 3.5, 7.5, 11.5]
    assert call.now == 32.0
    assert of(call.b_events, AckTimeout) == [AckTimeout(dialog_id=bob_id)]
    assert ("B>A", "BYE") in call.log


def test_out_of_order_request_in_dialog_gets_500() -> None:
    """§12.2.2: a request whose CSeq is lower than the remote sequence number "is out of order and MUST be
    rejected with a 500 (Server Internal Error) response"."""
    call = Call()
    alice_id, _ = ring_and_answer(call)
    dialog = call.alice.dialogs.get(alice_id)
    assert dialog is not None
    call.alice.request(alice_id, "INFO", call.now)
    call.transfer(call.alice)
    call.transfer(call.bob)
    dialog.local_seq = 0  # force a stale CSeq on the next request
    call.alice.request(alice_id, "INFO", call.now)
    call.transfer(call.alice)
    call.transfer(call.bob)
    infos = [
        e.response.status for e in of(call.a_events, ResponseReceived) if e.response.cseq.method == "INFO"
    ]
    assert infos == [500]
    assert len([e for e in of(call.b_events, RequestReceived) if e.request.method == "INFO"]) == 1


def test_bye_for_unknown_dialog_gets_481_and_terminates_uac_dialog() -> None:
    """§15.1.2: "If the BYE does not match an existing dialog, the UAS core SHOULD generate a 481"; §12.2.1.2:
    on a 481 "the UAC SHOULD terminate the dialog"."""
    call = Call()
    alice_id, bob_id = ring_and_answer(call)
    call.bob.dialogs.remove(bob_id)
    call.alice.bye(alice_id, call.now)
    call.transfer(call.alice)
    call.transfer(call.bob)
    assert call.log[-1] == ("B>A", "481")
    assert of(call.a_events, DialogTerminated) == [DialogTerminated(dialog_id=alice_id, reason="481 to BYE")]


def test_cancel_ringing_call() -> None:
    """§9.1/§9.2: the UAC CANCELs a ringing INVITE; the UAS answers 200 to the CANCEL and 487 to the INVITE,
    the early dialogs end, and the transaction layer ACKs the 487."""
    call = Call()
    key = call.alice.invite(BOB_URI, BOB_ADDR, 0.0)
    call.transfer(call.alice)
    (incoming,) = of(call.b_events, RequestReceived)
    call.bob.respond(incoming.key, 180, 0.0)
    call.transfer(call.bob)
    assert call.alice.cancel(key, 0.1) is not None
    call.settle()
    assert call.log[3:] == [("A>B", "CANCEL"), ("B>A", "200"), ("B>A", "487"), ("A>B", "ACK")]
    assert of(call.b_events, CancelReceived)
    assert len(of(call.a_events, DialogTerminated)) == 1 and len(of(call.b_events, DialogTerminated)) == 1
    assert call.alice.dialogs.dialogs == {} and call.bob.dialogs.dialogs == {}


def test_reinvite_gets_its_own_ack_and_refreshes_target() -> None:
    """§14.1/§13.2.2.4: a re-INVITE uses the next CSeq; its 2xx is ACKed with that CSeq (not the first
    INVITE's), and §12.2.1.2 "a 2xx response to a target refresh request" replaces the remote target."""
    call = Call()
    alice_id, bob_id = ring_and_answer(call)
    call.alice.request(alice_id, "INVITE", call.now)
    call.transfer(call.alice)
    (reinvite,) = [e for e in of(call.b_events, RequestReceived) if e.request.to_tag is not None]
    assert call.bob.respond(reinvite.key, 200, call.now) == bob_id
    call.transfer(call.bob)
    acks = [m for m in call.transfer(call.alice) if isinstance(m, SipRequest) and m.method == "ACK"]
    first_cseq = reinvite.request.cseq.number - 1
    assert [a.cseq.number for a in acks] == [first_cseq + 1]
    assert call.bob._retransmitters == {}  # noqa: SLF001
    assert len(of(call.b_events, AckReceived)) == 2


def test_respond_to_unknown_transaction_is_a_local_error() -> None:
    """h11 rule: misuse of the API raises LocalProtocolError (here 481: the transaction does not exist)."""
    with pytest.raises(LocalProtocolError):
        Call().bob.respond(TransactionKey("z9hG4bKnone", "INVITE", "x:5060"), 200, 0.0)


def test_invite_without_contact_is_rejected_with_400() -> None:
    """§8.1.1.8: "The Contact header field MUST be present and contain exactly one SIP or SIPS URI in any
    request that can result in the establishment of a dialog" - the UAS core answers 400 itself."""
    call = Call()
    key = call.alice.invite(BOB_URI, BOB_ADDR, 0.0)
    ((data, _),) = call.alice.datagrams_to_send()
    stripped = b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Contact:"))
    call.bob.receive_data(stripped, ALICE_ADDR, 0.0)
    call.collect()
    assert of(call.b_events, RequestReceived) == []
    call.transfer(call.bob)
    assert [e.response.status for e in of(call.a_events, ResponseReceived) if e.key == key] == [100, 400]
