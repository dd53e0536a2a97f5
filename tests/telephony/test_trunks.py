"""Trunk selection (CPS, channels, failover), caller ID headers and inbound IP matching."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duplex.db.models.routing import Trunk
from duplex.telephony.ratelimit import KeyedRateLimiter, TokenBucket
from duplex.telephony.trunks import (
    TrunkConfig,
    TrunkSelector,
    caller_id_headers,
    check_host,
    is_ip_literal,
    match_inbound_trunk,
    normalize_e164,
    select_caller_id,
    should_fail_over,
)


def trunk(tid: int, order: int = 0, **kw: object) -> TrunkConfig:
    return TrunkConfig(id=tid, name=f"t{tid}", host=f"sip{tid}.carrier.test", failover_order=order, **kw)  # type: ignore[arg-type]


# -- token bucket --------------------------------------------------------------------------------------


def test_token_bucket_exhausts_then_refills_with_time() -> None:
    b = TokenBucket(rate=2.0, burst=2.0, now=0.0)
    assert [b.try_acquire(0.0) for _ in range(3)] == [True, True, False]
    assert b.time_until_available(0.0) == pytest.approx(0.5)
    assert not b.try_acquire(0.49)
    assert b.try_acquire(0.5)
    assert not b.try_acquire(0.5)
    assert b.available(100.0) == 2.0  # never above burst
    assert b.try_acquire(-5.0)  # a clock going backwards adds nothing but does not break
    assert b.available(-5.0) == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.1, max_value=100.0),
    burst=st.floats(min_value=1.0, max_value=10.0),
    gaps=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=200),
)
def test_token_bucket_never_exceeds_burst_plus_rate_over_any_window(
    rate: float, burst: float, gaps: list[float]
) -> None:
    b = TokenBucket(rate, burst, now=0.0)
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if b.try_acquire(now):
            admitted.append(now)
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            count = j - i + 1
            assert count <= burst + rate * (admitted[j] - start) + 1e-6


def test_keyed_rate_limiter_is_per_key_and_bounded() -> None:
    lim = KeyedRateLimiter(rate=1.0, burst=2.0, max_keys=3)
    assert [lim.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert lim.allow("b", 0.0)
    assert lim.retry_after("a", 0.0) == pytest.approx(1.0)
    for i in range(10):
        lim.allow(f"scan{i}", 0.0)
    assert len(lim) == 3
    assert lim.allow("a", 0.0)  # forgotten, so it starts with a full bucket again
    assert lim.purge(100.0) == 3 and len(lim) == 0


# -- selection -----------------------------------------------------------------------------------------


def test_pick_follows_failover_order_and_skips_disabled() -> None:
    sel = TrunkSelector([trunk(1, order=5), trunk(2, order=1), trunk(3, order=0, enabled=False)])
    assert [t.id for t in sel.trunks] == [3, 2, 1]
    got = sel.pick(0.0, "call-a")
    assert got is not None and got.id == 2
    assert sel.channels_in_use(2) == 1


def test_cps_exhaustion_moves_to_next_trunk_then_refills() -> None:
    sel = TrunkSelector([trunk(1, order=0, max_cps=2.0), trunk(2, order=1, max_cps=1.0)], cps_burst=1.0)
    picks = [sel.pick(0.0, f"c{i}") for i in range(3)]
    assert [p.id if p else None for p in picks] == [1, 2, None]
    assert sel.retry_after(0.0) == pytest.approx(0.5)
    assert sel.pick(0.49, "c3") is None
    again = sel.pick(0.5, "c3")
    assert again is not None and again.id == 1
    assert sel.pick(1.0, "c4").id == 1  # type: ignore[union-attr]
    assert sel.pick(1.0, "c5").id == 2  # type: ignore[union-attr]


def test_channel_limit_and_idempotent_release() -> None:
    sel = TrunkSelector([trunk(1, max_channels=2, max_cps=100.0)])
    assert sel.pick(0.0, "a") is not None
    assert sel.pick(1.0, "b") is not None
    assert sel.pick(2.0, "c") is None
    assert sel.retry_after(2.0) is None  # no channel anywhere: time will not help
    sel.release("a")
    sel.release("a")
    sel.release("never-seen")
    assert sel.channels_in_use(1) == 1
    assert sel.pick(3.0, "c") is not None
    assert not sel.acquire_channel(1, "inbound-1")
    sel.release("b")
    assert sel.acquire_channel(1, "inbound-1") and sel.acquire_channel(1, "inbound-1")
    assert sel.channels_in_use(1) == 2
    sel.release_channel(1, "inbound-1")
    sel.release_channel(1, "inbound-1")
    assert sel.channels_in_use(1) == 1


def test_failover_on_503_then_final_486() -> None:
    sel = TrunkSelector([trunk(1, 0), trunk(2, 1), trunk(3, 2)])
    first = sel.pick(0.0, "x")
    assert first is not None and first.id == 1
    nxt = sel.next_after_failure(0.1, "x", 1, 503)
    assert nxt is not None and nxt.id == 2
    assert sel.channels_in_use(1) == 0 and sel.channels_in_use(2) == 1
    assert sel.next_after_failure(0.2, "x", 2, 486) is None
    assert sel.channels_in_use(2) == 0
    # The call was forgotten: a new attempt with the same id starts from the first trunk again.
    assert sel.pick(5.0, "x").id == 1  # type: ignore[union-attr]


def test_failover_never_retries_a_tried_trunk_and_runs_out() -> None:
    sel = TrunkSelector([trunk(1, 0), trunk(2, 1)])
    sel.pick(0.0, "x")
    assert sel.next_after_failure(1.0, "x", 1, None).id == 2  # type: ignore[union-attr]
    assert sel.next_after_failure(2.0, "x", 2, 408) is None
    assert sel.channels_in_use(1) == sel.channels_in_use(2) == 0


def test_pick_prefers_the_campaign_trunk_and_honours_exclude() -> None:
    sel = TrunkSelector([trunk(1, 0), trunk(2, 1), trunk(3, 2)])
    assert sel.pick(0.0, "a", preferred=3).id == 3  # type: ignore[union-attr]
    assert sel.pick(0.0, "b", exclude={1}).id == 2  # type: ignore[union-attr]


def test_repick_releases_the_previous_channel() -> None:
    sel = TrunkSelector([trunk(1, 0), trunk(2, 1)])
    sel.pick(0.0, "a")
    sel.pick(1.0, "a")
    assert (sel.channels_in_use(1), sel.channels_in_use(2)) == (0, 1)


def test_update_trunks_keeps_channel_counts() -> None:
    sel = TrunkSelector([trunk(1, max_cps=1.0)])
    sel.pick(0.0, "a")
    sel.update_trunks([trunk(1, max_cps=1.0), trunk(2, order=1)], now=0.0)
    assert sel.channels_in_use(1) == 1
    assert sel.pick(0.0, "b").id == 2  # type: ignore[union-attr]  # trunk 1's bucket was kept (empty)


@pytest.mark.parametrize(
    ("status", "fail_over"),
    [
        (None, True),
        (401, True),
        (403, True),
        (407, True),
        (408, True),
        (488, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (302, False),
        (404, False),
        (410, False),
        (480, False),
        (484, False),
        (486, False),
        (487, False),
        (600, False),
        (603, False),
        (604, False),
        (606, False),
    ],
)
def test_failover_status_table(status: int | None, fail_over: bool) -> None:
    assert should_fail_over(status) is fail_over


def test_from_model_mirrors_the_orm_row() -> None:
    row = Trunk(
        id=7,
        name="carrier",
        host="sip.carrier.test",
        port=5080,
        transport="tcp",
        username="u",
        password="p",
        register=True,
        from_domain="duplex.example",
        caller_id="+442071838750",
        allowed_ips=["192.0.2.0/24"],
        max_cps=10.0,
        max_channels=60,
        failover_order=2,
        enabled=True,
    )
    t = TrunkConfig.from_model(row)
    assert (t.id, t.port, t.transport, t.register, t.domain, t.allowed_ips) == (
        7,
        5080,
        "tcp",
        True,
        "duplex.example",
        ("192.0.2.0/24",),
    )
    assert "password" not in repr(t)


@pytest.mark.parametrize("entry", ["not an ip", "10.0.0.999", "-carrier.test", "a..b", "192.0.2.0/33"])
def test_bad_allowed_ip_is_a_config_error(entry: str) -> None:
    with pytest.raises(ValueError, match=f"bad allowed_ips entry '{re.escape(entry)}'"):
        trunk(1, allowed_ips=(entry,))


def test_allowed_host_names_match_their_resolved_addresses_only() -> None:
    t = trunk(1, allowed_ips=("SBC.carrier.test", "192.0.2.0/24"))
    assert t.allowed_hosts == ("sbc.carrier.test",) and len(t.networks) == 1
    resolved = {"sbc.carrier.test": ("198.51.100.7", "2001:db8::7")}
    assert t.allows_ip("198.51.100.7", resolved) and t.allows_ip("::ffff:198.51.100.7", resolved)
    assert t.allows_ip("2001:db8::7", resolved) and t.allows_ip("192.0.2.9", resolved)
    assert not t.allows_ip("198.51.100.7")  # not resolved (yet, or at all): the name allows nothing
    assert not t.allows_ip("198.51.100.8", resolved)
    selector = TrunkSelector([t, trunk(2, 1, allowed_ips=("198.51.100.8",))])
    assert selector.match_inbound("198.51.100.7") is None
    selector.resolved = resolved
    assert selector.match_inbound("198.51.100.7") is t
    assert match_inbound_trunk("198.51.100.8", selector.trunks, resolved) is selector.get(2)


@pytest.mark.parametrize(
    ("host", "ok"),
    [("localhost", True), ("sip.carrier.test", True), ("sip.carrier.test.", True), ("192.0.2.1", True),
     ("2001:db8::1", True), ("[2001:db8::1]", True), ("x" * 63 + ".test", True), ("x" * 64 + ".test", False),
     ("bad host", False), ("-sip.test", False), ("sip-.test", False), ("a..b", False), ("10.0.0.999", False),
     ("sip_1.test", False), ("", False)],
)  # fmt: skip
def test_check_host_accepts_ip_literals_and_rfc1123_names(host: str, ok: bool) -> None:
    if ok:
        assert check_host(f" {host} ") == host and is_ip_literal(host) == (":" in host or host[0].isdigit())
    else:
        with pytest.raises(ValueError, match="not an IP address or DNS host name"):
            check_host(host)


# -- inbound -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.0.2.10", 1),
        ("192.0.2.255", 1),
        ("192.0.3.1", None),
        ("198.51.100.7", 2),
        ("198.51.100.8", None),
        ("::ffff:198.51.100.7", 2),
        ("2001:db8:1::42", 2),
        ("[2001:db8:1::42]", 2),
        ("2001:db8:2::1", None),
        ("fe80::1%eth0", 3),
        ("not an ip", None),
        ("203.0.113.5", None),  # only in the disabled trunk
    ],
)
def test_match_inbound_trunk(ip: str, expected: int | None) -> None:
    trunks = [
        trunk(1, 0, allowed_ips=("192.0.2.0/24",)),
        trunk(2, 1, allowed_ips=("198.51.100.7", "2001:db8:1::/48")),
        trunk(3, 2, allowed_ips=("fe80::/64",)),
        trunk(4, 3, allowed_ips=("203.0.113.5",), enabled=False),
    ]
    got = match_inbound_trunk(ip, trunks)
    assert (got.id if got else None) == expected
    assert (TrunkSelector(trunks).match_inbound(ip) or None) == got


# -- caller ID -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("+1 (415) 555-0132", "US", "+14155550132"),
        ("415-555-0132", "US", "+14155550132"),
        ("020 7183 8750", "GB", "+442071838750"),
        ("0044 20 7183 8750", "DE", "+442071838750"),
        ("12", "US", None),
        ("anonymous", "US", None),
        ("", "US", None),
    ],
)
def test_normalize_e164(number: str, region: str, e164: str | None) -> None:
    assert normalize_e164(number, region) == e164


def test_caller_id_campaign_beats_trunk_and_falls_back() -> None:
    t = trunk(1, caller_id="+14155550100")
    assert select_caller_id("415 555 0199", t) == "+14155550199"
    assert select_caller_id(None, t) == "+14155550100"
    assert select_caller_id("garbage", t) == "+14155550100"
    assert select_caller_id(None, trunk(2)) is None
    assert select_caller_id("020 7183 8750", None, default_region="GB") == "+442071838750"


def test_caller_id_headers() -> None:
    t = trunk(1, from_domain="duplex.example")
    h = caller_id_headers("+14155550100", t, display_name='ACME "Sales"')
    assert h.from_ == '"ACME \\"Sales\\"" <sip:+14155550100@duplex.example;user=phone>'
    assert h.p_asserted_identity == h.from_ and h.privacy is None
    p = caller_id_headers("+14155550100", trunk(2), private=True)
    assert p.from_ == '"Anonymous" <sip:anonymous@anonymous.invalid>'
    assert p.p_asserted_identity == "<sip:+14155550100@sip2.carrier.test;user=phone>"
    assert p.privacy == "id"
    none = caller_id_headers(None, t)
    assert none.p_asserted_identity is None and "anonymous.invalid" in none.from_ and none.privacy is None
