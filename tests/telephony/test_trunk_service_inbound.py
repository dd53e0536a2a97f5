"""Inbound carrier calls identified by trunk digest credentials (a trunk with a password and no IP list):
they reach own numbers with the trunk id on the call, never an external number; wrong credentials are
challenged again."""

from __future__ import annotations

import pytest
from engine_fixtures import EngineEnv, MemoryClient, engine_options, memory_env, request
from sqlalchemy import update

from duplex.db.models import Trunk
from duplex.sip.digest import DigestChallenge, authorize
from duplex.sip.message import SipResponse

__all__ = ["memory_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)


async def _final(client: MemoryClient, call_id: str, timeout: float = 3.0) -> SipResponse:
    """The final response for `call_id` (earlier 407s are retransmitted until ACKed; skip them)."""
    while True:
        response = await client.response(timeout=timeout)
        if response.call_id == call_id:
            return response


def _credentials(challenge: str, uri: str, password: str, nc: int = 1) -> str:
    parsed = DigestChallenge.parse(challenge)
    return str(authorize(parsed, username="carrier", password=password, method="INVITE", uri=uri,
                         cnonce="0a4f113b", nc=nc))  # fmt: skip


async def test_trunk_digest_reaches_own_number_but_never_an_external_one(memory_env: EngineEnv) -> None:
    with memory_env.sessions() as session, session.begin():
        session.execute(update(Trunk).where(Trunk.name == "demo-carrier")
                        .values(allowed_ips=[], username="carrier", password="carrier-pw"))  # fmt: skip
    await memory_env.engine.refresh_directory(force=True)
    client = MemoryClient(memory_env)
    external = "sip:+442071234567@127.0.0.1"
    try:
        client.send(request("INVITE", external, client.port, call_id="x1", branch="z9hG4bKx1"))
        first = await _final(client, "x1")
        assert first.status == 407  # the From user is an agent: a challenge
        challenge = next(v for v in first.headers.raw("Proxy-Authenticate") if "MD5" in v)

        wrong = _credentials(challenge, external, "guess")
        client.send(request("INVITE", external, client.port, call_id="x2", branch="z9hG4bKx2",
                            extra=f"Proxy-Authorization: {wrong}\n"))  # fmt: skip
        assert (await _final(client, "x2")).status == 407  # wrong trunk password: challenged again

        good = _credentials(challenge, external, "carrier-pw")
        client.send(request("INVITE", external, client.port, call_id="x3", branch="z9hG4bKx3",
                            extra=f"Proxy-Authorization: {good}\n"))  # fmt: skip
        assert (await _final(client, "x3")).status == 403  # a trunk never reaches an external number

        did = "sip:+40215550101@127.0.0.1"
        creds = _credentials(challenge, did, "carrier-pw", nc=2)  # nonce-count replay protection
        client.send(request("INVITE", did, client.port, call_id="x4", branch="z9hG4bKx4",
                            extra=f"Proxy-Authorization: {creds}\n"))  # fmt: skip
        answer = await _final(client, "x4", timeout=5)
        assert answer.status == 200  # the newspaper DID's flow answers
    finally:
        client.close()
    await memory_env.engine.store.flush()
    created = memory_env.events("call.created")
    assert len(created) == 1
    trunk = memory_env.engine.directory.trunks[0]
    assert created[0].data["trunk_id"] == trunk.id
    assert created[0].data["tracking_source"] == "newspaper"
    assert memory_env.engine.trunks.channels_in_use(trunk.id) == 1  # held while the call is up
