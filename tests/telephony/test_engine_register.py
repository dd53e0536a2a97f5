"""REGISTER through the engine: digest challenge (MD5 and SHA-256), binding persisted and announced,
wrong passwords throttled (403) and then banned (silence)."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import EngineEnv, MemoryClient, engine_options, memory_env, request
from sqlalchemy import select

from duplex.db.models import SipRegistration
from duplex.sip.digest import DigestChallenge, authorize
from virtual_time import memory_switch

__all__ = ["memory_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)


def _register(env: EngineEnv, client: MemoryClient, cseq: int, authorization: str = "") -> str:
    extra = "Expires: 120\n" + (f"Authorization: {authorization}\n" if authorization else "")
    return request("REGISTER", "sip:127.0.0.1", client.port, call_id="reg1", cseq=cseq, branch=f"z9hG4bKr{cseq}",
                   extra=extra).replace("To: <sip:127.0.0.1>", "To: <sip:alice@127.0.0.1>")  # fmt: skip


def _answer(challenges: list[str], algorithm: str, password: str, nc: int = 1) -> str:
    challenge = next(c for c in map(DigestChallenge.parse, challenges) if c.algorithm == algorithm)
    return str(authorize(challenge, username="alice", password=password, method="REGISTER", uri="sip:127.0.0.1",
                         cnonce="c0ffee", nc=nc))  # fmt: skip


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
async def test_register_with_digest(memory_env: EngineEnv, algorithm: str) -> None:
    client = MemoryClient(memory_env)
    client.send(_register(memory_env, client, 1))
    challenge = await client.response()
    assert challenge.status == 401
    offered = challenge.headers.get_all("WWW-Authenticate")
    assert {DigestChallenge.parse(c).algorithm for c in offered} == {"MD5", "SHA-256"}
    password = memory_env.creds["passwords"]["sip:alice"]
    client.send(_register(memory_env, client, 2, _answer(offered, algorithm, password)))
    ok = await client.response()
    client.close()
    assert ok.status == 200
    assert f"127.0.0.1:{client.port}" in (ok.headers.get("Contact") or "")
    assert memory_env.engine.registrations.lookup("alice", memory_env.engine.now())
    await memory_env.engine.store.flush()
    with memory_env.sessions() as session:
        rows = list(session.scalars(select(SipRegistration)))
    assert [(r.aor, r.source) for r in rows] == [("alice", f"udp:127.0.0.1:{client.port}")]
    assert len(memory_env.events("sip.registered")) == 1


@pytest.mark.looptime  # the silences below are 1 s each on virtual time (tests/virtual_time.py)
async def test_wrong_password_is_throttled_then_banned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with memory_switch(tmp_path, monkeypatch, ban_exempt=(), throttle_after=2, ban_after=4) as env:
        client = MemoryClient(env)
        client.send(_register(env, client, 1))
        offered = (await client.response()).headers.get_all("WWW-Authenticate")
        statuses: list[int | None] = []
        for attempt in range(2, 6):
            client.send(_register(env, client, attempt, _answer(offered, "MD5", "wrong-password", attempt)))
            try:
                statuses.append((await client.response(timeout=1.0)).status)
            except TimeoutError:
                statuses.append(None)
        # failure 1: challenged again; 2-3: throttled with 403 (no more guesses); 4: banned, requests dropped
        assert statuses == [401, 403, 403, None]
        password = env.creds["passwords"]["sip:alice"]
        client.send(_register(env, client, 9, _answer(offered, "MD5", password, 9)))
        with pytest.raises(TimeoutError):
            await client.response(
                timeout=1.0
            )  # the right password from a banned source is not answered either
        client.close()
        assert not env.engine.registrations.lookup("alice", env.engine.now())
