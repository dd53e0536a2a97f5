"""Trunk host name resolution: the TTL cache (sans-IO), the asyncio resolver, the API validators."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from duplex.api.routing_config import TrunkCreate
from duplex.api.schemas import partial
from duplex.services.trunk_dns import AddressCache, TrunkDnsError, TrunkResolver, system_lookup
from duplex.telephony.trunks import TrunkConfig


def trunk(host: str, **kw: object) -> TrunkConfig:
    return TrunkConfig(id=1, name="carrier", host=host, port=5070, **kw)  # type: ignore[arg-type]


def test_cache_expires_after_ttl_and_keeps_the_last_good_answer_through_failures() -> None:
    cache = AddressCache(ttl=60.0, negative_ttl=5.0)
    assert cache.due(["SIP.carrier.test", "192.0.2.1", "sip.carrier.test"], 0.0) == ["sip.carrier.test"]
    cache.store("sip.carrier.test", ("192.0.2.7", "192.0.2.8"), 0.0)
    assert cache.fresh("SIP.Carrier.Test", 59.9) and cache.due(["sip.carrier.test"], 59.9) == []
    assert cache.due(["sip.carrier.test"], 60.0) == ["sip.carrier.test"]
    cache.fail("sip.carrier.test", "Name or service not known", 60.0)
    assert cache.addresses("sip.carrier.test") == ("192.0.2.7", "192.0.2.8")  # stale, still used
    assert cache.error("sip.carrier.test") == "Name or service not known"
    assert cache.fresh("sip.carrier.test", 64.9) and not cache.fresh("sip.carrier.test", 65.0)
    cache.store("sip.carrier.test", ("192.0.2.9",), 65.0)
    assert cache.error("sip.carrier.test") is None and cache.addresses("sip.carrier.test") == ("192.0.2.9",)
    assert cache.addresses("never.test") == () and cache.error("never.test") is None


async def test_resolver_uses_etc_hosts_without_blocking_and_skips_ip_literals() -> None:
    resolver = TrunkResolver()
    assert await resolver.addresses("127.0.0.1") == ("127.0.0.1",)
    assert await resolver.addresses("[::1]") == ("::1",)
    assert "127.0.0.1" in await system_lookup("localhost")
    assert await resolver.targets(trunk("localhost")) == [("127.0.0.1", 5070)]


async def test_unresolvable_name_raises_a_clear_error_and_outbound_targets_is_empty() -> None:
    resolver = TrunkResolver()
    with pytest.raises(TrunkDnsError, match=r"cannot resolve trunk host 'no-such-carrier\.invalid': .+"):
        await resolver.addresses("no-such-carrier.invalid")
    assert await resolver.outbound_targets(trunk("no-such-carrier.invalid")) == []


async def test_resolver_caches_for_ttl_shares_one_lookup_and_orders_failed_addresses_last() -> None:
    calls: list[str] = []
    answers = {"sip.carrier.test": ("192.0.2.7", "2001:db8::7", "192.0.2.8")}

    async def lookup(host: str) -> tuple[str, ...]:
        calls.append(host)
        await asyncio.sleep(0.01)
        return answers[host]

    resolver = TrunkResolver(lookup=lookup, ttl=0.2)
    t = trunk("sip.carrier.test")
    assert resolver.cached_targets(t) is None  # not resolved yet: the caller must await targets()
    assert resolver.cached_targets(trunk("192.0.2.1")) == [("192.0.2.1", 5070)]
    first, second = await asyncio.gather(resolver.targets(t), resolver.targets(t))
    assert first == second == [("192.0.2.7", 5070), ("192.0.2.8", 5070)]  # IPv4 socket: no IPv6 targets
    assert calls == ["sip.carrier.test"]
    resolver.failed(("192.0.2.7", 5070))
    assert await resolver.targets(t) == [("192.0.2.8", 5070), ("192.0.2.7", 5070)]
    assert calls == ["sip.carrier.test"]
    assert resolver.cached_targets(t) == [("192.0.2.8", 5070), ("192.0.2.7", 5070)]
    answers["sip.carrier.test"] = ("192.0.2.9",)
    await asyncio.sleep(0.25)
    assert resolver.cached_targets(t) is None  # expired
    assert await resolver.targets(t) == [("192.0.2.9", 5070)]
    assert calls == ["sip.carrier.test"] * 2
    resolver.ipv6 = True
    answers["sip.carrier.test"] = ("2001:db8::7",)
    await asyncio.sleep(0.25)
    assert await resolver.targets(t) == [("2001:db8::7", 5070)]


async def test_failed_lookup_keeps_stale_addresses_and_retries_after_negative_ttl() -> None:
    fail = False

    async def lookup(host: str) -> tuple[str, ...]:
        if fail:
            raise OSError(-2, "Name or service not known")
        return ("192.0.2.7",)

    resolver = TrunkResolver(lookup=lookup, ttl=0.0, negative_ttl=0.05)
    t = trunk("sip.carrier.test", allowed_ips=("sip.carrier.test", "sbc.carrier.test"))
    assert await resolver.addresses("sip.carrier.test") == ("192.0.2.7",)
    fail = True
    assert await resolver.addresses("sip.carrier.test") == ("192.0.2.7",)  # stale beats nothing
    assert resolver.cache.error("sip.carrier.test") == "[Errno -2] Name or service not known"
    assert resolver.names([t]) == ["sip.carrier.test", "sip.carrier.test", "sbc.carrier.test"]
    await resolver.refresh(resolver.names([t]))
    assert resolver.allow_list([t]) == {"sip.carrier.test": ("192.0.2.7",), "sbc.carrier.test": ()}
    with pytest.raises(TrunkDnsError, match="Name or service not known"):
        await resolver.addresses("sbc.carrier.test")


async def test_slow_lookup_times_out() -> None:
    async def lookup(host: str) -> tuple[str, ...]:
        await asyncio.sleep(5)
        return ("192.0.2.7",)

    resolver = TrunkResolver(lookup=lookup, timeout=0.05)
    with pytest.raises(TrunkDnsError, match="TimeoutError"):
        await resolver.addresses("slow.carrier.test")


@pytest.mark.parametrize(
    ("values", "ok"),
    [({"host": "sip.carrier.test", "allowed_ips": ["sbc.carrier.test", "192.0.2.0/24"]}, True),
     ({"host": "192.0.2.1"}, True), ({"host": "bad host"}, False), ({"host": "x", "allowed_ips": ["a..b"]}, False)],
)  # fmt: skip
def test_api_accepts_host_names_and_rejects_malformed_hosts(values: dict[str, object], ok: bool) -> None:
    update = partial(TrunkCreate)  # PATCH /trunks/{id}
    if ok:
        assert TrunkCreate.model_validate({"name": "carrier", **values}).host == values["host"]
        assert update.model_validate(values).host == values["host"]
    else:
        with pytest.raises(ValidationError, match="not an IP address"):
            TrunkCreate.model_validate({"name": "carrier", **values})
        with pytest.raises(ValidationError, match="not an IP address"):
            update.model_validate(values)
