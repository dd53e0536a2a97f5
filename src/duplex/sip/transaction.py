"""The four SIP transaction state machines (RFC 3261 §17, RFC 6026).

Rules of this module (h11 style):

1. Sans-IO: no sockets, no asyncio, no clock. Inputs are ``receive(msg, now)``, ``send(response, now)``,
   ``handle_timer(now)`` and ``transport_error(now)``; outputs are drained with ``messages_to_send()`` and
   ``events()``; ``get_timer()`` returns the next deadline.
2. Each machine is a ``{state: {input: new_state}}`` table. An input that is not in the table and not in the
   state's ``IGNORED`` set raises :class:`LocalProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from duplex.sip._txn_base import State, Table, Transaction, TxnInput, classify_status
from duplex.sip._txn_util import make_ack, make_response
from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import ResponseReceived, TransactionKey
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.timers import DEFAULT_TIMERS, TimerConfig

__all__ = [
    "ClientTransaction",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "ServerTransaction",
    "State",
    "Transaction",
    "TxnInput",
    "classify_status",
]

S = State
I = TxnInput  # noqa: E741 - short alias for the tables only


class ClientTransaction(Transaction):
    """Base of the two client transactions: the request goes out on construction."""

    def __init__(
        self,
        request: SipRequest,
        key: TransactionKey,
        *,
        now: float,
        reliable: bool = False,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        super().__init__(request, key, reliable=reliable, timers=timers)
        self._interval = timers.t1
        self._outgoing.append(request)
        self._start(now)

    def _start(self, now: float) -> None:
        raise NotImplementedError

    def receive(self, response: SipResponse, now: float) -> None:
        """Feed a response that matched this transaction (RFC 3261 §17.1.3)."""
        raise NotImplementedError

    def _pass_up(self, response: SipResponse) -> None:
        self._events.append(ResponseReceived(response=response, key=self.key))


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 (Figure 5) with the RFC 6026 Accepted state (Figure 3)."""

    INITIAL = S.CALLING
    TRANSITIONS: ClassVar[Table] = {
        S.CALLING: {
            I.TIMER_A: S.CALLING,
            I.TIMER_B: S.TERMINATED,
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.ACCEPTED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.PROCEEDING: {
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.ACCEPTED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.COMPLETED: {I.FAILURE: S.COMPLETED, I.TIMER_D: S.TERMINATED, I.TRANSPORT_ERROR: S.TERMINATED},
        S.ACCEPTED: {I.SUCCESS: S.ACCEPTED, I.TIMER_M: S.TERMINATED},
    }
    IGNORED: ClassVar[Mapping[State, frozenset[TxnInput]]] = {
        S.COMPLETED: frozenset({I.PROVISIONAL, I.SUCCESS}),
        S.ACCEPTED: frozenset({I.PROVISIONAL, I.FAILURE, I.TRANSPORT_ERROR}),
    }

    def _start(self, now: float) -> None:
        # "If an unreliable transport is being used, the client transaction MUST start timer A with a value
        # of T1 ... For any transport, the client transaction MUST start timer B with a value of 64*T1."
        if not self.reliable:
            self._arm(I.TIMER_A, now, self.timers.a)
        self._arm(I.TIMER_B, now, self.timers.b)
        self._ack: SipRequest | None = None

    def receive(self, response: SipResponse, now: float) -> None:
        inp = classify_status(response.status)
        previous = self.state
        if not self._apply(inp):
            return
        if inp is I.PROVISIONAL:
            self._cancel(I.TIMER_A, I.TIMER_B)
            self._pass_up(response)
        elif inp is I.SUCCESS:
            # RFC 6026 §8.4: "the client transaction MUST transition to the 'Accepted' state, and Timer M
            # MUST be started with a value of 64*T1"; 2xx in Accepted "MUST be passed up to the TU".
            if previous is not S.ACCEPTED:
                self._cancel(I.TIMER_A, I.TIMER_B)
                self._arm(I.TIMER_M, now, self.timers.m)
            self._pass_up(response)
        else:
            self._on_failure(response, previous, now)

    def _on_failure(self, response: SipResponse, previous: State, now: float) -> None:
        # §17.1.1.2: "the client transaction MUST pass the received response up to the TU, and the client
        # transaction MUST generate an ACK request ... Any retransmissions of the final response that are
        # received while in the 'Completed' state MUST cause the ACK to be re-passed to the transport layer
        # ... but the newly received response MUST NOT be passed up to the TU."
        if previous is S.COMPLETED:
            if self._ack is not None:
                self._outgoing.append(self._ack)
            return
        self._cancel(I.TIMER_A, I.TIMER_B)
        self._ack = make_ack(self.request, response)
        self._outgoing.append(self._ack)
        self._pass_up(response)
        self._arm(I.TIMER_D, now, self.timers.d(self.reliable))

    def _timer_handlers(self) -> Mapping[TxnInput, Callable[[float], None]]:
        return {I.TIMER_A: self._on_timer_a, I.TIMER_B: lambda now: self._timeout(I.TIMER_B)}

    def _on_timer_a(self, now: float) -> None:
        # "When timer A fires, the client transaction MUST retransmit the request ... and reset the timer
        # with a value of 2*T1 ... each time timer A fires, the duration doubles."
        self._outgoing.append(self.request)
        self._interval *= 2
        self._arm(I.TIMER_A, now, self._interval)


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.2 (Figure 6)."""

    INITIAL = S.TRYING
    TRANSITIONS: ClassVar[Table] = {
        S.TRYING: {
            I.TIMER_E: S.TRYING,
            I.TIMER_F: S.TERMINATED,
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.COMPLETED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.PROCEEDING: {
            I.TIMER_E: S.PROCEEDING,
            I.TIMER_F: S.TERMINATED,
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.COMPLETED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.COMPLETED: {I.TIMER_K: S.TERMINATED},
    }
    IGNORED: ClassVar[Mapping[State, frozenset[TxnInput]]] = {
        S.COMPLETED: frozenset({I.PROVISIONAL, I.SUCCESS, I.FAILURE, I.TRANSPORT_ERROR}),
    }

    def _start(self, now: float) -> None:
        # "If an unreliable transport is in use, the client transaction MUST set timer E to fire in T1
        # seconds" and "the 'Trying' state ... MUST set timer F to fire in 64*T1 seconds".
        if not self.reliable:
            self._arm(I.TIMER_E, now, self.timers.e)
        self._arm(I.TIMER_F, now, self.timers.f)

    def receive(self, response: SipResponse, now: float) -> None:
        inp = classify_status(response.status)
        if not self._apply(inp):
            return
        self._pass_up(response)
        if inp is not I.PROVISIONAL:
            # "Once the client transaction enters the 'Completed' state, it MUST set Timer K to fire in T4
            # seconds for unreliable transports, and zero seconds for reliable transports."
            self._cancel(I.TIMER_E, I.TIMER_F)
            self._arm(I.TIMER_K, now, self.timers.k(self.reliable))

    def _timer_handlers(self) -> Mapping[TxnInput, Callable[[float], None]]:
        return {I.TIMER_E: self._on_timer_e, I.TIMER_F: lambda now: self._timeout(I.TIMER_F)}

    def _on_timer_e(self, now: float) -> None:
        # Trying: "reset the timer with a value of MIN(2*T1, T2) ... MIN(4*T1, T2)"; Proceeding: "Timer E
        # MUST be reset with a value of T2 seconds".
        self._outgoing.append(self.request)
        if self.state is S.PROCEEDING:
            self._interval = self.timers.t2
        else:
            self._interval = min(2 * self._interval, self.timers.t2)
        self._arm(I.TIMER_E, now, self._interval)


class ServerTransaction(Transaction):
    """Base of the two server transactions: created by the transaction layer from a received request."""

    def __init__(
        self,
        request: SipRequest,
        key: TransactionKey,
        *,
        now: float,
        reliable: bool = False,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        super().__init__(request, key, reliable=reliable, timers=timers)
        self.last_response: SipResponse | None = None
        self._start(now)

    def _start(self, now: float) -> None:
        """Hook run once on construction."""

    def receive(self, request: SipRequest, now: float) -> None:
        """Feed a request that matched this transaction (RFC 3261 §17.2.3)."""
        inp = I.ACK if request.method == "ACK" else I.REQUEST
        if self._apply(inp):
            self._on_request(inp, request, now)

    def send(self, response: SipResponse, now: float) -> None:
        """Pass a response from the TU to the transport through this transaction.

        Raises:
            LocalProtocolError: the response is not allowed in the current state, for example a second
                final response ("Any other final responses passed by the TU ... MUST be discarded").
        """
        inp = classify_status(response.status)
        previous = self.state
        if inp not in self.TRANSITIONS.get(self.state, {}):
            raise LocalProtocolError(
                f"{type(self).__name__}: cannot send {response.status} in {previous.value}"
            )
        self._apply(inp)
        self.last_response = response
        self._outgoing.append(response)
        self._on_response(inp, previous, now)

    def _on_request(self, inp: TxnInput, request: SipRequest, now: float) -> None:
        # Retransmitted request: "the most recent provisional [or final] response that was received from the
        # TU MUST be passed to the transport layer for retransmission".
        if inp is I.REQUEST and self.last_response is not None:
            self._outgoing.append(self.last_response)

    def _on_response(self, inp: TxnInput, previous: State, now: float) -> None:
        raise NotImplementedError


class InviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 (Figure 7) with the RFC 6026 Accepted state (Figure 4)."""

    INITIAL = S.PROCEEDING
    TRANSITIONS: ClassVar[Table] = {
        S.PROCEEDING: {
            I.REQUEST: S.PROCEEDING,
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.ACCEPTED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.COMPLETED: {
            I.REQUEST: S.COMPLETED,
            I.ACK: S.CONFIRMED,
            I.TIMER_G: S.COMPLETED,
            I.TIMER_H: S.TERMINATED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.CONFIRMED: {I.TIMER_I: S.TERMINATED},
        S.ACCEPTED: {I.SUCCESS: S.ACCEPTED, I.TIMER_L: S.TERMINATED},
    }
    IGNORED: ClassVar[Mapping[State, frozenset[TxnInput]]] = {
        S.PROCEEDING: frozenset({I.ACK}),
        S.CONFIRMED: frozenset({I.REQUEST, I.ACK, I.TRANSPORT_ERROR}),
        # RFC 6026 §8.5: retransmitted INVITEs in Accepted are absorbed; ACKs for 2xx go to the TU.
        S.ACCEPTED: frozenset({I.REQUEST, I.ACK, I.TRANSPORT_ERROR}),
    }

    def __init__(
        self,
        request: SipRequest,
        key: TransactionKey,
        *,
        now: float,
        reliable: bool = False,
        timers: TimerConfig = DEFAULT_TIMERS,
        send_trying: bool = True,
    ) -> None:
        self._send_trying = send_trying
        super().__init__(request, key, now=now, reliable=reliable, timers=timers)

    def _start(self, now: float) -> None:
        # "the server transaction MUST generate a 100 (Trying) response unless it knows that the TU will
        # generate a provisional or final response within 200 ms".
        if self._send_trying:
            self.send(make_response(self.request, 100), now)

    def _on_response(self, inp: TxnInput, previous: State, now: float) -> None:
        if inp is I.SUCCESS and previous is S.PROCEEDING:
            # RFC 6026 §8.5: "the server transaction MUST transition to the 'Accepted' state ... Timer L".
            self._arm(I.TIMER_L, now, self.timers.l)
        elif inp is I.FAILURE:
            # "For unreliable transports, timer G is set to fire in T1 seconds ... [and] timer H MUST be set
            # to fire in 64*T1 seconds for all transports."
            self._interval = self.timers.g
            if not self.reliable:
                self._arm(I.TIMER_G, now, self._interval)
            self._arm(I.TIMER_H, now, self.timers.h)

    def _on_request(self, inp: TxnInput, request: SipRequest, now: float) -> None:
        if inp is I.ACK:
            # "If an ACK is received while the server transaction is in the 'Completed' state, the server
            # transaction MUST transition to the 'Confirmed' state ... timer I is set to fire in T4 seconds
            # for unreliable transports, and zero seconds for reliable transports."
            self._cancel(I.TIMER_G, I.TIMER_H)
            self._arm(I.TIMER_I, now, self.timers.i(self.reliable))
        else:
            super()._on_request(inp, request, now)

    def _timer_handlers(self) -> Mapping[TxnInput, Callable[[float], None]]:
        return {I.TIMER_G: self._on_timer_g, I.TIMER_H: lambda now: self._timeout(I.TIMER_H)}

    def _on_timer_g(self, now: float) -> None:
        # "If timer G fires, the response is passed to the transport layer once more for retransmission, and
        # timer G is set to fire in MIN(2*T1, T2) seconds."
        if self.last_response is not None:
            self._outgoing.append(self.last_response)
        self._interval = min(2 * self._interval, self.timers.t2)
        self._arm(I.TIMER_G, now, self._interval)


class NonInviteServerTransaction(ServerTransaction):
    """RFC 3261 §17.2.2 (Figure 8)."""

    INITIAL = S.TRYING
    TRANSITIONS: ClassVar[Table] = {
        S.TRYING: {
            I.REQUEST: S.TRYING,
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.COMPLETED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.PROCEEDING: {
            I.REQUEST: S.PROCEEDING,
            I.PROVISIONAL: S.PROCEEDING,
            I.SUCCESS: S.COMPLETED,
            I.FAILURE: S.COMPLETED,
            I.TRANSPORT_ERROR: S.TERMINATED,
        },
        S.COMPLETED: {I.REQUEST: S.COMPLETED, I.TIMER_J: S.TERMINATED, I.TRANSPORT_ERROR: S.TERMINATED},
    }
    IGNORED: ClassVar[Mapping[State, frozenset[TxnInput]]] = {}

    def _on_response(self, inp: TxnInput, previous: State, now: float) -> None:
        # "When the server transaction enters the 'Completed' state, it MUST set Timer J to fire in 64*T1
        # seconds for unreliable transports, and zero seconds for reliable transports."
        if inp is not I.PROVISIONAL:
            self._arm(I.TIMER_J, now, self.timers.j(self.reliable))
