"""Server transactions (RFC 3261 §17.2.1, §17.2.2, RFC 6026 §8.5-8.7), driven by a fake clock."""

from __future__ import annotations

import pytest
from helpers_txn import FAST, request, response

from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import TransactionKey, TransactionTerminated, TransactionTimeout
from duplex.sip.transaction import InviteServerTransaction, NonInviteServerTransaction, State

KEY = TransactionKey("z9hG4bK776asdhds", "INVITE", "pc33.atlanta.com:5060")


def invite_stx(*, reliable: bool = False, send_trying: bool = True) -> InviteServerTransaction:
    return InviteServerTransaction(
        request(), KEY, now=0.0, reliable=reliable, timers=FAST, send_trying=send_trying
    )


def options_stx(*, reliable: bool = False) -> NonInviteServerTransaction:
    req = request("OPTIONS")
    return NonInviteServerTransaction(req, KEY, now=0.0, reliable=reliable, timers=FAST)


def test_invite_server_sends_100_trying() -> None:
    """§17.2.1: "the server transaction MUST generate a 100 (Trying) response unless it knows that the TU
    will generate a provisional or final response within 200 ms"."""
    stx = invite_stx()
    (trying,) = stx.messages_to_send()
    assert trying.status == 100 and trying.to_tag is None
    assert stx.state is State.PROCEEDING
    assert invite_stx(send_trying=False).messages_to_send() == []


def test_invite_retransmission_resends_last_provisional() -> None:
    """§17.2.1: "If a request retransmission is received while in the 'Proceeding' state, the most recent
    provisional response that was received from the TU MUST be passed to the transport layer"."""
    stx = invite_stx()
    ringing = response(stx.request, 180)
    stx.send(ringing, 0.1)
    stx.messages_to_send()
    stx.receive(stx.request, 0.5)
    assert stx.messages_to_send() == [ringing]


def test_invite_failure_timer_g_capped_and_timer_h() -> None:
    """§17.2.1: "timer G is set to fire in T1 seconds ... MIN(2*T1, T2) ... [and] timer H MUST be set to fire
    in 64*T1 seconds"; "If timer H fires while in the 'Completed' state, ... the server transaction ... MUST
    transition to the 'Terminated' state" and reports the missing ACK."""
    stx = invite_stx()
    stx.send(response(stx.request, 486), 0.0)
    stx.messages_to_send()
    fired = []
    while (now := stx.get_timer()) is not None:
        stx.handle_timer(now)
        fired.append((now, [m.status for m in stx.messages_to_send()]))  # type: ignore[union-attr]
    assert fired[:6] == [(0.5, [486]), (1.5, [486]), (3.5, [486]), (7.5, [486]), (11.5, [486]), (15.5, [486])]
    assert fired[-1] == (32.0, [])
    events = stx.events()
    assert events == [TransactionTimeout(key=KEY, timer="Timer H"), TransactionTerminated(key=KEY)]


def test_invite_ack_confirms_and_timer_i() -> None:
    """§17.2.1: "If an ACK is received while the server transaction is in the 'Completed' state, the server
    transaction MUST transition to the 'Confirmed' state. As Timer G is ignored in this state, any
    retransmissions of the response will cease"; Timer I (T4) then ends it, absorbing ACKs meanwhile."""
    stx = invite_stx()
    final = response(stx.request, 603)
    stx.send(final, 0.0)
    stx.receive(request(), 0.2)
    stx.messages_to_send()
    stx.receive(request("ACK", cseq_method="ACK", to_tag="a6c85cf"), 0.3)
    assert stx.state is State.CONFIRMED
    assert stx.get_timer() == 0.3 + FAST.t4
    stx.receive(request("ACK", cseq_method="ACK", to_tag="a6c85cf"), 0.4)
    stx.receive(request(), 0.4)
    assert stx.messages_to_send() == []
    stx.handle_timer(5.3)
    assert stx.state is State.TERMINATED


def test_invite_completed_resends_final_on_retransmission() -> None:
    """§17.2.1: "while in the 'Completed' state, if a request retransmission is received, the server SHOULD
    pass the response to the transport for retransmission"."""
    stx = invite_stx(reliable=True)
    final = response(stx.request, 480)
    stx.send(final, 0.0)
    stx.messages_to_send()
    stx.receive(stx.request, 1.0)
    assert stx.messages_to_send() == [final]
    assert stx.get_timer() == 32.0  # only Timer H on reliable transports


def test_invite_ack_timer_i_zero_on_reliable() -> None:
    """Table 4: Timer I is "0s for TCP/SCTP"."""
    stx = invite_stx(reliable=True)
    stx.send(response(stx.request, 486), 0.0)
    stx.receive(request("ACK", cseq_method="ACK", to_tag="a6c85cf"), 0.3)
    assert stx.state is State.TERMINATED


def test_invite_2xx_accepted_absorbs_retransmissions_timer_l() -> None:
    """RFC 6026 §8.5-8.7: on a 2xx the transaction enters Accepted and starts Timer L (64*T1); INVITE
    retransmissions are absorbed, further 2xx from the TU are sent, and Timer L ends it."""
    stx = invite_stx()
    ok = response(stx.request, 200)
    stx.send(ok, 1.0)
    stx.messages_to_send()
    stx.receive(stx.request, 1.5)
    assert stx.messages_to_send() == []
    stx.send(ok, 1.5)
    assert stx.messages_to_send() == [ok]
    assert stx.state is State.ACCEPTED and stx.get_timer() == 33.0
    stx.handle_timer(33.0)
    assert stx.state is State.TERMINATED


def test_second_final_response_is_a_local_error() -> None:
    """§17.2.1: "Any other final responses passed by the TU to the server transaction MUST be discarded
    while in the 'Completed' state" - passing one is a TU bug."""
    stx = invite_stx()
    stx.send(response(stx.request, 486), 0.0)
    with pytest.raises(LocalProtocolError, match="cannot send 200 in Completed"):
        stx.send(response(stx.request, 200), 0.1)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], State.PROCEEDING),
        ([180], State.PROCEEDING),
        ([180, 200], State.ACCEPTED),
        ([200, 200], State.ACCEPTED),
        ([183, 500], State.COMPLETED),
    ],
)
def test_invite_server_transition_table(statuses: list[int], expected: State) -> None:
    """§17.2.1 Figure 7 / RFC 6026 Figure 4: the state reached after each TU response sequence."""
    stx = invite_stx()
    for status in statuses:
        stx.send(response(stx.request, status), 0.0)
    assert stx.state is expected


def test_non_invite_trying_absorbs_retransmission() -> None:
    """§17.2.2: "While in the 'Trying' state, if the request is retransmitted, it is merely discarded"."""
    stx = options_stx()
    stx.receive(stx.request, 0.5)
    assert stx.messages_to_send() == []
    assert stx.state is State.TRYING


def test_non_invite_proceeding_and_completed_resend() -> None:
    """§17.2.2: in Proceeding a retransmission gets "the most recent provisional response"; in Completed
    "the server transaction MUST pass the final response to the transport layer for retransmission"."""
    stx = options_stx()
    trying = response(stx.request, 100)
    stx.send(trying, 0.0)
    stx.receive(stx.request, 0.5)
    assert stx.messages_to_send() == [trying, trying]
    ok = response(stx.request, 200)
    stx.send(ok, 1.0)
    stx.receive(stx.request, 1.5)
    assert stx.messages_to_send() == [ok, ok]


def test_non_invite_timer_j() -> None:
    """§17.2.2: "it MUST set Timer J to fire in 64*T1 seconds for unreliable transports, and zero seconds
    for reliable transports"."""
    stx = options_stx()
    stx.send(response(stx.request, 200), 1.0)
    assert stx.get_timer() == 33.0
    stx.handle_timer(32.9)
    assert stx.state is State.COMPLETED
    stx.handle_timer(33.0)
    assert stx.state is State.TERMINATED
    reliable = options_stx(reliable=True)
    reliable.send(response(reliable.request, 200), 1.0)
    assert reliable.state is State.TERMINATED


def test_non_invite_completed_rejects_new_final() -> None:
    """§17.2.2: "Any other final responses passed by the TU to the server transaction MUST be discarded
    while in the 'Completed' state" - raised as a LocalProtocolError."""
    stx = options_stx()
    stx.send(response(stx.request, 200), 0.0)
    with pytest.raises(LocalProtocolError):
        stx.send(response(stx.request, 500), 0.0)
