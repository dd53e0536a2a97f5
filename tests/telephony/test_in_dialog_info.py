"""SIP INFO keys (application/dtmf-relay, what browser softphones send) on a leg: answered 200, recorded, and
played to the bridged leg; a bridged leg that cannot play digits (an rtpengine leg without DTMF injection)
costs the digit's playback only, not the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from duplex.services.calls import in_dialog
from duplex.sip.message import SipRequest, parse_message

INFO = (
    b"INFO sip:2001@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK-info-1\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
    b"To: <sip:1000@127.0.0.1>;tag=b2\r\n"
    b"Call-ID: info-test\r\n"
    b"CSeq: 3 INFO\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Type: application/dtmf-relay\r\n"
    b"Content-Length: 24\r\n"
    b"\r\n"
    b"Signal=5\r\nDuration=100\r\n"
)


@dataclass
class Control:
    responses: list[int] = field(default_factory=list)

    def respond(self, key: Any, request: SipRequest, status: int, **_: Any) -> None:
        self.responses.append(status)


class Media:
    def __init__(self, fails: bool) -> None:
        self.fails, self.sent = fails, []  # type: ignore[var-annotated]

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        if self.fails:
            raise NotImplementedError("send_dtmf is not available on this rtpengine media leg")
        self.sent.append(digits)


@dataclass
class Leg:
    control: Control
    bridged_to: Any = None
    media: Any = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def key_pressed(self, digit: str, source: str) -> None:
        self.events.append(("key_pressed", {"digit": digit, "source": source}))


@pytest.mark.parametrize("fails", [False, True])
def test_info_key_is_answered_recorded_and_played_when_it_can_be(fails: bool) -> None:
    request = parse_message(INFO)
    assert isinstance(request, SipRequest)
    other = Leg(Control(), media=Media(fails))
    leg = Leg(Control(), bridged_to=other)
    in_dialog._info(leg, request, ("z9hG4bK-info-1", "INFO", 3))  # type: ignore[arg-type]
    assert leg.control.responses == [200]
    assert leg.events == [("key_pressed", {"digit": "5", "source": "sip_info"})]
    assert other.media.sent == ([] if fails else ["5"])
