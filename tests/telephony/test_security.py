"""Toll-fraud matrix, auth-failure throttling/bans and the per-source request limiter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duplex.telephony.security import (
    AuthFailureTracker,
    RequestRateLimiter,
    VerdictAction,
    authorize_invite,
    number_variants,
)

OWN = {"+14155550100", "1000", "1001"}
EXTENSIONS = {"2001", "2002"}

UNAUTH, TRUNK, AGENT = "unauth", "trunk", "agent"


def decide(source: str, target: str, *, allow_external: bool = False, challenge: bool = True):
    return authorize_invite(
        source_authenticated=source == AGENT,
        source_is_trunk=source == TRUNK,
        target=target,
        own_numbers=OWN,
        agent_extensions=EXTENSIONS,
        allow_external=allow_external,
        challenge_unauthenticated=challenge,
    )


# (source, target, allow_external, expected allow, expected status)
MATRIX = [
    # own numbers in every written form are reachable by anyone
    (UNAUTH, "+14155550100", False, True, 0),
    (UNAUTH, "14155550100", False, True, 0),
    (UNAUTH, "4155550100", False, True, 0),
    (UNAUTH, "(415) 555-0100", False, True, 0),
    (UNAUTH, "sip:+14155550100@duplex.test;user=phone", False, True, 0),
    (UNAUTH, "tel:+1-415-555-0100", False, True, 0),
    (UNAUTH, "1001", False, True, 0),
    (TRUNK, "+14155550100", False, True, 0),
    (TRUNK, "1000", False, True, 0),
    (AGENT, "1001", False, True, 0),
    # unauthenticated: extensions need authentication, external numbers never go out
    (UNAUTH, "2001", False, False, 407),
    (UNAUTH, "+442071838750", False, False, 403),
    (UNAUTH, "011442071838750", False, False, 403),
    (UNAUTH, "+442071838750", True, False, 407),
    (UNAUTH, "9999", False, False, 404),
    (UNAUTH, "admin", False, False, 404),
    (UNAUTH, "", False, False, 404),
    # trunks: a carrier may deliver to an agent's extension, never relay back out to the PSTN
    (TRUNK, "2001", False, True, 0),
    (TRUNK, "2002", True, True, 0),
    (TRUNK, "+442071838750", True, False, 403),
    (TRUNK, "4155550199", True, False, 403),
    (TRUNK, "9999", False, False, 404),
    # authenticated agent phones
    (AGENT, "2002", False, True, 0),
    (AGENT, "+442071838750", False, False, 403),
    (AGENT, "+442071838750", True, True, 0),
    (AGENT, "415 555 0199", True, True, 0),
    (AGENT, "9999", True, False, 404),
]


@pytest.mark.parametrize(("source", "target", "allow_external", "allow", "status"), MATRIX)
def test_toll_fraud_matrix(source: str, target: str, allow_external: bool, allow: bool, status: int) -> None:
    d = decide(source, target, allow_external=allow_external)
    assert (d.allow, d.status_code) == (allow, status), d.reason
    assert d.challenge is (status == 407)


def test_without_challenges_unauthenticated_gets_403() -> None:
    d = decide(UNAUTH, "2001", challenge=False)
    assert (d.allow, d.status_code, d.challenge) == (False, 403, False)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-() #*", max_size=20))
def test_unauthenticated_or_trunk_never_reaches_a_non_own_target(target: str) -> None:
    for source in (UNAUTH, TRUNK):
        d = decide(source, target, allow_external=True)
        if d.allow:
            assert d.reason == "own number" or (source == TRUNK and d.reason == "extension")


def test_number_variants() -> None:
    assert number_variants("+1 415-555-0100") == {"+14155550100", "14155550100", "4155550100"}
    assert number_variants("1001") == {"1001"}
    assert {"+442071838750", "02071838750"} <= number_variants("020 7183 8750", "GB")


# -- auth failures -------------------------------------------------------------------------------------


def tracker(**kw: object) -> AuthFailureTracker:
    args: dict[str, object] = {"window": 60.0, "throttle_after": 3, "ban_after": 5, "ban_duration": 600.0}
    args.update(kw)
    return AuthFailureTracker(**args)  # type: ignore[arg-type]


def test_throttle_then_ban_then_expiry() -> None:
    t = tracker()
    ip = "198.51.100.9"
    actions = [t.record_failure(ip, float(i)).action for i in range(5)]
    assert actions == [
        VerdictAction.ALLOW,
        VerdictAction.ALLOW,
        VerdictAction.REJECT,
        VerdictAction.REJECT,
        VerdictAction.DROP,
    ]
    assert t.check(ip, 2.5).action is VerdictAction.DROP
    v = t.check(ip, 300.0)
    assert v.action is VerdictAction.DROP and v.until == 604.0
    assert t.get_timer() == 604.0
    assert t.check(ip, 604.0).action is VerdictAction.ALLOW  # ban over, count starts from zero
    assert t.record_failure(ip, 605.0).action is VerdictAction.ALLOW


def test_throttled_source_gets_403() -> None:
    t = tracker()
    for i in range(3):
        t.record_failure("203.0.113.1", float(i))
    v = t.check("203.0.113.1", 3.0)
    assert (v.action, v.status_code) == (VerdictAction.REJECT, 403)
    assert t.check("203.0.113.2", 3.0).action is VerdictAction.ALLOW


def test_failures_outside_the_window_do_not_count() -> None:
    t = tracker(window=10.0)
    for i in range(20):
        assert t.record_failure("192.0.2.1", i * 6.0).action is VerdictAction.ALLOW  # at most 2 per 10 s
    t.handle_timer(1000.0)
    assert len(t) == 0


def test_success_resets_the_count_but_not_a_ban() -> None:
    t = tracker()
    t.record_failure("192.0.2.1", 0.0)
    t.record_failure("192.0.2.1", 1.0)
    t.record_success("192.0.2.1")
    assert t.record_failure("192.0.2.1", 2.0).action is VerdictAction.ALLOW
    assert t.record_failure("192.0.2.1", 3.0).action is VerdictAction.ALLOW
    for i in range(5):
        t.record_failure("192.0.2.2", float(i))
    t.record_success("192.0.2.2")
    assert t.check("192.0.2.2", 10.0).action is VerdictAction.DROP
    t.unban("192.0.2.2")
    assert t.check("192.0.2.2", 10.0).action is VerdictAction.ALLOW


def test_allow_list_is_never_banned_and_can_be_updated() -> None:
    t = tracker(allow_list=("127.0.0.1", "10.0.0.0/8", "2001:db8::/32"))
    for ip in ("127.0.0.1", "10.1.2.3", "2001:db8::5", "::ffff:10.9.9.9"):
        for i in range(50):
            assert t.record_failure(ip, float(i)).action is VerdictAction.ALLOW
        assert t.check(ip, 50.0).action is VerdictAction.ALLOW
    for i in range(5):
        t.record_failure("192.0.2.50", float(i))
    assert t.check("192.0.2.50", 5.0).action is VerdictAction.DROP
    t.set_allow_list(["192.0.2.0/24"])  # the operator adds a trunk's network
    assert t.check("192.0.2.50", 5.0).action is VerdictAction.ALLOW
    assert t.record_failure("10.1.2.3", 6.0).action is VerdictAction.ALLOW


def test_ipv4_mapped_ipv6_counts_as_the_same_source() -> None:
    t = tracker()
    for i in range(5):
        t.record_failure("::ffff:198.51.100.1" if i % 2 else "198.51.100.1", float(i))
    assert t.check("198.51.100.1", 5.0).action is VerdictAction.DROP


def test_memory_is_bounded_under_a_scan() -> None:
    t = tracker(max_sources=1000, max_bans=100, throttle_after=1, ban_after=2)

    def ip_of(n: int) -> str:
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    for n in range(20_000):
        ip = ip_of(n)
        t.record_failure(ip, 0.0)
        if n % 7 == 0:
            t.record_failure(ip, 0.0)  # gets banned
    assert len(t) <= 1100
    assert t.check(ip_of(19_999), 1.0).action is VerdictAction.DROP  # the most recent ban is kept
    assert t.check(ip_of(0), 1.0).action is VerdictAction.ALLOW  # the oldest one was forgotten


def test_tracker_rejects_bad_thresholds() -> None:
    with pytest.raises(ValueError):
        AuthFailureTracker(throttle_after=5, ban_after=4)


# -- request flood limiter -----------------------------------------------------------------------------


def test_request_rate_limiter_per_source_and_method() -> None:
    lim = RequestRateLimiter(rate=2.0, burst=4.0, max_sources=10)
    assert [lim.allow("192.0.2.7", "INVITE", 0.0) for _ in range(5)] == [True] * 4 + [False]
    assert lim.allow("192.0.2.7", "REGISTER", 0.0)  # separate bucket per method
    assert lim.allow("192.0.2.8", "INVITE", 0.0)
    assert lim.retry_after("192.0.2.7", "invite", 0.0) == pytest.approx(0.5)
    assert lim.allow("192.0.2.7", "INVITE", 0.5)
    assert all(lim.allow("127.0.0.1", "INVITE", 0.0) for _ in range(1000))
    for n in range(100):
        lim.allow(f"203.0.113.{n}", "INVITE", 1.0)
    assert len(lim) == 10
    lim.handle_timer(100.0)
    assert len(lim) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=300))
def test_flood_admits_at_most_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    lim = RequestRateLimiter(rate=5.0, burst=10.0, allow_list=())
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        admitted += lim.allow("198.51.100.77", "INVITE", now)
    assert admitted <= 10 + 5.0 * now + 1e-6
