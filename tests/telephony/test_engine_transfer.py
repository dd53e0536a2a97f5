"""Transfers inside one engine (it calls itself over UDP): REFER blind and attended with the implicit
subscription's NOTIFYs (RFC 3515), and INVITE with Replaces (RFC 3891).

The test plays the phones with UAC legs of the switch (`uac.originate`) calling 1001, whose application is
replaced by ``park`` (answer, then wait), so every engine-side leg just sits there until it is bridged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from engine_fixtures import EngineEnv, engine_options, memory_env

from duplex.services.calls import in_dialog
from duplex.services.calls.apps import APPLICATIONS
from duplex.services.calls.call import Call, Leg, LegState
from duplex.services.calls.uac import OutboundLeg, originate
from duplex.services.calls.uas import InboundLeg
from duplex.sip.events import TransactionKey
from duplex.sip.message import SipRequest
from duplex.sip.timers import TimerConfig
from duplex.telephony.registrar import Binding, Source

__all__ = ["memory_env", "engine_options"]

pytestmark = pytest.mark.timeout(30)


async def park(leg: Leg) -> None:
    await leg.answer()
    await leg.ended.wait()


@pytest.fixture(autouse=True)
def parking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(APPLICATIONS, "echo", park)
    yield


async def _pair(env: EngineEnv, name: str) -> tuple[OutboundLeg, InboundLeg]:
    """A phone leg (ours, UAC) and the engine-side leg it reached (UAS, parked)."""
    engine = env.engine
    call = Call(engine, direction="outbound", from_number=name, to_number="1001")
    out = await originate(
        call, f"sip:1001@127.0.0.1:{env.port}", contact=("127.0.0.1", env.port), from_user=name
    )
    assert await asyncio.wait_for(out.answered, 5)
    assert out.invite_request is not None
    for _ in range(50):
        inbound = next((leg for c in list(engine.calls.values()) for leg in c.legs if isinstance(leg, InboundLeg)
                        and leg.invite.call_id == out.invite_request.call_id), None)  # fmt: skip
        if inbound is not None and inbound.is_up:
            return out, inbound
        await asyncio.sleep(0.05)
    raise AssertionError("the engine-side leg did not answer")


async def _until(predicate: object, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.05)


def _register_bob_at_the_engine(env: EngineEnv) -> None:
    """Bob's "phone" is the engine's own (parked) 1001, so a transfer to 2002 rings back into the engine."""
    now = env.engine.now()
    env.engine.registrations.registrar.restore([Binding(
        aor="bob", contact=f"sip:1001@127.0.0.1:{env.port}", expires_at=now + 300,
        source=Source(transport="udp", host="127.0.0.1", port=env.port), updated_at=now,
    )], now)  # fmt: skip


async def test_blind_refer_notifies_trying_then_200_and_bridges_the_transferee(memory_env: EngineEnv) -> None:
    _register_bob_at_the_engine(memory_env)
    caller_phone, transferee = await _pair(memory_env, "caller")
    alice_phone, alice_leg = await _pair(memory_env, "alice")
    await transferee.bridge(alice_leg)  # the caller talks to alice
    assert await alice_phone.transfer("2002")
    await _until(lambda: len(alice_phone.notifications) == 2)
    assert alice_phone.notifications == ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]
    sub = alice_leg.subscriptions[0]
    assert sub.responses == [200, 200] and not sub.active
    await asyncio.wait_for(alice_phone.ended.wait(), 5)  # alice's leg is released by BYE after the NOTIFY
    new = transferee.bridged_to
    assert new is not None and new.kind == "transfer" and new.is_up and new.call is transferee.call
    assert transferee.is_up and caller_phone.is_up
    await memory_env.engine.store.flush()
    kinds = {(e.data["kind"], e.data["method"]) for e in memory_env.events("call.transferred")}
    assert kinds == {("blind", "REFER")}


async def test_blind_refer_to_an_unreachable_agent_notifies_the_failure(memory_env: EngineEnv) -> None:
    _, transferee = await _pair(memory_env, "caller")
    alice_phone, alice_leg = await _pair(memory_env, "alice")
    await transferee.bridge(alice_leg)
    assert await alice_phone.transfer("2002")  # bob has no registered phone
    await _until(lambda: len(alice_phone.notifications) == 2)
    assert alice_phone.notifications == ["SIP/2.0 100 Trying", "SIP/2.0 480 Temporarily Unavailable"]
    assert alice_leg.is_up and transferee.bridged_to is alice_leg  # alice keeps the caller


async def test_attended_refer_with_replaces_bridges_the_transferee_to_the_consulted_party(
    memory_env: EngineEnv,
) -> None:
    _, transferee = await _pair(memory_env, "caller")
    alice_phone, alice_leg = await _pair(memory_env, "alice")  # alice's call with the caller
    consult_phone, consult_leg = await _pair(memory_env, "alice")  # alice's consultation call ...
    _, bob = await _pair(memory_env, "bob")  # ... with bob
    await transferee.bridge(alice_leg)
    await consult_leg.bridge(bob)
    assert await alice_phone.transfer("2002", replaces=consult_phone)
    await _until(lambda: len(alice_phone.notifications) == 2)
    assert alice_phone.notifications == ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]
    await asyncio.wait_for(alice_phone.ended.wait(), 5)  # both legs of alice are released
    await asyncio.wait_for(consult_phone.ended.wait(), 5)
    assert transferee.bridged_to is bob and bob.bridged_to is transferee
    assert bob.call is transferee.call and bob.is_up and transferee.is_up
    await memory_env.engine.store.flush()
    events = memory_env.events("call.transferred")
    assert {e.data["kind"] for e in events} == {"attended"}
    assert [e.data["target"] for e in events] == ["2002", "2002"]  # sent by alice's phone, received by Duplex


@pytest.mark.parametrize("engine_options", [{"timers": TimerConfig(t1=0.02)}])  # Timer F = 1.28 s
@pytest.mark.parametrize("answer", [481, None])
async def test_notify_481_or_timeout_ends_the_subscription_not_the_transfer(
    memory_env: EngineEnv, answer: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_bob_at_the_engine(memory_env)
    _, transferee = await _pair(memory_env, "caller")
    alice_phone, alice_leg = await _pair(memory_env, "alice")
    await transferee.bridge(alice_leg)
    on_notify = in_dialog.HANDLERS["NOTIFY"]

    def phone_on_notify(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
        if leg is not alice_phone:
            on_notify(leg, request, key)
        elif answer is not None:  # None: the phone never answers the NOTIFY
            memory_env.engine.respond(key, request, answer)

    monkeypatch.setitem(in_dialog.HANDLERS, "NOTIFY", phone_on_notify)
    assert await alice_phone.transfer("2002")
    await _until(lambda: bool(alice_leg.subscriptions) and not alice_leg.subscriptions[0].active)
    assert alice_leg.subscriptions[0].responses == [answer]  # no final NOTIFY after the 481 / timeout
    await _until(lambda: transferee.bridged_to is not None and transferee.bridged_to.kind == "transfer")


async def test_invite_with_replaces_takes_over_a_bridged_dialog(memory_env: EngineEnv) -> None:
    _, transferee = await _pair(memory_env, "caller")
    alice_phone, alice_leg = await _pair(memory_env, "alice")
    await transferee.bridge(alice_leg)
    d = alice_phone.dialog
    assert d is not None
    replaces = f"{d.call_id};to-tag={d.remote_tag};from-tag={d.local_tag}"
    carol = Call(memory_env.engine, direction="outbound", from_number="carol", to_number="2001")
    carol_phone = await originate(carol, f"sip:2001@127.0.0.1:{memory_env.port}", contact=("127.0.0.1", memory_env.port),
                                        extra=(("Replaces", replaces),))  # fmt: skip
    assert await asyncio.wait_for(carol_phone.answered, 5)
    await asyncio.wait_for(alice_phone.ended.wait(), 5)  # the replaced dialog got a BYE
    new = transferee.bridged_to
    assert new is not None and new.kind == "transfer" and new.is_up and alice_leg.state is LegState.ENDED
    await memory_env.engine.store.flush()
    events = memory_env.events("call.transferred")
    assert [(e.data["kind"], e.data["method"]) for e in events] == [("attended", "Replaces")]


async def test_invite_with_replaces_for_an_unknown_dialog_gets_481(memory_env: EngineEnv) -> None:
    call = Call(memory_env.engine, direction="outbound", from_number="carol", to_number="2001")
    leg = await originate(call, f"sip:2001@127.0.0.1:{memory_env.port}", contact=("127.0.0.1", memory_env.port),
                               extra=(("Replaces", "nope@x;to-tag=a;from-tag=b"),))  # fmt: skip
    assert not await asyncio.wait_for(leg.answered, 5)
    assert leg.sip_status == 481
