"""The raw-datagram screen in front of SIP parsing: trusted sources pass untouched, untrusted ones are held to
size, header-count, start-line and rate limits, banned ones are dropped."""

from __future__ import annotations

from duplex.telephony.preparse import PreParseGuard, PreParseLimits, ScreenResult

OPTIONS = (
    b"OPTIONS sip:duplex@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKp\r\n"
    b"From: <sip:x@10.0.0.9>;tag=1\r\nTo: <sip:duplex@127.0.0.1>\r\nCall-ID: p1\r\nCSeq: 1 OPTIONS\r\n\r\n"
)


def _guard(**limits: float) -> tuple[PreParseGuard, list[str]]:
    asked: list[str] = []

    def trusted(ip: str) -> bool:
        asked.append(ip)
        return ip == "192.0.2.1"

    guard = PreParseGuard(trusted=trusted, banned=lambda ip, now: ip == "198.51.100.6",
                          limits=PreParseLimits(**limits))  # type: ignore[arg-type]  # fmt: skip
    return guard, asked


def test_trusted_source_is_never_screened_and_asked_once_per_ttl() -> None:
    guard, asked = _guard(source_rate=1, source_burst=1)
    huge = OPTIONS + b"X" * 100_000
    assert all(guard.screen(huge, "192.0.2.1", 0.1 * i) is ScreenResult.TRUSTED for i in range(10))
    assert asked == ["192.0.2.1"]
    assert guard.screen(OPTIONS, "192.0.2.1", 5.0) is ScreenResult.TRUSTED and len(asked) == 2


def test_untrusted_limits() -> None:
    guard, _ = _guard()
    ip = "203.0.113.5"
    assert guard.screen(OPTIONS, ip, 0.0) is ScreenResult.ADMITTED
    assert guard.screen(OPTIONS + b"x" * 20_000, ip, 0.0) is ScreenResult.TOO_LARGE
    stuffed = OPTIONS.replace(b"\r\n\r\n", b"\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n")
    assert guard.screen(stuffed, ip, 0.0) is ScreenResult.TOO_MANY_HEADERS
    assert guard.screen(b"\x16\x03\x01 garbage\r\n\r\n", ip, 0.0) is ScreenResult.BAD_START
    assert guard.screen(b"\r\nSIP/2.0 200 OK\r\n\r\n", ip, 0.0) is ScreenResult.ADMITTED
    assert guard.screen(OPTIONS, "198.51.100.6", 0.0) is ScreenResult.BANNED


def test_rate_per_source_and_for_all_untrusted_sources() -> None:
    guard, _ = _guard(source_rate=10, source_burst=5, untrusted_rate=100, untrusted_burst=8)
    results = [guard.screen(OPTIONS, "203.0.113.5", 0.0) for _ in range(7)]
    assert results.count(ScreenResult.ADMITTED) == 5 and results[-1] is ScreenResult.RATE
    others = [guard.screen(OPTIONS, f"203.0.113.{i}", 0.0) for i in range(10, 16)]
    assert others.count(ScreenResult.ADMITTED) == 3  # the shared budget of 8 is used up
    assert guard.screen(OPTIONS, "192.0.2.1", 0.0) is ScreenResult.TRUSTED  # trusted ones still pass
    assert guard.admit(OPTIONS, "203.0.113.5", 0.0) is False and guard.counts == {"rate": 1}
