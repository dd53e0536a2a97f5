"""Trunks configured by DNS name against real sipp carriers: names from /etc/hosts (``localhost``) for
outbound calls, registration and the inbound allow-list, and an unresolvable name that fails over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from duplex.db.models import Call, Trunk
from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, run_sipp, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

UNRESOLVABLE = "no-such-carrier.invalid"  # RFC 6761 §6.4: .invalid never resolves


async def _wait(predicate: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_call_fails_over_from_an_unresolvable_trunk_to_one_named_localhost(
    running: RunningEngine, tmp_path: Path
) -> None:
    good_port = free_port()
    running.set_trunk(host=UNRESOLVABLE, failover_order=0, allowed_ips=[])
    with running.sessions() as session, session.begin():
        session.add(Trunk(name="named-carrier", host="localhost", port=good_port, caller_id="+40215550199",
                          allowed_ips=[], failover_order=1))  # fmt: skip
    await running.engine.refresh_directory(force=True)
    with sipp_background(tmp_path, "uas_answer.xml", local_port=good_port, media_port=free_even_port(), calls=1,
                         extra=["-rtp_echo", "-trace_msg"]):  # fmt: skip
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=free_even_port(), service="+442071234567", duration_ms=1000, timeout=30,
            extra=["-au", "alice", "-ap", running.sip_password("alice")],
        )  # fmt: skip
    assert result.successful == 1, result.output
    carrier_log = next(tmp_path.glob("uas_answer_*_messages.log")).read_text()
    assert "INVITE sip:+442071234567@localhost:" in carrier_log  # the Request-URI keeps the trunk's name
    await running.engine.store.flush()
    with running.sessions() as session:
        call = session.scalars(select(Call).where(Call.direction == "internal")).one()
        named = session.scalars(select(Trunk).where(Trunk.name == "named-carrier")).one()
        assert call.trunk_id == named.id
    assert running.engine.trunk_service.dns.cache.error(UNRESOLVABLE)  # looked up, failed, no crash


async def test_originate_through_a_trunk_named_localhost(running: RunningEngine, tmp_path: Path) -> None:
    from duplex.services.calls.call import Call as LiveCall
    from duplex.services.calls.uac import originate

    carrier_port = free_port()
    running.set_trunk(host="localhost", port=carrier_port)
    directory = await running.engine.refresh_directory(force=True)
    trunk = next(t for t in directory.trunks if t.name == "demo-carrier")
    with sipp_background(tmp_path, "uas_answer.xml", local_port=carrier_port, media_port=free_even_port(),
                         calls=1, extra=["-rtp_echo"]):  # fmt: skip
        call = LiveCall(running.engine, direction="outbound", from_number="+40215550100", to_number="+4420")
        leg = await originate(call, "+442071234567", trunk_id=trunk.id)
        assert await asyncio.wait_for(leg.answered, 5)
        assert leg.peer == ("127.0.0.1", carrier_port)
        await leg.hangup("done")
        await asyncio.wait_for(call.ended.wait(), 5)


async def test_trunk_named_localhost_registers_and_unresolvable_one_backs_off(
    running: RunningEngine, tmp_path: Path
) -> None:
    service = running.engine.trunk_service
    service.base_backoff = 4.0
    registrar = free_port()
    with sipp_background(tmp_path, "uas_registrar_auth.xml", local_port=registrar, calls=1) as sipp:
        running.set_trunk(register=True, username="trunkuser", password="trunk-secret", port=registrar,
                          host="localhost", from_domain="carrier.test")  # fmt: skip
        await service.reload()
        await _wait(lambda: running.engine.status["trunks"].get("demo-carrier") == "registered")
        await service.stop()
        code = await asyncio.to_thread(sipp.wait, 10)
    assert code == 0, (tmp_path / "sipp-bg-uas_registrar_auth.xml.log").read_text()
    running.set_trunk(host=UNRESOLVABLE)
    await service.start()
    await service.reload()
    await _wait(lambda: running.engine.status["trunks"].get("demo-carrier") == "backoff", timeout=5)
    await running.engine.store.flush()
    last = running.events("trunk.status_changed")[-1].data
    assert last["new"] == "backoff" and last["status_code"] is None
    assert f"cannot resolve trunk host '{UNRESOLVABLE}'" in last["reason"]


@pytest.mark.parametrize("engine_options", [{"trunk": {"allowed_ips": ["localhost"]}}])
async def test_carrier_call_from_an_allow_listed_name_reaches_the_did(
    running: RunningEngine, tmp_path: Path
) -> None:
    await _wait(lambda: running.engine.trunks.resolved.get("localhost"), timeout=5)
    assert "127.0.0.1" in running.engine.trunks.resolved["localhost"]
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="+40215550100", timeout=30,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await running.engine.store.flush()
    with running.sessions() as session:
        trunk = session.scalars(select(Trunk).where(Trunk.name == "demo-carrier")).one()
        call = session.scalars(select(Call)).one()
        assert call.trunk_id == trunk.id
