"""INVITEs that can never become a working call are refused at once with a final 4xx (not left at 100 Trying,
no call left in memory), non-UTF-8 header bytes are recorded, and banned sources get no server transaction."""

from __future__ import annotations

import asyncio

import pytest
from engine_fixtures import EngineEnv, UdpClient, engine_env, engine_options, request
from sqlalchemy import select

from duplex.db.models import Call
from duplex.sip.message import SipResponse, parse_message

__all__ = ["engine_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)

SDP = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"


def _invite(env: EngineEnv, client: UdpClient, *, sdp: str = SDP, call_id: str = "hostile-1") -> str:
    return request("INVITE", f"sip:1001@127.0.0.1:{env.port}", client.port, call_id=call_id, body=sdp,
                   extra="Content-Type: application/sdp\n")  # fmt: skip


async def _final(client: UdpClient, timeout: float = 3.0) -> bytes:
    """The first final response as bytes (a 400 may copy a header that does not parse again)."""
    while True:
        data = await client.recv(timeout)
        if not data.startswith(b"SIP/2.0 1"):
            return data


async def _no_calls_left(env: EngineEnv) -> None:
    for _ in range(40):
        if not env.engine.calls and not env.engine.media.sessions:  # type: ignore[attr-defined]
            await env.engine.store.flush()
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"calls left: {env.engine.calls}")


@pytest.mark.parametrize("tag", [";tag=", ";tag", ";tag=a b"])
async def test_from_tag_that_is_not_a_token_gets_400(engine_env: EngineEnv, tag: str) -> None:
    client = UdpClient(engine_env.port)
    client.send(_invite(engine_env, client).replace(";tag=f1", tag))
    final = await _final(client)
    client.close()
    assert final.startswith(b"SIP/2.0 400 "), final[:80]
    await _no_calls_left(engine_env)
    assert not engine_env.events("call.created")


@pytest.mark.parametrize("contact", ["<mailto:x@y>", "<tel:+15551234567>", "<sip:a@b>, <sip:c@d>"])
async def test_contact_that_is_not_one_sip_uri_gets_400(engine_env: EngineEnv, contact: str) -> None:
    client = UdpClient(engine_env.port)
    invite = _invite(engine_env, client).replace(
        f"Contact: <sip:alice@127.0.0.1:{client.port}>", f"Contact: {contact}"
    )
    client.send(invite)
    final = parse_message(await _final(client))
    client.close()
    assert isinstance(final, SipResponse) and final.status == 400
    await _no_calls_left(engine_env)
    assert not engine_env.events("call.created")


@pytest.mark.parametrize("connection", ["c=IN IP6 ::1", "c=IN IP4 not-an-address", "c=IN IP4 999.1.2.3"])
async def test_sdp_address_we_cannot_send_to_gets_488_and_frees_the_media(
    engine_env: EngineEnv, connection: str
) -> None:
    client = UdpClient(engine_env.port)
    client.send(_invite(engine_env, client, sdp=SDP.replace("c=IN IP4 127.0.0.1", connection)))
    final = parse_message(await _final(client))
    client.close()
    assert isinstance(final, SipResponse) and final.status == 488
    await _no_calls_left(engine_env)
    ended = engine_env.events("call.ended")
    assert len(ended) == 1 and len(engine_env.events("call.created")) == 1


async def test_latin1_bytes_in_from_user_and_display_name_are_recorded(engine_env: EngineEnv) -> None:
    client = UdpClient(engine_env.port)
    text = _invite(engine_env, client).replace("From: <sip:alice@", 'From: "Ren\x00" <sip:jos\x01@')
    data = text.replace("\n", "\r\n").encode().replace(b"\x00", b"\xe9").replace(b"\x01", b"\xe9")
    client.sock.sendto(data, client.server)
    final = await client.response()
    assert final.status == 200
    client.send(request("BYE", f"sip:1001@127.0.0.1:{engine_env.port}", client.port, call_id="hostile-1",
                        cseq=2, branch="z9hG4bKbye1", to_tag=final.to_tag or ""))  # fmt: skip
    assert (await client.response()).status == 200
    client.close()
    await _no_calls_left(engine_env)
    with engine_env.sessions() as session:
        calls = list(session.scalars(select(Call)))
    assert [(c.from_number, c.state) for c in calls] == [("jos\\xe9", "ended")]
    legs = engine_env.events("leg.created")
    assert legs and legs[0].data["remote_uri"].startswith('"Ren\\xe9" <sip:jos\\xe9@')


@pytest.mark.parametrize("engine_options", [{"ban_exempt": ()}])
async def test_banned_source_leaves_no_server_transaction(engine_env: EngineEnv) -> None:
    engine = engine_env.engine
    now = engine.now()
    while engine.registrations.failures.record_failure("127.0.0.1", now).action != "drop":
        pass
    client = UdpClient(engine_env.port)
    for i in range(30):
        method = ("INVITE", "REGISTER", "OPTIONS")[i % 3]
        client.send(request(method, f"sip:1001@127.0.0.1:{engine_env.port}", client.port, call_id=f"ban-{i}",
                            branch=f"z9hG4bKban{i}"))  # fmt: skip
    with pytest.raises(TimeoutError):
        await client.recv(timeout=1.0)  # a banned source gets silence
    client.close()
    assert not engine.txl.transactions
    front = engine.front  # dropped unparsed by the datagram screen, or after parsing (TCP, WebSocket)
    assert front.preparse.counts.get("banned", 0) + front.banned_dropped == 30


async def test_a_failing_handler_answers_500_instead_of_leaving_the_transaction(
    engine_env: EngineEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(engine_env.engine.registrations, "handle", broken)
    client = UdpClient(engine_env.port)
    client.send(request("REGISTER", "sip:127.0.0.1", client.port, call_id="fault-1", branch="z9hG4bKfault"))
    response = await client.response()
    client.close()
    assert response.status == 500
    waiting = [
        t for t in engine_env.engine.txl.transactions.values() if t.state.name in ("TRYING", "PROCEEDING")
    ]
    assert not waiting
    assert any("injected fault" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
