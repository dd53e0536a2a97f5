"""Nothing is acknowledged that is not recorded: with the database write-locked, the engine holds the 200 to
an INVITE and the 200 to a BYE until their events commit, refuses new calls with 503 while the record is
stuck, and answers as soon as the database takes writes again."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from engine_fixtures import EngineEnv, UdpClient, engine_env, engine_options, request

from duplex.sip.message import SipResponse, parse_message

__all__ = ["engine_env", "engine_options"]

SDP = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"


def invite(env: EngineEnv, client: UdpClient, call_id: str) -> str:
    return request("INVITE", f"sip:1001@127.0.0.1:{env.port}", client.port, call_id=call_id,
                   branch=f"z9hG4bK{call_id}", body=SDP, extra="Content-Type: application/sdp\n")  # fmt: skip


async def finals(client: UdpClient, seconds: float) -> list[SipResponse]:
    """The final responses that arrive within ``seconds``."""
    out: list[SipResponse] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            message = parse_message(await client.recv(timeout=left))
        except TimeoutError:
            break
        if isinstance(message, SipResponse) and message.status >= 200:
            out.append(message)
    return out


def events_of(env: EngineEnv, type_: str, sip_call_id: str) -> int:
    call_ids = {e.call_id for e in env.events("leg.created") if e.data.get("sip_call_id") == sip_call_id}
    return sum(1 for e in env.events(type_) if e.call_id in call_ids)


async def test_answers_and_hangups_wait_for_the_record_and_new_calls_get_503_meanwhile(
    engine_env: EngineEnv, tmp_path: Path
) -> None:
    engine_env.engine.store.max_commit_delay = 0.3
    caller, late = UdpClient(engine_env.port), UdpClient(engine_env.port)
    lock = sqlite3.connect(tmp_path / "duplex.db", isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        caller.send(invite(engine_env, caller, "first"))
        assert await finals(caller, 1.0) == []  # no 200 while call.answered cannot commit
        late.send(invite(engine_env, late, "second"))
        refused = await finals(late, 1.0)
        assert refused and {r.status for r in refused} == {
            503
        }  # backpressure: refused, not answered unrecorded
        lock.execute("ROLLBACK")
        answered = await finals(caller, 3.0)
        assert answered and {r.status for r in answered} == {200}
        assert events_of(engine_env, "call.answered", "first") == 1
        assert events_of(engine_env, "call.created", "second") == 0  # the refused call left no CDR
        ok = answered[0]
        caller.send(request("ACK", f"sip:1001@127.0.0.1:{engine_env.port}", caller.port, call_id="first",
                            branch="z9hG4bKfirstack", to_tag=ok.to_tag or ""))  # fmt: skip
        await asyncio.sleep(0.3)

        lock.execute("BEGIN IMMEDIATE")
        caller.send(request("BYE", f"sip:1001@127.0.0.1:{engine_env.port}", caller.port, call_id="first",
                            cseq=2, branch="z9hG4bKfirstbye", to_tag=ok.to_tag or ""))  # fmt: skip
        assert [r for r in await finals(caller, 1.0) if r.cseq.method == "BYE"] == []
        lock.execute("ROLLBACK")
        bye_ok = [r for r in await finals(caller, 3.0) if r.cseq.method == "BYE"]
        assert [r.status for r in bye_ok] == [200]
        assert events_of(engine_env, "call.ended", "first") == 1
        assert engine_env.engine.store.accepting
        late.send(invite(engine_env, late, "third"))  # recovered: calls are taken again
        assert 200 in {r.status for r in await finals(late, 2.0)}
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()
        caller.close()
        late.close()
