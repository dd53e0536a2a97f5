"""Shared machinery of the SIP transaction state machines: states, inputs, the table walk and timers.

Rules of this module (h11 style):

1. Sans-IO: no sockets, no asyncio, no clock; ``now`` is always an argument.
2. A transition missing from a machine's table (and not absorbed by its ``IGNORED`` set) raises
   :class:`LocalProtocolError`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import ClassVar

from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import Event, TransactionKey, TransactionTerminated, TransactionTimeout, TransportError
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.timers import TimerConfig

__all__ = ["State", "Table", "Transaction", "TxnInput", "classify_status", "mermaid_diagram"]


class State(enum.Enum):
    """Transaction states, named as in RFC 3261 Figures 5-8 and RFC 6026 Figures 3-4."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    ACCEPTED = "Accepted"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class TxnInput(enum.Enum):
    """Inputs of the transaction tables: messages (classified), timers and transport errors."""

    REQUEST = "request retransmission"
    ACK = "ACK"
    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "300-699"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"


S = State
I = TxnInput  # noqa: E741 - short alias for the tables only
Table = Mapping[State, Mapping[TxnInput, State]]


def classify_status(status_code: int) -> TxnInput:
    """Map a status code onto the table input for responses."""
    if 100 <= status_code < 200:
        return I.PROVISIONAL
    if 200 <= status_code < 300:
        return I.SUCCESS
    if 300 <= status_code < 700:
        return I.FAILURE
    raise LocalProtocolError(f"status code {status_code} is outside 100-699")


class Transaction:
    """Common machinery: the table walk, timers and output queues."""

    TRANSITIONS: ClassVar[Table]
    IGNORED: ClassVar[Mapping[State, frozenset[TxnInput]]] = {}
    INITIAL: ClassVar[State]

    def __init__(
        self, request: SipRequest, key: TransactionKey, *, reliable: bool, timers: TimerConfig
    ) -> None:
        self.request = request
        self.key = key
        self.reliable = reliable
        self.timers = timers
        self.state = self.INITIAL
        self._deadlines: dict[TxnInput, float] = {}
        self._outgoing: list[SipRequest | SipResponse] = []
        self._events: list[Event] = []

    # -- outputs ---------------------------------------------------------------------------------------
    def messages_to_send(self) -> list[SipRequest | SipResponse]:
        """Return and clear the messages this transaction wants passed to the transport."""
        out, self._outgoing = self._outgoing, []
        return out

    def events(self) -> list[Event]:
        """Return and clear the events for the TU."""
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        """Return the earliest armed deadline, or None when no timer is running."""
        return min(self._deadlines.values(), default=None)

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    # -- inputs ----------------------------------------------------------------------------------------
    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is at or before ``now``, earliest first."""
        while True:
            due = [(when, name.value, name) for name, when in self._deadlines.items() if when <= now]
            if not due:
                return
            _, _, name = min(due)
            del self._deadlines[name]
            self._fire(name, now)

    def transport_error(self, now: float) -> None:
        """RFC 3261 §17.1.4/§17.2.4: "the client transaction SHOULD inform the TU that a transport failure
        has occurred, and the client transaction SHOULD transition directly to the 'Terminated' state"."""
        self._events.append(TransportError(key=self.key))
        self._apply(I.TRANSPORT_ERROR)

    # -- helpers ---------------------------------------------------------------------------------------
    def _allowed(self, inp: TxnInput) -> bool:
        """False when the state absorbs ``inp``; raises when the table has no transition for it."""
        if inp in self.IGNORED.get(self.state, frozenset()):
            return False
        if inp not in self.TRANSITIONS.get(self.state, {}):
            raise LocalProtocolError(
                f"{type(self).__name__}: {inp.value} is not allowed in state {self.state.value}"
            )
        return True

    def _apply(self, inp: TxnInput) -> bool:
        """Walk the table; return False when the input is absorbed without a transition."""
        if not self._allowed(inp):
            return False
        self.state = self.TRANSITIONS[self.state][inp]
        if self.state is S.TERMINATED:
            self._deadlines.clear()
            self._events.append(TransactionTerminated(key=self.key))
        return True

    def _fire(self, name: TxnInput, now: float) -> None:
        """A timer fired: run its action (retransmit, report timeout), then take the transition."""
        if self._allowed(name):
            self._on_timer(name, now)
            self._apply(name)

    def _arm(self, name: TxnInput, now: float, duration: float) -> None:
        """Start a timer; a zero duration (reliable transports) fires at once."""
        if duration <= 0:
            self._deadlines.pop(name, None)
            self._fire(name, now)
        else:
            self._deadlines[name] = now + duration

    def _cancel(self, *names: TxnInput) -> None:
        for name in names:
            self._deadlines.pop(name, None)

    def _timeout(self, name: TxnInput) -> None:
        self._events.append(TransactionTimeout(key=self.key, timer=name.value))

    def _on_timer(self, name: TxnInput, now: float) -> None:
        handler = self._timer_handlers().get(name)
        if handler is not None:
            handler(now)

    def _timer_handlers(self) -> Mapping[TxnInput, Callable[[float], None]]:
        return {}


def mermaid_diagram(machine: type[Transaction]) -> str:
    """Render a machine's table as a Mermaid ``stateDiagram-v2`` (the docs diagram comes from the table)."""
    lines = ["stateDiagram-v2", f"    [*] --> {machine.INITIAL.value}"]
    for state, row in machine.TRANSITIONS.items():
        for inp, new_state in row.items():
            target = "[*]" if new_state is State.TERMINATED else new_state.value
            lines.append(f"    {state.value} --> {target}: {inp.value}")
    return "\n".join(lines) + "\n"
