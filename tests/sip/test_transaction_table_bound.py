"""The transaction table has a hard bound (a full table answers new requests with a stateless 503 and keeps no
state for them), and a server transaction the TU decides never to answer can be abandoned."""

from __future__ import annotations

import random

from helpers_txn import ALICE, request

from duplex.sip.events import RequestReceived
from duplex.sip.message import SipResponse, parse_message
from duplex.sip.transaction_layer import TransactionLayer


def test_full_table_answers_new_requests_503_statelessly() -> None:
    layer = TransactionLayer(rng=random.Random(1), max_transactions=3)
    for i in range(5):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKbound{i}"), ALICE, 0.0)
    assert len(layer.transactions) == 3 and layer.overloaded == 2
    received = [e for e in layer.events() if isinstance(e, RequestReceived)]
    assert len(received) == 3
    refused = [parse_message(data) for data, _ in layer.datagrams_to_send()]
    assert [(r.status, r.headers.get("Retry-After")) for r in refused if isinstance(r, SipResponse)] == [
        (503, "5"),
        (503, "5"),
    ]
    layer.receive(request("OPTIONS", branch="z9hG4bKbound0"), ALICE, 0.1)  # a retransmission still matches
    assert layer.overloaded == 2


def test_abandoned_server_transaction_is_gone() -> None:
    layer = TransactionLayer(rng=random.Random(1))
    layer.receive(request("INVITE", branch="z9hG4bKquiet"), ALICE, 0.0)
    (event,) = [e for e in layer.events() if isinstance(e, RequestReceived)]
    layer.abandon(event.key)
    assert not layer.transactions and layer.get_timer() is None
