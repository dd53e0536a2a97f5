"""The transaction layer's timer index (a heap with lazy invalidation) and per-transaction reliability.

The index must always agree with a full scan of the transactions: `get_timer` is the minimum over every live
transaction's deadline, and `handle_timer` fires exactly the due ones.
"""

from __future__ import annotations

import random

from helpers_txn import ALICE, BOB, FAST, request, response
from hypothesis import given, settings
from hypothesis import strategies as st

from duplex.sip.events import RequestReceived, TransactionKey
from duplex.sip.transaction import State
from duplex.sip.transaction_layer import TransactionLayer


def scan(layer: TransactionLayer) -> float | None:
    """The old O(n) definition of the earliest deadline."""
    deadlines = [d for t in layer.transactions.values() if (d := t.get_timer()) is not None]
    return min(deadlines, default=None)


Op = tuple[str, int, float]
ops = st.lists(
    st.tuples(st.sampled_from(["invite", "options", "provisional", "final", "error", "tick"]),
              st.integers(0, 7), st.floats(0.0, 3.0)),
    max_size=60,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(ops)
def test_index_agrees_with_a_full_scan(steps: list[Op]) -> None:
    """Client transactions started, answered, failed and timed out in any order: after every step the
    indexed deadline equals the scan, and a timer never stays due after `handle_timer`."""
    layer = TransactionLayer(rng=random.Random(1), timers=FAST)
    now = 0.0
    keys: dict[int, TransactionKey] = {}
    for kind, n, dt in steps:
        key = keys.get(n)
        txn = layer.transactions.get(key) if key is not None else None
        if kind in ("invite", "options") and key is None:
            method = "INVITE" if kind == "invite" else "OPTIONS"
            keys[n] = layer.send_request(request(method, branch=f"z9hG4bKidx{n}"), BOB, now)
        elif kind == "provisional" and txn is not None and txn.state in (State.CALLING, State.TRYING):
            layer.receive(response(txn.request, 180), BOB, now)
        elif kind == "final" and txn is not None and not txn.terminated:
            layer.receive(response(txn.request, 486 if n % 2 else 200), BOB, now)
        elif kind == "error" and key is not None:
            layer.transport_error(key, now)
        elif kind == "tick":
            now += dt
            layer.handle_timer(now)
            due = layer.get_timer()
            assert due is None or due > now
        assert layer.get_timer() == scan(layer)
        layer.datagrams_to_send()
        layer.events()


def test_only_due_transactions_fire_and_in_deadline_order() -> None:
    """Three OPTIONS sent at 0, 1 and 2 s have Timer E due at 0.5, 1.5 and 2.5 s. At 1.6 s only the first
    two are retransmitted, earliest first; each re-arms Timer E from the firing time (1.6 + 2*T1)."""
    layer = TransactionLayer(rng=random.Random(2), timers=FAST)
    for i in range(3):
        layer.send_request(request("OPTIONS", branch=f"z9hG4bKord{i}"), BOB, float(i))
    layer.datagrams_to_send()
    layer.handle_timer(1.6)
    sent = [m for m, _ in layer.datagrams_to_send()]
    assert [b"z9hG4bKord0" in m for m in sent] == [True, False]
    assert [b"z9hG4bKord1" in m for m in sent] == [False, True]
    assert layer.get_timer() == scan(layer) == 2.5
    layer.handle_timer(2.6)
    assert len(layer.datagrams_to_send()) == 3
    assert layer.get_timer() == scan(layer)


def test_terminated_transactions_leave_the_index() -> None:
    """A transaction that ends (final response over a reliable transport) leaves no deadline behind."""
    layer = TransactionLayer(rng=random.Random(3), timers=FAST, reliable=True)
    req = request("OPTIONS", branch="z9hG4bKgone")
    layer.send_request(req, BOB, 0.0)
    assert layer.get_timer() == 32.0  # Timer F only (no Timer E on a reliable transport)
    layer.receive(response(req, 200), BOB, 0.1)
    assert layer.transactions == {} and layer.get_timer() is None


def test_server_transaction_reliability_is_per_request() -> None:
    """RFC 3261 §17.2.2: "Timer J ... 64*T1 seconds for unreliable transports, and zero seconds for reliable
    transports". One layer receives the same kind of request over TCP and over UDP: the TCP one ends with its
    200, the UDP one waits Timer J; the layer's default is untouched."""
    layer = TransactionLayer(rng=random.Random(4), timers=FAST)
    layer.receive(request("OPTIONS", branch="z9hG4bKtcp"), ALICE, 0.0, reliable=True)
    layer.receive(request("OPTIONS", branch="z9hG4bKudp"), ALICE, 0.0, reliable=False)
    received = [e for e in layer.events() if isinstance(e, RequestReceived)]
    assert [e.request.branch for e in received] == ["z9hG4bKtcp", "z9hG4bKudp"]
    for event in received:
        layer.send_response(event.key, response(event.request, 200), 0.1)
    assert [k.branch for k in layer.transactions] == ["z9hG4bKudp"]
    assert layer.get_timer() == 0.1 + 64 * FAST.t1
    assert layer.reliable is False


def test_invite_server_transaction_over_tcp_sends_no_retransmission() -> None:
    """§17.2.1: Timer G is only set "for unreliable transports"; a 486 to an INVITE that came over TCP is
    sent once, and the transaction waits only for the ACK (Timer H)."""
    layer = TransactionLayer(rng=random.Random(5), timers=FAST)
    layer.receive(request("INVITE", branch="z9hG4bKinv"), ALICE, 0.0, reliable=True)
    (event,) = [e for e in layer.events() if isinstance(e, RequestReceived)]
    layer.datagrams_to_send()
    layer.send_response(event.key, response(event.request, 486), 0.0)
    assert len(layer.datagrams_to_send()) == 1
    assert layer.get_timer() == 64 * FAST.t1
    layer.handle_timer(10.0)
    assert layer.datagrams_to_send() == []
