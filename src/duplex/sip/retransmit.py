"""2xx retransmission by the UAS until the ACK arrives (RFC 3261 §13.3.1.4), one object per answered INVITE.

Sans-IO: the owner calls ``handle_timer(now)`` at ``get_timer()`` and sends what it returns.
"""

from __future__ import annotations

from duplex.sip.events import Address
from duplex.sip.message import SipResponse
from duplex.sip.timers import TimerConfig

__all__ = ["SuccessRetransmitter"]


class SuccessRetransmitter:
    """UAS retransmission of a 2xx to INVITE until the ACK arrives (RFC 3261 §13.3.1.4).

    "The 2xx response is passed to the transport with an interval that starts at T1 seconds and doubles for
    each retransmission until it reaches T2 seconds ... If the server retransmits the 2xx response for 64*T1
    seconds without receiving an ACK, the dialog is confirmed, but the session SHOULD be terminated."
    """

    def __init__(self, response: SipResponse, addr: Address, *, now: float, timers: TimerConfig) -> None:
        self.response = response
        self.addr = addr
        self.timers = timers
        self.interval = timers.t1
        self.next_send = now + self.interval
        self.give_up_at = now + 64 * timers.t1
        self.acked = False
        self.timed_out = False

    def get_timer(self) -> float | None:
        if self.acked or self.timed_out:
            return None
        return min(self.next_send, self.give_up_at)

    def ack_received(self) -> None:
        """ "The server retransmits the 2xx response ... until it receives an ACK"."""
        self.acked = True

    def handle_timer(self, now: float) -> list[SipResponse]:
        """Return the retransmissions due at ``now``; set ``timed_out`` after 64*T1."""
        out: list[SipResponse] = []
        if self.acked or self.timed_out:
            return out
        if now >= self.give_up_at:
            self.timed_out = True
            return out
        while self.next_send <= now:
            out.append(self.response)
            self.interval = min(2 * self.interval, self.timers.t2)
            self.next_send += self.interval
        return out
