"""Trunks against real peers: sipp as the carrier's registrar (digest 401, 200 with Expires: 60, the
unregistration on stop) and as the carrier sending a call to a DID from the trunk's address."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from duplex.api.app import create_app
from duplex.db.models import Call, Trunk
from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, run_sipp, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def _wait_state(running: RunningEngine, name: str, state: str, timeout: float = 10.0) -> None:
    trunks = running.engine.status["trunks"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while trunks.get(name) != state:
        assert loop.time() < deadline, f"trunk {name} is {trunks.get(name)!r}, expected {state!r}"
        await asyncio.sleep(0.05)


async def _health(running: RunningEngine) -> dict[str, object]:
    app = create_app(running.settings)
    app.state.sip_status = running.engine.status  # as duplex serve publishes it
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://duplex") as client:
        response = await client.get("/api/v1/health")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_trunk_registers_with_digest_and_unregisters_on_stop(
    running: RunningEngine, tmp_path: Path
) -> None:
    registrar = free_port()
    with sipp_background(tmp_path, "uas_registrar_auth.xml", local_port=registrar, calls=1) as sipp:
        running.set_trunk(register=True, username="trunkuser", password="trunk-secret", port=registrar,
                          from_domain="carrier.test")  # fmt: skip
        await running.engine.trunk_service.reload()
        await _wait_state(running, "demo-carrier", "registered")
        sip = (await _health(running))["sip"]
        assert isinstance(sip, dict) and sip["trunks"] == {"demo-carrier": "registered"}
        reg = running.engine.trunk_service.registration(running.engine.directory.trunks[0].id)
        assert reg is not None and reg.expires_at is not None
        assert 0 < reg.expires_at - running.engine.now() <= 60  # the registrar granted 60 s
        await running.engine.trunk_service.stop()
        code = await asyncio.to_thread(sipp.wait, 10)
    log = (tmp_path / "sipp-bg-uas_registrar_auth.xml.log").read_text()
    assert code == 0, log  # every check passed: digest answer, same Call-ID, Expires: 0 at the end
    assert running.engine.status["trunks"] == {}
    await running.engine.store.flush()
    changes = [(e.data["old"], e.data["new"]) for e in running.events("trunk.status_changed")]
    assert changes == [("unregistered", "registering"), ("registering", "registered"),
                       ("registered", "unregistered")]  # fmt: skip
    registered = running.events("trunk.status_changed")[1].data
    assert registered["status_code"] == 200 and registered["expires_in"] == 60


async def test_unreachable_trunk_reports_backoff(running: RunningEngine) -> None:
    service = running.engine.trunk_service
    service.request_timeout, service.base_backoff = 1.0, 4.0
    running.set_trunk(register=True, username="trunkuser", password="trunk-secret", port=free_port())
    await service.reload()
    await _wait_state(running, "demo-carrier", "registering", timeout=2)
    await _wait_state(running, "demo-carrier", "backoff", timeout=5)
    sip = (await _health(running))["sip"]
    assert isinstance(sip, dict) and sip["trunks"] == {"demo-carrier": "backoff"}
    await running.engine.store.flush()
    last = running.events("trunk.status_changed")[-1].data
    assert last["new"] == "backoff" and last["status_code"] is None
    assert 4 * 0.8 <= last["retry_in"] <= 4.0  # base backoff with jitter


async def test_carrier_call_from_the_trunk_address_reaches_the_did(
    running: RunningEngine, tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="+40215550100", timeout=30,
    )  # fmt: skip
    assert result.successful == 1, result.output  # answered by the DID's flow; the carrier hangs up
    await running.engine.store.flush()
    with running.sessions() as session:
        trunk = session.scalars(select(Trunk).where(Trunk.name == "demo-carrier")).one()
        call = session.scalars(select(Call)).one()
        assert call.trunk_id == trunk.id
        assert call.tracking_source == "google-ads"
    created = running.events("call.created")
    assert len(created) == 1
    assert created[0].data["trunk_id"] == trunk.id
    assert created[0].data["tracking_source"] == "google-ads"
    assert running.engine.trunks.channels_in_use(trunk.id) == 0  # released when the call ended


@pytest.mark.parametrize("engine_options", [{"trunk": {"max_channels": 0}}])
async def test_carrier_call_on_a_full_trunk_gets_503(running: RunningEngine, tmp_path: Path) -> None:
    proc = await asyncio.to_thread(
        subprocess.run,
        ["sipp", "-sn", "uac", f"127.0.0.1:{running.port}", "-i", "127.0.0.1", "-p", str(free_port()),
         "-s", "+40215550100", "-m", "1", "-nostdin", "-timeout", "15s", "-trace_err",
         "-error_file", str(tmp_path / "err.log")],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode != 0  # the built-in uac expects 200
    assert "503" in (tmp_path / "err.log").read_text()
    await running.engine.store.flush()
    assert not running.events("call.created")
