"""`AckWaiters`: 2xx retransmission until the ACK (RFC 3261 §13.3.1.4), deadlines kept in a heap."""

from __future__ import annotations

from duplex.sip._txn_util import make_response
from duplex.sip.message import SipRequest, parse_message
from duplex.sip.timers import TimerConfig
from duplex.telephony.acks import AckWaiters

T = TimerConfig(t1=0.5, t2=4.0, t4=5.0)
PEER = ("127.0.0.1", 5099)


def invite(n: int) -> SipRequest:
    text = (
        f"INVITE sip:1001@duplex SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKack{n}\r\n"
        f"To: <sip:1001@duplex>\r\nFrom: <sip:a@b>;tag=f{n}\r\nCall-ID: c{n}\r\nCSeq: 1 INVITE\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


def test_acked_and_cancelled_2xx_leave_the_timer() -> None:
    """Three 2xx at 0, 1, 2 s: the first is acknowledged and the second cancelled, so the next deadline is
    the third one's first retransmission (T1 after it was sent), and only it is retransmitted."""
    waiters = AckWaiters(T)
    for n in range(3):
        waiters.add((f"c{n}", "t", 1), make_response(invite(n), 200, tag="t"), PEER, float(n), reliable=False)
    assert waiters.get_timer() == 0.5
    assert waiters.ack(("c0", "t", 1)) and not waiters.ack(("c0", "t", 1))
    waiters.cancel(("c1", "t", 1))
    assert waiters.get_timer() == 2.5 and len(waiters) == 1
    due = waiters.handle_timer(2.5)
    assert [r.call_id for r, _ in due.resend] == ["c2"] and due.timed_out == []
    assert waiters.get_timer() == 3.5  # interval doubles: T1, 2*T1 ...


def test_unacknowledged_2xx_times_out_after_64_t1() -> None:
    """ "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK, the dialog is
    confirmed, but the session SHOULD be terminated." Over a reliable transport nothing is resent."""
    waiters = AckWaiters(T)
    waiters.add(("u", "t", 1), make_response(invite(1), 200, tag="t"), PEER, 0.0, reliable=False)
    waiters.add(("r", "t", 1), make_response(invite(2), 200, tag="t"), PEER, 0.0, reliable=True)
    resent: list[str] = []
    timed_out: list[str] = []
    while (deadline := waiters.get_timer()) is not None:
        due = waiters.handle_timer(deadline)
        resent.extend(r.call_id for r, _ in due.resend)
        timed_out.extend(k[0] for k in due.timed_out)
    assert set(resent) == {"c1"} and len(resent) == 10  # 0.5, 1.5, 3.5, 7.5, 11.5 ... 31.5 s
    assert sorted(timed_out) == ["r", "u"] and len(waiters) == 0
