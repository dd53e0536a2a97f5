"""The SIP transaction layer of one endpoint (RFC 3261 §17.1.3, §17.2.3, §9.2).

Rules of this module (h11 style):

1. Sans-IO: bytes and messages in, ``(bytes, address)`` pairs and events out; time is an argument.
2. The layer owns matching, retransmission absorption and the CANCEL/487 dance; everything that needs a
   dialog (2xx retransmissions, the ACK for 2xx) is passed up to the TU as an event.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque

from duplex.sip._txn_util import (
    client_key,
    cseq_method,
    make_cancel,
    make_response,
    server_key,
    to_tag,
)
from duplex.sip.errors import LocalProtocolError, RemoteProtocolError
from duplex.sip.events import (
    AckReceived,
    Address,
    CancelReceived,
    Event,
    RequestReceived,
    StrayResponseReceived,
    TransactionKey,
)
from duplex.sip.message import SipRequest, SipResponse, parse_message
from duplex.sip.timers import DEFAULT_TIMERS, TimerConfig
from duplex.sip.transaction import (
    ClientTransaction,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    State,
    Transaction,
)

__all__ = ["BRANCH_MAGIC_COOKIE", "TransactionLayer"]

BRANCH_MAGIC_COOKIE = "z9hG4bK"
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class TransactionLayer:
    """All client and server transactions of one SIP endpoint.

    Args:
        rng: the only source of randomness (branches, tags); inject a seeded one in tests.
        timers: timer values; shrink ``t1`` in tests and the simulator.
        reliable: default transport reliability (True for TCP/TLS/WS: no retransmissions); `send_request` and
            `receive` take a per-transaction ``reliable`` that overrides it.
        send_trying: let INVITE server transactions answer 100 Trying at once (§17.2.1).
        max_transactions: hard bound on the transaction table. A new request arriving when it is full gets a
            stateless 503 with Retry-After and creates no transaction, so no input can grow it without limit.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        timers: TimerConfig = DEFAULT_TIMERS,
        reliable: bool = False,
        send_trying: bool = True,
        max_transactions: int = 50_000,
    ) -> None:
        self.rng = rng
        self.timers = timers
        self.reliable = reliable
        self.send_trying = send_trying
        self.transactions: dict[TransactionKey, Transaction] = {}
        self.dropped = 0
        self.max_transactions = max_transactions
        self.overloaded = 0  # requests refused because the table was full
        self._peers: dict[TransactionKey, Address] = {}
        self._pending_cancel: set[TransactionKey] = set()
        self._datagrams: list[tuple[bytes, Address]] = []
        self._events: deque[Event] = deque()
        # Timer index: a heap of (deadline, sequence, transaction) with lazy invalidation. An entry is live
        # while its transaction is still registered and its armed deadline is still that value; everything
        # else is dropped when it reaches the top. `get_timer` is O(1) amortised, each re-arm O(log n).
        self._heap: list[tuple[float, int, Transaction]] = []
        self._armed: dict[TransactionKey, float] = {}
        self._seq = itertools.count()

    # -- identifiers -----------------------------------------------------------------------------------
    def new_token(self, length: int = 10) -> str:
        """A random token from the injected RNG (tags, Call-ID parts)."""
        return "".join(self.rng.choice(_TOKEN_ALPHABET) for _ in range(length))

    def new_branch(self) -> str:
        """RFC 3261 §8.1.1.7: "The branch ID inserted by an element compliant with this specification MUST
        always begin with the characters 'z9hG4bK'"."""
        return BRANCH_MAGIC_COOKIE + self.new_token(16)

    # -- outputs ---------------------------------------------------------------------------------------
    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        """Return and clear the wire messages with their destinations."""
        out, self._datagrams = self._datagrams, []
        return out

    def next_event(self) -> Event | None:
        """Pop the oldest event for the TU, or None."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        """Return and clear all pending events."""
        out = list(self._events)
        self._events.clear()
        return out

    def get_timer(self) -> float | None:
        """The earliest deadline over all transactions (stale heap entries are discarded on the way)."""
        heap = self._heap
        while heap:
            deadline, _, txn = heap[0]
            if self._live(deadline, txn):
                return deadline
            heapq.heappop(heap)
            self._rearm(txn)
        return None

    def handle_timer(self, now: float) -> None:
        """Fire the due timers, earliest deadline first; only due transactions are visited."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, txn = heapq.heappop(heap)
            if not self._live(deadline, txn):
                self._rearm(txn)
                continue
            del self._armed[txn.key]
            txn.handle_timer(now)
            self._flush(txn)

    def _live(self, deadline: float, txn: Transaction) -> bool:
        return self._armed.get(txn.key) == deadline and self.transactions.get(txn.key) is txn

    def _rearm(self, txn: Transaction) -> None:
        """Index ``txn``'s current deadline if it changed since it was last indexed."""
        key = txn.key
        if self.transactions.get(key) is not txn:
            return
        deadline = txn.get_timer()
        if deadline is None:
            self._armed.pop(key, None)
        elif self._armed.get(key) != deadline:
            self._armed[key] = deadline
            heapq.heappush(self._heap, (deadline, next(self._seq), txn))

    # -- TU inputs -------------------------------------------------------------------------------------
    def send_request(
        self, request: SipRequest, addr: Address, now: float, *, reliable: bool | None = None
    ) -> TransactionKey:
        """Start a client transaction for ``request`` (which must carry a top Via with a fresh branch).

        Raises:
            LocalProtocolError: ACK (the ACK for 2xx is sent with :meth:`send_stateless`) or a duplicate branch.
        """
        if request.method == "ACK":
            raise LocalProtocolError("ACK is not sent in a transaction; use send_stateless()")
        key = client_key(request)
        if key in self.transactions:
            raise LocalProtocolError(f"a client transaction with branch {key.branch} already exists")
        cls = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        rel = self.reliable if reliable is None else reliable
        txn = cls(request, key, now=now, reliable=rel, timers=self.timers)
        self._peers[key] = addr
        self.transactions[key] = txn
        self._flush(txn)
        return key

    def send_response(self, key: TransactionKey, response: SipResponse, now: float) -> None:
        """Send a response through the server transaction ``key``.

        Raises:
            LocalProtocolError: no such server transaction, or the state forbids the response.
        """
        txn = self.transactions.get(key)
        if not isinstance(txn, ServerTransaction):
            raise LocalProtocolError(f"no server transaction {key}", 481)
        txn.send(response, now)
        self._flush(txn)

    def send_stateless(self, message: SipRequest | SipResponse, addr: Address) -> None:
        """Pass a message straight to the transport (ACK for 2xx, 2xx retransmissions by the UAS core)."""
        self._datagrams.append((bytes(message), addr))

    def cancel(self, invite_key: TransactionKey, now: float) -> TransactionKey | None:
        """Cancel a pending INVITE client transaction (RFC 3261 §9.1).

        "If no provisional response has been received, the CANCEL request MUST NOT be sent; rather, the
        client MUST wait for the arrival of a provisional response before sending the request." Such a
        CANCEL is queued and sent on the first provisional response; None is returned.

        Returns:
            the CANCEL client transaction key, or None when the CANCEL is deferred or pointless.
        """
        txn = self.transactions.get(invite_key)
        if not isinstance(txn, InviteClientTransaction):
            raise LocalProtocolError(f"no INVITE client transaction {invite_key}")
        if txn.state is State.CALLING:
            self._pending_cancel.add(invite_key)
            return None
        if txn.state is not State.PROCEEDING:
            return None
        return self.send_request(
            make_cancel(txn.request), self._peers[invite_key], now, reliable=txn.reliable
        )

    def keys_to(self, addr: Address) -> list[TransactionKey]:
        """The live transactions whose messages go to ``addr`` (to fail them when its connection fails)."""
        return [key for key, peer in self._peers.items() if peer == addr]

    def transport_error(self, key: TransactionKey, now: float) -> None:
        """Report a transport failure for ``key`` (ICMP unreachable, TCP reset): RFC 3261 §17.1.4 and
        §17.2.4 - the transaction informs the TU and terminates."""
        txn = self.transactions.get(key)
        if txn is not None:
            txn.transport_error(now)
            self._flush(txn)

    def abandon(self, key: TransactionKey) -> None:
        """Drop the server transaction ``key`` that the TU decided never to answer (a banned source gets
        silence). Trying and Proceeding have no timer, so without this it would hold its request forever."""
        txn = self.transactions.get(key)
        if isinstance(txn, ServerTransaction) and txn.state in (State.TRYING, State.PROCEEDING):
            self._forget(key)

    # -- network inputs --------------------------------------------------------------------------------
    def receive_data(self, data: bytes, addr: Address, now: float, *, reliable: bool | None = None) -> None:
        """Parse one datagram and feed it; malformed datagrams are dropped and counted (RFC 3261 §16.3)."""
        try:
            message = parse_message(data)
        except RemoteProtocolError:
            self.dropped += 1
            return
        self.receive(message, addr, now, reliable=reliable)

    def receive(
        self, message: SipRequest | SipResponse, addr: Address, now: float, *, reliable: bool | None = None
    ) -> None:
        """Feed one parsed message from ``addr``.

        Args:
            reliable: whether ``addr`` is reached over a stream transport; a server transaction this request
                creates takes it (RFC 3261 §17.2: no retransmissions and zero Timers I/J over TCP). None means
                the layer's default.
        """
        if isinstance(message, SipResponse):
            self._receive_response(message, addr, now)
        else:
            self._receive_request(message, addr, now, self.reliable if reliable is None else reliable)

    def _receive_response(self, response: SipResponse, addr: Address, now: float) -> None:
        # §17.1.3: match on the top Via branch and the CSeq method.
        if response.branch is None:
            self.dropped += 1  # not ours: every request we send carries a branch
            return
        txn = self.transactions.get(client_key(response))
        if not isinstance(txn, ClientTransaction):
            if 200 <= response.status < 300 and cseq_method(response) == "INVITE":
                self._events.append(StrayResponseReceived(response=response, addr=addr))
            else:
                self.dropped += 1
            return
        txn.receive(response, now)
        self._flush(txn)
        if txn.key in self._pending_cancel and txn.state is not State.CALLING:
            self._pending_cancel.discard(txn.key)
            self.cancel(txn.key, now)

    def _receive_request(self, request: SipRequest, addr: Address, now: float, reliable: bool) -> None:
        key = server_key(request)
        txn = self.transactions.get(key)
        if isinstance(txn, ServerTransaction):
            if request.method == "ACK" and txn.state is State.ACCEPTED:
                # RFC 6026 §8.5: an ACK reaching an Accepted INVITE server transaction goes to the TU.
                self._events.append(AckReceived(request=request, addr=addr))
                return
            txn.receive(request, now)  # retransmission or ACK for non-2xx: absorbed
            self._flush(txn)
            return
        if request.method == "ACK":
            # §17.2.3: an ACK matching no transaction "is passed to the TU" (the ACK for a 2xx).
            self._events.append(AckReceived(request=request, addr=addr))
            return
        if len(self.transactions) >= self.max_transactions:
            self._refuse_overloaded(request, addr)
            return
        txn = self._new_server_transaction(request, key, addr, now, reliable)
        if request.method == "CANCEL":
            self._on_cancel(request, txn, now)
        else:
            self._events.append(RequestReceived(request=request, key=key, addr=addr))

    def _refuse_overloaded(self, request: SipRequest, addr: Address) -> None:
        # RFC 3261 §21.5.4: 503 "The server is temporarily unable to process the request due to a temporary
        # overloading"; stateless, since holding state for it is what we cannot afford.
        self.overloaded += 1
        response = make_response(request, 503, tag=self.new_token(8))
        response.headers.add("Retry-After", "5")
        self.send_stateless(response, addr)

    def _new_server_transaction(
        self, request: SipRequest, key: TransactionKey, addr: Address, now: float, reliable: bool
    ) -> ServerTransaction:
        txn: ServerTransaction
        if request.method == "INVITE":
            txn = InviteServerTransaction(
                request,
                key,
                now=now,
                reliable=reliable,
                timers=self.timers,
                send_trying=self.send_trying,
            )
        else:
            txn = NonInviteServerTransaction(request, key, now=now, reliable=reliable, timers=self.timers)
        self.transactions[key] = txn
        self._peers[key] = addr
        self._flush(txn)
        return txn

    def _on_cancel(self, cancel: SipRequest, txn: ServerTransaction, now: float) -> None:
        """RFC 3261 §9.2: answer the CANCEL and, if the INVITE is still pending, 487 it."""
        invite_key = TransactionKey(txn.key.branch, "INVITE", txn.key.sent_by)
        invite = self.transactions.get(invite_key)
        if not isinstance(invite, InviteServerTransaction):
            # "If the UAS did not find a matching transaction for the CANCEL ... it SHOULD respond to the
            # CANCEL with a 481 (Call Leg/Transaction Does Not Exist)."
            self.send_response(txn.key, make_response(cancel, 481, tag=self.new_token(8)), now)
            return
        # "the UAS SHOULD respond to the CANCEL ... with a 200 (OK) response" - and the To tag of the
        # CANCEL response equals that of the response to the original request.
        tag = self._response_tag(invite)
        self.send_response(txn.key, make_response(cancel, 200, tag=tag), now)
        if invite.state is State.PROCEEDING:
            # "If the original request was an INVITE, the UAS SHOULD immediately respond to the INVITE with
            # a 487 (Request Terminated)."
            self.send_response(invite_key, make_response(invite.request, 487, tag=tag), now)
            self._events.append(CancelReceived(request=cancel, invite_key=invite_key))

    def _response_tag(self, invite: InviteServerTransaction) -> str:
        last = invite.last_response
        tag = to_tag(last) if last is not None else None
        return tag or self.new_token(8)

    # -- plumbing --------------------------------------------------------------------------------------
    def _flush(self, txn: Transaction) -> None:
        addr = self._peers[txn.key]
        for message in txn.messages_to_send():
            self._datagrams.append((bytes(message), addr))
        self._events.extend(txn.events())
        if txn.terminated:
            self._forget(txn.key)
        else:
            self._rearm(txn)

    def _forget(self, key: TransactionKey) -> None:
        self.transactions.pop(key, None)
        self._peers.pop(key, None)
        self._pending_cancel.discard(key)
        self._armed.pop(key, None)
