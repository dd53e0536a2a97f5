"""RFC 3261 §17 timer values (Table 4 of RFC 3261 and RFC 6026 §8.4).

Rules of this module (h11 style):

1. Nothing here reads a clock; the values are durations in seconds.
2. Every timer is derived from T1/T2/T4 so that tests and the simulator can shrink T1.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_TIMERS", "TimerConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerConfig:
    """Transaction timer configuration.

    Args:
        t1: RTT estimate, "T1 ... 500ms default" (RFC 3261 Table 4).
        t2: "The maximum retransmit interval for non-INVITE requests and INVITE responses", 4 s.
        t4: "Maximum duration a message will remain in the network", 5 s.
        d_unreliable: Timer D, "> 32s for UDP" (RFC 3261 Table 4).
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d_unreliable: float = 32.0

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise ValueError(f"need 0 < T1 <= T2, got T1={self.t1} T2={self.t2}")
        if self.t4 < 0 or self.d_unreliable < 0:
            raise ValueError("T4 and Timer D must not be negative")

    @property
    def a(self) -> float:
        """Timer A, "initially T1" (INVITE request retransmit interval, UDP only)."""
        return self.t1

    @property
    def b(self) -> float:
        """Timer B, "64*T1" (INVITE transaction timeout)."""
        return 64 * self.t1

    def d(self, reliable: bool) -> float:
        """Timer D, "> 32s for UDP, 0s for TCP/SCTP" (wait time for response retransmits)."""
        return 0.0 if reliable else max(self.d_unreliable, 0.0)

    @property
    def e(self) -> float:
        """Timer E, "initially T1" (non-INVITE request retransmit interval, UDP only)."""
        return self.t1

    @property
    def f(self) -> float:
        """Timer F, "64*T1" (non-INVITE transaction timeout)."""
        return 64 * self.t1

    @property
    def g(self) -> float:
        """Timer G, "initially T1" (INVITE response retransmit interval)."""
        return self.t1

    @property
    def h(self) -> float:
        """Timer H, "64*T1" (wait time for ACK receipt)."""
        return 64 * self.t1

    def i(self, reliable: bool) -> float:
        """Timer I, "T4 for UDP, 0s for TCP/SCTP" (wait time for ACK retransmits)."""
        return 0.0 if reliable else self.t4

    def j(self, reliable: bool) -> float:
        """Timer J, "64*T1 for UDP, 0s for TCP/SCTP" (wait time for non-INVITE request retransmits)."""
        return 0.0 if reliable else 64 * self.t1

    def k(self, reliable: bool) -> float:
        """Timer K, "T4 for UDP, 0s for TCP/SCTP" (wait time for response retransmits)."""
        return 0.0 if reliable else self.t4

    @property
    def l(self) -> float:  # noqa: E743 - the RFC 6026 name
        """Timer L, "64*T1" (RFC 6026: wait time for accepted INVITE request retransmits)."""
        return 64 * self.t1

    @property
    def m(self) -> float:
        """Timer M, "64*T1" (RFC 6026: wait time for retransmission of 2xx to INVITE)."""
        return 64 * self.t1


DEFAULT_TIMERS = TimerConfig()
