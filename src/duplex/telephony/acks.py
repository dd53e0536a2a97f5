"""The UAS side of 2xx-to-INVITE reliability for every leg of the engine (RFC 3261 §13.3.1.4), sans-IO.

One `duplex.sip.ua_core.SuccessRetransmitter` per answered INVITE (initial or re-INVITE), keyed by
``(Call-ID, local tag, CSeq number)``, which the ACK for that 2xx carries too. The engine asks `get_timer()` for
the earliest deadline and feeds `handle_timer(now)`; what comes out is the retransmissions to send and the
INVITEs whose ACK never came ("the dialog is confirmed, but the session SHOULD be terminated").

Over a reliable transport (TCP, TLS, WS) nothing is retransmitted: the connection already delivers the 2xx,
and only the 64*T1 wait for the ACK is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from duplex.sip.events import Address
from duplex.sip.message import SipResponse
from duplex.sip.timers import TimerConfig
from duplex.sip.ua_core import SuccessRetransmitter

__all__ = ["AckKey", "AckWaiters", "Due"]

AckKey = tuple[str, str, int]
"""(Call-ID, local tag, CSeq number of the INVITE)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """What `AckWaiters.handle_timer` asks the engine to do."""

    resend: list[tuple[SipResponse, Address]]
    timed_out: list[AckKey]


class AckWaiters:
    """Pending 2xx responses that wait for their ACK."""

    def __init__(self, timers: TimerConfig) -> None:
        self.timers = timers
        self._waiting: dict[AckKey, tuple[SuccessRetransmitter, bool]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, key: object) -> bool:
        return key in self._waiting

    def add(self, key: AckKey, response: SipResponse, addr: Address, now: float, *, reliable: bool) -> None:
        """Start retransmitting ``response`` to ``addr`` (only waiting, when ``reliable``)."""
        self._waiting[key] = (SuccessRetransmitter(response, addr, now=now, timers=self.timers), reliable)

    def ack(self, key: AckKey) -> bool:
        """The ACK arrived: stop. True if a 2xx was waiting for it."""
        entry = self._waiting.pop(key, None)
        if entry is None:
            return False
        entry[0].ack_received()
        return True

    def cancel(self, key: AckKey) -> None:
        """Stop without an ACK (the leg ended)."""
        self._waiting.pop(key, None)

    def get_timer(self) -> float | None:
        return min((d for r, _ in self._waiting.values() if (d := r.get_timer()) is not None), default=None)

    def handle_timer(self, now: float) -> Due:
        resend: list[tuple[SipResponse, Address]] = []
        timed_out: list[AckKey] = []
        for key, (retransmitter, reliable) in list(self._waiting.items()):
            deadline = retransmitter.get_timer()
            if deadline is None or deadline > now:
                continue
            due = retransmitter.handle_timer(now)
            if not reliable:
                resend.extend((response, retransmitter.addr) for response in due)
            if retransmitter.timed_out:
                del self._waiting[key]
                timed_out.append(key)
        return Due(resend=resend, timed_out=timed_out)
