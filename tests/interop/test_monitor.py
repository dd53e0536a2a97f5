"""A supervisor monitors a bridged call with real phones: three baresips, each sending a tone of its own
frequency (caller 500 Hz, agent 1100 Hz, supervisor 1700 Hz). tshark captures what each phone receives, and
each time window (plain bridge, listen, whisper, barge, after the supervisor hung up) is checked for the
tones it must and must not carry: which party's audio reached which phone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from duplex.db.models import User
from duplex.media.monitoring import MonitorMode
from duplex.services.calls.call import Call, LegState
from duplex.services.calls.monitor import CallMonitoring, Monitor, MonitorRefused
from interop import tone_phones
from interop.conftest import RunningEngine
from interop.peers import Baresip
from interop.tone_phones import captures, phone, received

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

TONES = {"caller": 500.0, "agent": 1100.0, "supervisor": 1700.0}


def heard(packets: list[tuple[float, np.ndarray]], start: float, end: float) -> set[str]:
    return tone_phones.heard(packets, start, end, TONES)


def supervisor_id(running: RunningEngine) -> int:
    """The demo supervisor's user id; the demo gives them a phone (an agent row, SIP user "supervisor")."""
    with running.sessions() as session:
        return session.query(User).filter_by(username="supervisor").one().id


async def connected_call(running: RunningEngine, caller: Baresip) -> Call:
    caller.command("dial", f"sip:2001@127.0.0.1:{running.port}")  # dave's phone calls alice's extension
    await asyncio.to_thread(caller.wait_event, "CALL_ESTABLISHED", 15)
    for _ in range(50):
        for call in running.engine.calls.values():
            if any(leg.kind == "agent" and leg.is_up and leg.bridged_to for leg in call.legs):
                return call
        await asyncio.sleep(0.1)
    raise AssertionError("no bridged call to alice")


async def started(monitoring: CallMonitoring, call: Call, mode: MonitorMode, user_id: int) -> Monitor:
    monitor = await monitoring.start(call.id, sip_username="supervisor", user_id=user_id, mode=mode)
    for _ in range(100):
        if monitor.mix is not None and monitor.mix.ticks > 10:
            return monitor
        await asyncio.sleep(0.1)
    raise AssertionError(f"the supervisor's phone did not join: {monitor.state}")


async def test_listen_whisper_barge_route_each_partys_audio_and_the_call_survives_the_supervisor(
    running: RunningEngine, tmp_path: Path
) -> None:
    user_id = supervisor_id(running)
    phones = {
        "caller": await phone(running, tmp_path, "dave", running.sip_password("dave"), TONES["caller"]),
        "agent": await phone(running, tmp_path, "alice", running.sip_password("alice"), TONES["agent"]),
        "supervisor": await phone(
            running, tmp_path, "supervisor", running.sip_password("supervisor"), TONES["supervisor"]
        ),
    }
    monitoring = CallMonitoring(running.engine)
    marks: dict[str, float] = {}
    try:
        with captures(tmp_path, phones) as pcaps:
            call = await connected_call(running, phones["caller"])
            marks["bridge"] = time.time()
            await asyncio.sleep(2.0)
            with pytest.raises(MonitorRefused):  # nobody monitors it yet
                monitoring.change(call.id, MonitorMode.BARGE, user_id=user_id)
            monitor = await started(monitoring, call, MonitorMode.LISTEN, user_id)
            marks["listen"] = time.time()
            with pytest.raises(MonitorRefused) as second:
                await monitoring.start(call.id, sip_username="supervisor", user_id=user_id,
                                       mode=MonitorMode.LISTEN)  # fmt: skip
            assert second.value.status == 409
            await asyncio.sleep(2.5)
            monitoring.change(call.id, MonitorMode.WHISPER, user_id=user_id)
            marks["whisper"] = time.time()
            await asyncio.sleep(2.5)
            monitoring.change(call.id, MonitorMode.BARGE, user_id=user_id)
            marks["barge"] = time.time()
            await asyncio.sleep(2.5)
            phones["supervisor"].command("hangup")
            await asyncio.wait_for(monitor.done.wait(), 10)
            marks["after"] = time.time()
            await asyncio.sleep(2.5)
            marks["end"] = time.time()
            assert not call.ended.is_set()  # the supervisor left; caller and agent talk on
            assert all(leg.is_up for leg in (monitor.caller, monitor.agent))
            assert monitor.leg.state is LegState.ENDED
            phones["caller"].command("hangup")
            await asyncio.wait_for(call.ended.wait(), 10)
    finally:
        for p in phones.values():
            await asyncio.to_thread(p.stop)
    got = {who: received(pcap, phones[who].rtp_ports) for who, pcap in pcaps.items()}
    windows = ["bridge", "listen", "whisper", "barge", "after", "end"]
    expected = {
        "bridge": {"caller": {"agent"}, "agent": {"caller"}},
        "listen": {"caller": {"agent"}, "agent": {"caller"}, "supervisor": {"caller", "agent"}},
        "whisper": {
            "caller": {"agent"},
            "agent": {"caller", "supervisor"},
            "supervisor": {"caller", "agent"},
        },
        "barge": {
            "caller": {"agent", "supervisor"},
            "agent": {"caller", "supervisor"},
            "supervisor": {"caller", "agent"},
        },
        "after": {"caller": {"agent"}, "agent": {"caller"}},
    }
    for name, start, end in zip(windows, [marks[w] for w in windows], [marks[w] for w in windows[1:]],
                                strict=False):  # fmt: skip
        print(name)
        actual = {who: heard(got[who], start + 0.5, end - 0.2) for who in expected[name]}
        assert actual == expected[name], name
    await running.engine.store.flush()
    types = [e.type for e in running.events("monitor.started")] + [
        e.type for e in running.events("monitor.mode_changed")
    ]
    assert types == ["monitor.started", "monitor.mode_changed", "monitor.mode_changed"]
    assert [e.data["mode"] for e in running.events("monitor.mode_changed")] == ["whisper", "barge"]
    ended = running.events("monitor.ended")
    assert [(e.call_id, e.data["reason"], e.data["by_user_id"]) for e in ended] == [
        (call.id, "supervisor_hangup", user_id)
    ]
    assert running.events("call.ended")[-1].data["leg_kind"] != "monitor"


async def test_the_supervisors_leg_ends_with_the_call_and_refusals_say_why(
    running: RunningEngine, tmp_path: Path
) -> None:
    user_id = supervisor_id(running)
    caller = await phone(running, tmp_path, "dave", running.sip_password("dave"), TONES["caller"])
    agent = await phone(running, tmp_path, "alice", running.sip_password("alice"), TONES["agent"])
    supervisor = await phone(
        running, tmp_path, "supervisor", running.sip_password("supervisor"), TONES["supervisor"]
    )
    monitoring = CallMonitoring(running.engine)
    try:
        with pytest.raises(MonitorRefused) as unknown:
            await monitoring.start("no-such-call", sip_username="supervisor", user_id=user_id,
                                   mode=MonitorMode.LISTEN)  # fmt: skip
        assert unknown.value.status == 409
        call = await connected_call(running, caller)
        with pytest.raises(MonitorRefused) as unregistered:
            await monitoring.start(call.id, sip_username="carol", user_id=user_id, mode=MonitorMode.LISTEN)
        assert "not registered" in str(unregistered.value)
        monitor = await started(monitoring, call, MonitorMode.BARGE, user_id)
        agent.command("hangup")  # the agent ends the call
        await asyncio.to_thread(supervisor.wait_event, "CALL_CLOSED", 10)
        await asyncio.wait_for(monitor.done.wait(), 10)
    finally:
        for p in (caller, agent, supervisor):
            await asyncio.to_thread(p.stop)
    await running.engine.store.flush()
    assert [e.data["reason"] for e in running.events("monitor.ended")] == ["call_ended"]
    ended = running.events("call.ended")[-1]
    assert ended.data["leg_kind"] == "agent", ended.data  # the call ended by the agent, not by the monitor
