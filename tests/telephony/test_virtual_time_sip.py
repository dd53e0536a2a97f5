"""SIP timers at their real values, on virtual time (`virtual_time`): an INVITE that is never answered fails
after Timer B with its retransmissions doubling from T1 (RFC 3261 §17.1.1.2); a ringing INVITE is cancelled at
the dial timeout; a registration that is not refreshed expires at its Expires."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_fixtures import MemoryClient, request

from duplex.services.calls.call import Call
from duplex.services.calls.uac import originate
from duplex.services.sip.memory import MemoryPeer
from duplex.sip.digest import DigestChallenge, authorize
from duplex.sip.message import SipRequest, make_response, parse_message
from virtual_time import memory_switch

pytestmark = [pytest.mark.looptime, pytest.mark.timeout(10)]

T1 = 0.5  # RFC 3261 §17.1.1.1: the round-trip estimate the INVITE timers start from


class Phone:
    """A phone on the switch's network: when (on the loop's clock) each request reached it."""

    def __init__(self, peer: MemoryPeer, switch_port: int) -> None:
        self.peer = peer
        self.switch = ("127.0.0.1", switch_port)
        self.requests: list[tuple[float, SipRequest]] = []
        self.respond: int | None = None  # answer each new INVITE with this provisional status
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = parse_message(await self.peer.recv(timeout=3600))
            if isinstance(message, SipRequest):
                self.requests.append((loop.time(), message))
                if self.respond is not None and message.method == "INVITE":
                    self.peer.send(bytes(make_response(message, self.respond, to_tag="phone1")), self.switch)
                elif message.method == "CANCEL":  # RFC 3261 §9.2: 200 for the CANCEL, 487 for the INVITE
                    invite = next(m for _, m in self.requests if m.method == "INVITE")
                    self.peer.send(bytes(make_response(message, 200, to_tag="phone1")), self.switch)
                    self.peer.send(bytes(make_response(invite, 487, to_tag="phone1")), self.switch)

    def times(self, method: str) -> list[float]:
        return [at for at, message in self.requests if message.method == method]

    def close(self) -> None:
        self._task.cancel()
        self.peer.close()


async def test_unanswered_invite_is_retransmitted_then_fails_after_timer_b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with memory_switch(tmp_path, monkeypatch) as env:
        assert env.network is not None
        phone = Phone(MemoryPeer(env.network), env.port)
        call = Call(env.engine, direction="outbound", from_number="duplex", to_number="alice")
        leg = await originate(call, f"sip:alice@127.0.0.1:{phone.peer.port}", contact=phone.peer.address,
                              timeout=60.0)  # fmt: skip
        answered = await leg.answered
        failed_at = asyncio.get_running_loop().time()
        phone.close()
    sent = phone.times("INVITE")
    # retransmitted after T1, 2*T1, 4*T1, ... (no T2 cap for INVITE); Timer B = 64*T1 after the first
    assert [round(at - sent[0], 3) for at in sent] == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert answered is False
    assert failed_at - sent[0] == pytest.approx(64 * T1, abs=1e-3)


async def test_ringing_invite_is_cancelled_at_the_dial_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with memory_switch(tmp_path, monkeypatch) as env:
        assert env.network is not None
        phone = Phone(MemoryPeer(env.network), env.port)
        phone.respond = 180  # rings for ever
        call = Call(env.engine, direction="outbound", from_number="duplex", to_number="alice")
        leg = await originate(call, f"sip:alice@127.0.0.1:{phone.peer.port}", contact=phone.peer.address,
                              timeout=30.0)  # fmt: skip
        answered = await leg.answered
        while not phone.times("ACK"):  # the switch acknowledges the 487 to its cancelled INVITE
            await asyncio.sleep(0.01)
        phone.close()
    invites, cancels, acks = phone.times("INVITE"), phone.times("CANCEL"), phone.times("ACK")
    assert answered is False
    assert len(invites) == 1  # the 180 stopped the retransmissions
    # at 30 s; within half a second, because a database write of another task that is still in a thread when the
    # timer is due can let the fake clock run on (seen once in a run of the whole suite on every core)
    assert [at - invites[0] for at in cancels + acks] == [pytest.approx(30.0, abs=0.5)] * 2


def _register(client: MemoryClient, cseq: int, expires: int, authorization: str = "") -> str:
    extra = f"Expires: {expires}\n" + (f"Authorization: {authorization}\n" if authorization else "")
    return request("REGISTER", "sip:127.0.0.1", client.port, call_id="reg1", cseq=cseq, branch=f"z9hG4bKr{cseq}",
                   extra=extra).replace("To: <sip:127.0.0.1>", "To: <sip:alice@127.0.0.1>")  # fmt: skip


async def test_registration_not_refreshed_expires_at_its_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with memory_switch(tmp_path, monkeypatch) as env:
        loop = asyncio.get_running_loop()
        client = MemoryClient(env)
        client.send(_register(client, 1, 60))
        offered = (await client.response()).headers.get_all("WWW-Authenticate")
        challenge = next(c for c in map(DigestChallenge.parse, offered) if c.algorithm == "SHA-256")
        answer = authorize(challenge, username="alice", password=env.sip_password("alice"), method="REGISTER",
                           uri="sip:127.0.0.1", cnonce="c0ffee", nc=1)  # fmt: skip
        client.send(_register(client, 2, 60, str(answer)))
        assert (await client.response()).status == 200
        registered_at = loop.time()
        while env.engine.registrations.count:
            await asyncio.sleep(0.1)
        expired_at = loop.time()
        client.close()
        await env.engine.store.flush()
        ended = [(e.data["aor"], e.data["reason"]) for e in env.events("sip.unregistered")]
    assert ended == [("alice", "expired")]
    # the switch looks for expired bindings once a second
    assert 60.0 <= expired_at - registered_at <= 61.1
