"""RtpWatchdog (sans-IO): which answered legs have received no RTP for the timeout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from duplex.services.calls.call import LegState
from duplex.services.calls.rtp_watchdog import RtpWatchdog


@dataclass
class _Stats:
    packets_received: int


@dataclass
class _Media:
    packets: int = 0

    def stats(self) -> _Stats:
        return _Stats(self.packets)


@dataclass
class _Negotiated:
    receive_enabled: bool = True


@dataclass
class _Leg:
    id: str
    state: LegState = LegState.ANSWERED
    media: _Media | None = field(default_factory=_Media)
    negotiated: _Negotiated | None = field(default_factory=_Negotiated)


def check(dog: RtpWatchdog, now: float, *legs: _Leg) -> list[str]:
    found: list[Any] = dog.check(now, legs)  # type: ignore[arg-type]
    return [leg.id for leg in found]


def test_a_leg_whose_count_stands_still_for_the_timeout_is_reported_once() -> None:
    dog, leg = RtpWatchdog(10.0), _Leg("a")
    assert check(dog, 0.0, leg) == []
    assert check(dog, 9.9, leg) == []
    assert check(dog, 10.0, leg) == ["a"]
    assert check(dog, 11.0, leg) == []  # reported once; it starts over if the hangup did not end it


def test_packets_arriving_restart_the_clock() -> None:
    dog, leg = RtpWatchdog(10.0), _Leg("a")
    check(dog, 0.0, leg)
    assert leg.media is not None
    leg.media.packets = 50
    assert check(dog, 8.0, leg) == []
    assert check(dog, 17.9, leg) == []
    assert check(dog, 18.0, leg) == ["a"]


def test_held_ringing_and_mediafree_legs_are_exempt() -> None:
    dog = RtpWatchdog(1.0)
    held = _Leg("held", negotiated=_Negotiated(receive_enabled=False))  # far end sends inactive/recvonly
    ringing = _Leg("ringing", state=LegState.RINGING)
    bare = _Leg("bare", media=None)
    for now in (0.0, 5.0, 10.0):
        assert check(dog, now, held, ringing, bare) == []


def test_legs_no_longer_given_are_forgotten() -> None:
    dog = RtpWatchdog(10.0)
    check(dog, 0.0, _Leg("a"))
    check(dog, 5.0)
    assert check(dog, 12.0, _Leg("a")) == []  # seen afresh at 12 s
