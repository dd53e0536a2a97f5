"""The UAS side of 2xx-to-INVITE reliability for every leg of the engine (RFC 3261 §13.3.1.4), sans-IO.

One `duplex.sip.retransmit.SuccessRetransmitter` per answered INVITE (initial or re-INVITE), keyed by
``(Call-ID, local tag, CSeq number)``, which the ACK for that 2xx carries too. The engine asks `get_timer()` for
the earliest deadline and feeds `handle_timer(now)`; what comes out is the retransmissions to send and the
INVITEs whose ACK never came ("the dialog is confirmed, but the session SHOULD be terminated").

Over a reliable transport (TCP, TLS, WS) nothing is retransmitted: the connection already delivers the 2xx,
and only the 64*T1 wait for the ACK is kept.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from duplex.sip.events import Address
from duplex.sip.message import SipResponse
from duplex.sip.retransmit import SuccessRetransmitter
from duplex.sip.timers import TimerConfig

__all__ = ["AckKey", "AckWaiters", "Due"]

AckKey = tuple[str, str, int]
"""(Call-ID, local tag, CSeq number of the INVITE)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """What `AckWaiters.handle_timer` asks the engine to do."""

    resend: list[tuple[SipResponse, Address]]
    timed_out: list[AckKey]


class AckWaiters:
    """Pending 2xx responses that wait for their ACK.

    Deadlines sit in a heap of ``(deadline, sequence, key, retransmitter)``; an entry whose retransmitter was
    acknowledged, cancelled or re-armed is stale and dropped when it reaches the top, so `get_timer` does not
    visit every waiting 2xx.
    """

    def __init__(self, timers: TimerConfig) -> None:
        self.timers = timers
        self._waiting: dict[AckKey, tuple[SuccessRetransmitter, bool]] = {}
        self._heap: list[tuple[float, int, AckKey, SuccessRetransmitter]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, key: object) -> bool:
        return key in self._waiting

    def add(self, key: AckKey, response: SipResponse, addr: Address, now: float, *, reliable: bool) -> None:
        """Start retransmitting ``response`` to ``addr`` (only waiting, when ``reliable``)."""
        retransmitter = SuccessRetransmitter(response, addr, now=now, timers=self.timers)
        self._waiting[key] = (retransmitter, reliable)
        self._push(key, retransmitter)

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
        heap = self._heap
        while heap:
            deadline, _, key, retransmitter = heap[0]
            if self._live(deadline, key, retransmitter):
                return deadline
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> Due:
        resend: list[tuple[SipResponse, Address]] = []
        timed_out: list[AckKey] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, key, retransmitter = heapq.heappop(heap)
            if not self._live(deadline, key, retransmitter):
                continue
            reliable = self._waiting[key][1]
            due = retransmitter.handle_timer(now)
            if not reliable:
                resend.extend((response, retransmitter.addr) for response in due)
            if retransmitter.timed_out:
                del self._waiting[key]
                timed_out.append(key)
            else:
                self._push(key, retransmitter)
        return Due(resend=resend, timed_out=timed_out)

    def _live(self, deadline: float, key: AckKey, retransmitter: SuccessRetransmitter) -> bool:
        entry = self._waiting.get(key)
        return entry is not None and entry[0] is retransmitter and retransmitter.get_timer() == deadline

    def _push(self, key: AckKey, retransmitter: SuccessRetransmitter) -> None:
        deadline = retransmitter.get_timer()
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, next(self._seq), key, retransmitter))
