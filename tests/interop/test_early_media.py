"""Early media on an outbound leg (RFC 3960 gateway model) against a real sipp callee: a 183 with SDP
followed by 2 s of A-law audio and a 486. Duplex applies the 183's SDP (so the leg knows the codec and
detectors can hear ringback or an announcement) but sends the callee no RTP before a 2xx (RFC 3264 §6)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from duplex.services.calls.call import Call
from duplex.services.calls.uac import originate
from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, rtp_capture, rtp_packets_to, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_early_media_is_received_with_its_codec_and_nothing_is_sent_back(
    running: RunningEngine, tmp_path: Path
) -> None:
    callee, media = free_port(), free_even_port()
    with (
        rtp_capture(tmp_path, media) as pcap,
        sipp_background(tmp_path, "uas_early_media_486.xml", local_port=callee, media_port=media, calls=1),
    ):
        call = Call(running.engine, direction="outbound", from_number="duplex", to_number="busy")
        leg = await originate(call, f"sip:busy@127.0.0.1:{callee}", contact=("127.0.0.1", callee))
        assert not await asyncio.wait_for(leg.answered, 10)
        await asyncio.wait_for(call.ended.wait(), 5)
    assert leg.sip_status == 486
    assert leg.negotiated is not None and leg.negotiated.codec == "PCMA"  # from the 183's SDP
    await running.engine.store.flush()
    (quality,) = running.events("call.quality")
    assert quality.data["codec"] == "PCMA" and quality.data["packets_received"] >= 50
    sent_to_callee = rtp_packets_to(pcap, media)
    assert sent_to_callee.packets == 0, f"Duplex sent {sent_to_callee.packets} RTP packets before any answer"
