"""Test helpers for the transaction and dialog layers: RFC 3261 §24.2 style messages, a fake clock and an
in-memory pair of endpoints (loss = not delivering)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from duplex.sip.events import Address, Event
from duplex.sip.message import SipRequest, SipResponse, parse_message
from duplex.sip.timers import TimerConfig
from duplex.sip.transaction_layer import TransactionLayer

ALICE: Address = ("127.0.0.1", 5061)
BOB: Address = ("127.0.0.1", 5062)
FAST = TimerConfig(t1=0.5, t2=4.0, t4=5.0)


def lf2crlf(text: str) -> bytes:
    """RFC examples are printed with bare LF; SIP needs CRLF."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def request(
    method: str = "INVITE",
    *,
    branch: str = "z9hG4bK776asdhds",
    cseq: int = 314159,
    cseq_method: str | None = None,
    to_tag: str | None = None,
    sent_by: str = "pc33.atlanta.com",
    uri: str = "sip:bob@biloxi.com",
    extra: str = "",
) -> SipRequest:
    """A request shaped like RFC 3261 §24.2 F1 (Alice's INVITE to Bob)."""
    to = "Bob <sip:bob@biloxi.com>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} {uri} SIP/2.0\n"
        f"Via: SIP/2.0/UDP {sent_by};branch={branch}\n"
        "Max-Forwards: 70\n"
        f"To: {to}\n"
        "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
        f"CSeq: {cseq} {cseq_method or method}\n"
        "Contact: <sip:alice@pc33.atlanta.com>\n"
        f"{extra}"
        "\n"
    )
    message = parse_message(lf2crlf(text))
    assert isinstance(message, SipRequest)
    return message


def response(req: SipRequest, status: int, *, tag: str | None = "a6c85cf") -> SipResponse:
    """A response to ``req`` (RFC 3261 §8.2.6), To tag added unless 100."""
    from duplex.sip._txn_util import make_response

    return make_response(req, status, tag=tag)


def reparse(data: bytes) -> SipRequest | SipResponse:
    return parse_message(data)


@dataclass
class Endpoint:
    """One side of the in-memory pair."""

    addr: Address
    layer: TransactionLayer
    inbox: list[Event] = field(default_factory=list)

    def pump_events(self) -> list[Event]:
        self.inbox.extend(self.layer.events())
        return self.inbox


@dataclass
class Pair:
    """Two transaction layers wired together in memory; time moves only through ``advance``."""

    alice: Endpoint
    bob: Endpoint
    now: float = 0.0
    wire: list[tuple[Address, Address, bytes]] = field(default_factory=list)

    def endpoint(self, addr: Address) -> Endpoint:
        return self.alice if addr == self.alice.addr else self.bob

    def transfer(self, src: Endpoint, *, deliver: bool = True) -> list[SipRequest | SipResponse]:
        """Move everything ``src`` wants to send; with ``deliver=False`` the datagrams are lost."""
        sent = []
        for data, dst in src.layer.datagrams_to_send():
            self.wire.append((src.addr, dst, data))
            sent.append(parse_message(data))
            if deliver:
                self.endpoint(dst).layer.receive_data(data, src.addr, self.now)
        src.pump_events()
        self.endpoint(self.bob.addr if src is self.alice else self.alice.addr).pump_events()
        return sent

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.alice.layer.get_timer(), self.bob.layer.get_timer()) if d is not None]
        return min(deadlines, default=None)

    def advance(self) -> float:
        """Jump to the next deadline of either side and fire it."""
        deadline = self.next_deadline()
        assert deadline is not None, "no timer armed"
        self.now = deadline
        self.alice.layer.handle_timer(self.now)
        self.bob.layer.handle_timer(self.now)
        self.alice.pump_events()
        self.bob.pump_events()
        return deadline


def make_pair(*, reliable: bool = False, timers: TimerConfig = FAST, seed: int = 1) -> Pair:
    rng = random.Random(seed)
    return Pair(
        alice=Endpoint(ALICE, TransactionLayer(rng=rng, timers=timers, reliable=reliable)),
        bob=Endpoint(BOB, TransactionLayer(rng=random.Random(seed + 1), timers=timers, reliable=reliable)),
    )
