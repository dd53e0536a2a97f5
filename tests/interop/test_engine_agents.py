"""baresip as an agent's phone: digest REGISTER, inbound calls bridged to it (audio both ways), BYE from the
callee, CANCEL before answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from duplex.db.models import SipRegistration
from duplex.media.wav import read_wav
from interop.conftest import RunningEngine, registered_phone
from interop.peers import (
    Baresip,
    free_even_port,
    free_port,
    rtp_capture,
    rtp_packets_to,
    run_sipp,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_baresip_registers_with_digest(running: RunningEngine, alice: Baresip) -> None:
    await running.engine.store.flush()
    with running.sessions() as session:
        rows = list(session.scalars(select(SipRegistration)))
    assert [r.aor for r in rows] == ["alice"]
    assert rows[0].source.endswith(f":{alice.sip_port}")
    assert rows[0].agent_id is not None
    assert len(running.events("sip.registered")) == 1
    assert running.engine.status["registrations"] in (0, 1)  # refreshed by housekeeping every second


def _rms(path: Path) -> float:
    pcm = read_wav(path).astype(np.float64)
    return float(np.sqrt(np.mean(pcm**2))) if len(pcm) else 0.0


async def test_call_to_extension_is_bridged_to_the_phone(
    running: RunningEngine, alice: Baresip, tmp_path: Path
) -> None:
    caller_media = free_even_port()
    lo, hi = alice.rtp_ports
    with rtp_capture(tmp_path, caller_media) as caller_pcap, rtp_capture(tmp_path, lo, hi) as phone_pcap:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=caller_media, service="2001", duration_ms=5000, timeout=30,
        )  # fmt: skip
    assert result.successful == 1, result.output
    await asyncio.to_thread(alice.wait_event, "CALL_CLOSED", 10)
    to_caller = rtp_packets_to(caller_pcap, caller_media)
    to_phone = max(
        (rtp_packets_to(phone_pcap, port) for port in range(lo, hi + 1, 2)), key=lambda s: s.packets
    )
    print(f"bridged RTP: phone->caller {to_caller}, caller->phone {to_phone}")
    assert to_caller.packets >= 200 and to_caller.lost == 0  # baresip's tone for ~5 s
    # sipp's pcap (236 packets in 7 s, with gaps: ~167 in the first 5 s), relayed packet for packet
    assert to_phone.packets >= 160 and to_phone.lost == 0
    received = sorted(alice.rec_dir.glob("*-dec.wav"))
    assert received and _rms(received[-1]) > 100.0
    await running.engine.store.flush()
    assert len(running.events("call.bridged")) == 1
    assert running.events("call.ended")[-1].data["hangup_by"] == "remote"


async def test_bye_from_the_callee_reaches_the_caller(
    running: RunningEngine, alice: Baresip, tmp_path: Path
) -> None:
    sipp = asyncio.create_task(asyncio.to_thread(
        run_sipp, tmp_path, "uac_wait_bye.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="2001", timeout=30,
    ))  # fmt: skip
    await asyncio.to_thread(alice.wait_event, "CALL_ESTABLISHED", 10)
    await asyncio.sleep(0.5)
    agent_leg = next(
        leg for call in running.engine.calls.values() for leg in call.legs if leg.kind == "agent"
    )
    assert await agent_leg.hold()  # Duplex puts the phone on hold: re-INVITE a=sendonly, 200 from baresip
    assert agent_leg.negotiated is not None and agent_leg.negotiated.direction == "sendonly"
    assert await agent_leg.unhold()
    alice.command("hangup")
    result = await sipp
    assert result.successful == 1, result.output
    await running.engine.store.flush()
    ended = running.events("call.ended")[-1]
    assert ended.data["hangup_by"] == "remote" and ended.data["reason"] == "agent_hangup"


async def test_cancel_before_answer_gives_487(running: RunningEngine, tmp_path: Path) -> None:
    phone = await registered_phone(running, tmp_path, answermode="manual")
    try:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_cancel.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=free_even_port(), service="2001", timeout=30,
        )  # fmt: skip
        assert result.successful == 1, result.output
        await asyncio.to_thread(phone.wait_event, "CALL_CLOSED", 10)
    finally:
        await asyncio.to_thread(phone.stop)
    await running.engine.store.flush()
    ended = running.events("call.ended")[-1]
    assert ended.data["reason"] == "caller_cancel" and ended.data["answered"] is False


async def test_phone_transfers_the_caller_by_refer(
    running: RunningEngine, alice: Baresip, tmp_path: Path
) -> None:
    bob = await registered_phone(running, tmp_path, user="bob")
    try:
        sipp = asyncio.create_task(asyncio.to_thread(
            run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=free_even_port(), service="2001", duration_ms=6000, timeout=30,
        ))  # fmt: skip
        await asyncio.to_thread(alice.wait_event, "CALL_ESTABLISHED", 10)
        alice_leg = next(leg for c in running.engine.calls.values() for leg in c.legs if leg.kind == "agent")
        alice.command("transfer", f"sip:2002@127.0.0.1:{running.port}")
        await asyncio.to_thread(alice.wait_event, "CALL_CLOSED", 10)
        # RFC 3515: the implicit subscription's NOTIFYs (sipfrag 100 Trying, then the final 200), both
        # answered 200 by baresip
        sub = alice_leg.subscriptions[0]
        for _ in range(100):  # the final NOTIFY's 200 may still be on its way when the call closes
            if len(sub.responses) == 2:
                break
            await asyncio.sleep(0.05)
        assert sub.sent == ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"] and sub.responses == [200, 200]
        result = await sipp
        assert result.successful == 1, result.output
        await asyncio.to_thread(bob.wait_event, "CALL_CLOSED", 10)  # the caller hung up on bob
    finally:
        await asyncio.to_thread(bob.stop)
    await running.engine.store.flush()
    transferred = running.events("call.transferred")
    assert len(transferred) == 1 and "2002" in transferred[0].data["target"]
    assert len(running.events("call.bridged")) == 2  # caller-alice, then caller-bob
