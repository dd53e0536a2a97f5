"""INVITE with Replaces (RFC 3891) from a real peer: sipp calls 2001 and talks to the baresip phone; a second
sipp sends an INVITE whose Replaces names the Duplex-phone dialog: it takes the phone's place (the caller is
bridged to it, audio flows), the phone gets a BYE."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from interop.conftest import RunningEngine
from interop.peers import (
    Baresip,
    free_even_port,
    free_port,
    rtp_capture,
    rtp_packets_to,
    run_sipp,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


async def test_invite_with_replaces_takes_the_phones_place(
    running: RunningEngine, alice: Baresip, tmp_path: Path
) -> None:
    caller_media = free_even_port()
    with rtp_capture(tmp_path, caller_media) as caller_pcap:
        caller = asyncio.create_task(asyncio.to_thread(
            run_sipp, tmp_path, "uac_wait_bye.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=caller_media, service="2001", timeout=60,
        ))  # fmt: skip
        await asyncio.to_thread(alice.wait_event, "CALL_ESTABLISHED", 10)
        phone_leg = next(leg for c in running.engine.calls.values() for leg in c.legs if leg.kind == "agent")
        d = phone_leg.dialog
        assert d is not None
        # from the recipient's (Duplex's) point of view: to-tag is Duplex's tag, from-tag the phone's
        replacing = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_replaces.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=free_even_port(), service="2001", duration_ms=3000, timeout=30,
            extra=["-set", "rcid", d.call_id, "-set", "rto", d.local_tag, "-set", "rfrom", d.remote_tag],
        )  # fmt: skip
        assert replacing.successful == 1, replacing.output
        await asyncio.to_thread(alice.wait_event, "CALL_CLOSED", 10)  # the replaced dialog got a BYE
        result = await caller  # the replacing party hung up, so Duplex hangs up the caller
    assert result.successful == 1, result.output
    to_caller = rtp_packets_to(caller_pcap, caller_media)
    print(f"RTP at the caller (phone, then the replacing sipp's pcap): {to_caller}")
    assert to_caller.packets >= 120  # ~3 s of the replacing sipp's pcap (50 packets/s) reach the caller
    await running.engine.store.flush()
    transferred = running.events("call.transferred")
    assert [(e.data["kind"], e.data["method"]) for e in transferred] == [("attended", "Replaces")]
    assert len(running.events("call.bridged")) == 2  # caller-phone, then caller-replacing party
