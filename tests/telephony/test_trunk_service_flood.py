"""Request floods through the engine's real UDP socket: one source over its limit gets one 503 with
Retry-After and is then dropped, while another source is still served and trunk addresses are exempt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engine_fixtures import EngineEnv, UdpClient, engine_env, request
from sqlalchemy import update

from duplex.db.models import Trunk
from duplex.sip.message import SipResponse, parse_message
from duplex.telephony.security import RequestRateLimiter

__all__ = ["engine_env"]

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def engine_options() -> dict[str, Any]:
    """A fresh limiter per test: 2 requests/s per source and method, bursts of 5, no allow-list."""
    return {"request_limits": RequestRateLimiter(rate=2.0, burst=5.0, allow_list=())}


async def _set_trunk_ips(env: EngineEnv, ips: list[str]) -> None:
    with env.sessions() as session, session.begin():
        session.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(allowed_ips=ips))
    await env.engine.refresh_directory(force=True)


async def _flood(client: UdpClient, port: int, count: int, tag: str) -> list[SipResponse]:
    for i in range(count):
        client.send(request("OPTIONS", "sip:duplex@127.0.0.1", client.port, call_id=f"{tag}{i}",
                            branch=f"z9hG4bK{tag}{i}"))  # fmt: skip
    responses: list[SipResponse] = []
    while True:
        try:
            message = parse_message(await client.recv(timeout=0.5))
        except TimeoutError:
            return responses
        assert isinstance(message, SipResponse)
        responses.append(message)


async def test_flood_from_one_source_is_limited_while_another_is_served(engine_env: EngineEnv) -> None:
    engine = engine_env.engine
    await _set_trunk_ips(engine_env, [])  # 127.0.0.1 is no trunk here, so it is limited
    flooder = UdpClient(engine_env.port)
    try:
        responses = await _flood(flooder, engine_env.port, 60, "f")
    finally:
        flooder.close()
    statuses = [r.status for r in responses]
    assert 5 <= statuses.count(200) <= 7, statuses  # the burst, plus what refilled at 2/s meanwhile
    assert statuses.count(503) == 1, statuses  # one notice per Retry-After window, the rest dropped
    notice = next(r for r in responses if r.status == 503)
    assert notice.headers.get("Retry-After") == "1"
    assert engine.flood.dropped >= 50
    assert len(engine.txl.transactions) <= 7  # dropped requests left no transaction behind

    # Another source (a phone elsewhere) is served meanwhile: its datagram enters through the same
    # transport path; what the engine sends to it is captured instead of leaving the host.
    other = ("192.0.2.10", 5062)
    sent: list[bytes] = []
    real_send = engine.transport.send

    def capture(data: bytes, addr: Any) -> None:
        if addr == other:
            sent.append(data)
        else:
            real_send(data, addr)

    engine.transport.send = capture  # type: ignore[method-assign]
    try:
        engine.transport.on_datagram(
            request("OPTIONS", "sip:duplex@127.0.0.1", other[1], call_id="o1", branch="z9hG4bKo1")
            .replace("\n", "\r\n").replace("127.0.0.1:5062", "192.0.2.10:5062").encode(),
            other,
        )  # fmt: skip
    finally:
        engine.transport.send = real_send  # type: ignore[method-assign]
    assert len(sent) == 1
    reply = parse_message(sent[0])
    assert isinstance(reply, SipResponse) and reply.status == 200


async def test_trunk_addresses_are_never_limited(engine_env: EngineEnv) -> None:
    await _set_trunk_ips(engine_env, ["127.0.0.1"])  # the demo carrier's address
    client = UdpClient(engine_env.port)
    try:
        responses = await _flood(client, engine_env.port, 30, "t")
    finally:
        client.close()
    assert [r.status for r in responses] == [200] * 30
    assert engine_env.engine.flood.dropped == 0


async def test_retransmissions_and_other_methods_do_not_count(engine_env: EngineEnv) -> None:
    await _set_trunk_ips(engine_env, [])
    client = UdpClient(engine_env.port)
    try:
        same = request("OPTIONS", "sip:duplex@127.0.0.1", client.port, call_id="r1", branch="z9hG4bKr1")
        for _ in range(10):  # one transaction retransmitted: answered from the transaction every time
            client.send(same)
        retransmitted = []
        for _ in range(10):
            retransmitted.append((await client.response()).status)
        assert retransmitted == [200] * 10
        # the OPTIONS bucket is untouched by REGISTER: a REGISTER burst is limited on its own
        for i in range(6):
            client.send(
                request("REGISTER", "sip:127.0.0.1", client.port, call_id=f"g{i}", branch=f"z9hG4bKg{i}")
            )
        statuses = []
        for _ in range(6):
            statuses.append((await client.response()).status)
        assert statuses.count(401) == 5 and statuses.count(503) == 1, statuses
    finally:
        client.close()
    await asyncio.sleep(0)
