"""Media of bridged calls with real peers: what the caller receives while its call is set up.

Regression for the bridged benchmark's "RTP loop" (issue #4): there was no loop. The caller's leg sent 50
packets/s of silence from the moment it applied the caller's SDP offer, though it had not answered; every
call whose far leg went unanswered (30 s until Duplex gives up) sent the caller ~1500 packets it never
asked for, and at 20 calls/s the callers got 6.6 times the RTP they sent. The calls that failed were the
bench's (its carrier sipp quit after 60 s) and a few refused 503 in bursts (see the CPS test below).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from duplex.services.calls.b2bua import pick_trunk
from duplex.telephony.trunks import TrunkConfig, TrunkSelector
from interop.conftest import RunningEngine, registered_phone
from interop.peers import free_even_port, free_port, rtp_capture, rtp_packets_to, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_a_ringing_caller_is_sent_no_rtp_before_the_answer(
    running: RunningEngine, tmp_path: Path
) -> None:
    """RFC 3264 §6: the answerer "MAY send media immediately" once it has sent the answer; our 180 carries no
    SDP, so nothing may reach the caller's media port before the 200 (here: never, the caller cancels)."""
    phone = await registered_phone(running, tmp_path, answermode="manual")  # rings, never answers
    media = free_even_port()
    try:
        with rtp_capture(tmp_path, media) as pcap:
            result = await asyncio.to_thread(
                run_sipp, tmp_path, "uac_cancel.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
                media_port=media, service="2001", timeout=30,
            )  # fmt: skip
            assert result.successful == 1, result.output
            await asyncio.sleep(0.3)
        await asyncio.to_thread(phone.wait_event, "CALL_CLOSED", 10)
    finally:
        await asyncio.to_thread(phone.stop)
    await running.engine.store.flush()
    ringing = running.events("call.ringing")
    assert ringing and running.events("call.ended")[-1].data["reason"] == "caller_cancel"
    assert rtp_packets_to(pcap, media).packets == 0


async def test_a_burst_of_calls_waits_for_the_trunks_cps_tokens() -> None:
    """Calls picked in one event-loop iteration (the loop clock does not move) got no CPS token but the first
    and were refused 503 at once; now each waits for its token (1/max_cps apart)."""
    loop = asyncio.get_running_loop()
    selector = TrunkSelector(
        [TrunkConfig(id=1, name="carrier", host="127.0.0.1", max_cps=50.0)], now=loop.time()
    )
    ended = asyncio.Event()
    start = loop.time()
    picks = await asyncio.gather(*(pick_trunk(selector, f"call-{i}", ended) for i in range(5)))
    assert [t.id if t else None for t in picks] == [1] * 5
    assert loop.time() - start >= 0.07  # the 5th call's token came 4/50 s after the first
    assert selector.channels_in_use(1) == 5
    full = TrunkSelector([TrunkConfig(id=2, name="full", host="127.0.0.1", max_channels=0)], now=loop.time())
    assert await pick_trunk(full, "call-x", ended) is None  # no channel: no waiting, refused at once
