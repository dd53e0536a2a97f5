"""Early media through the B2BUA (RFC 3960 gateway model) with real sipp peers: an agent phone (sipp UAC,
digest auth) calls out through the demo trunk, whose carrier (sipp UAS) sends a 183 with SDP and 2 s of
A-law audio. The caller gets a 183 with Duplex's SDP answer and hears the carrier's audio before any answer;
then the carrier fails (486, passed on to the caller) or answers (the 200 repeats the 183's SDP, RFC 3261
§13.2.1, and the audio goes on)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from duplex.db.models import Trunk
from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, rtp_capture, rtp_packets_to, run_sipp, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def _responses(log: str, status: int) -> list[str]:
    """Bodies-and-headers of the ``status`` responses sipp received (its -trace_msg log)."""
    chunks = re.split(r"-{5,} [^\n]*\n", log)  # "---- <time>", "UDP message received [n] bytes :", message
    messages = [c.split("\n", 1)[1].strip() for c in chunks if "message received" in c.split("\n", 1)[0]]
    return [m for m in messages if m.startswith(f"SIP/2.0 {status} ")]


def _received_at(log: str, status: int) -> float:
    """When sipp received the first ``status`` response (the trace's timestamps are the local time)."""
    for chunk in re.split(r"(?=-{5,} \d)", log):
        lines = chunk.split("\n", 3)
        if len(lines) == 4 and "message received" in lines[1] and lines[3].startswith(f"SIP/2.0 {status} "):
            return datetime.strptime(lines[0].strip("- "), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    raise AssertionError(f"no {status} in the trace")


def _rtp_arrivals(pcap: Path, port: int) -> list[float]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"udp.dstport == {port}", "-T", "fields",
                          "-e", "frame.time_epoch"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [float(line) for line in out.split()]


def _sdp(message: str) -> str:
    return message.replace("\r\n", "\n").split("\n\n", 1)[1].strip()


async def _agent_calls_trunk(running: RunningEngine, tmp_path: Path, carrier: str, caller: str, *, media: int,
                             duration_ms: int | None = None, carrier_extra: list[str] | None = None,
                             ) -> tuple[int, str]:  # fmt: skip
    """alice (sipp) calls +442071234567 through the demo trunk answered by the ``carrier`` scenario;
    returns the caller's successful-call count and its message trace."""
    trunk_port = free_port()
    running.set_trunk(port=trunk_port, allowed_ips=[])
    await running.engine.refresh_directory(force=True)
    with sipp_background(tmp_path, carrier, local_port=trunk_port, media_port=free_even_port(), calls=1,
                         extra=carrier_extra):  # fmt: skip
        result = await asyncio.to_thread(
            run_sipp, tmp_path, caller, f"127.0.0.1:{running.port}", local_port=free_port(), media_port=media,
            service="+442071234567", duration_ms=duration_ms, timeout=40,
            extra=["-au", "alice", "-ap", running.sip_password("alice"), "-trace_msg"],
        )  # fmt: skip
    log = next(tmp_path.glob(f"{caller.removesuffix('.xml')}_*_messages.log")).read_text()
    assert result.successful == 1, result.output[-2000:] + log[-3000:]
    return result.successful, log


async def test_caller_hears_the_carriers_announcement_then_gets_its_486(
    running: RunningEngine, tmp_path: Path
) -> None:
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        _, log = await _agent_calls_trunk(running, tmp_path, "uas_early_media_486.xml",
                                          "uac_auth_early_media_486.xml", media=media)  # fmt: skip
    (progress,) = _responses(log, 183)
    assert "application/sdp" in progress and "m=audio" in _sdp(progress)
    assert len(_responses(log, 486)) >= 1
    heard = rtp_packets_to(pcap, media)
    # 2 s of the carrier's A-law packets (sipp's g711a.pcap: one per 30 ms) relayed before the 486
    assert 55 <= heard.packets <= 80, f"the caller got {heard.packets} RTP packets of early media"
    await running.engine.store.flush()
    caller_leg = [e for e in running.events("leg.ended") if e.data["hangup_by"] == "duplex"]
    assert [(e.data["sip_status"], e.data["reason"]) for e in caller_leg] == [(486, "busy")]
    assert not running.events("call.bridged")  # early media is not an agent/callee connection


async def test_caller_hears_early_media_then_the_answered_call_with_the_same_sdp(
    running: RunningEngine, tmp_path: Path
) -> None:
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        _, log = await _agent_calls_trunk(running, tmp_path, "uas_early_media_200.xml",
                                          "uac_auth_early_media_200.xml", media=media, duration_ms=3000)  # fmt: skip
    (progress,) = _responses(log, 183)
    ok = [m for m in _responses(log, 200) if "INVITE" in m.split("CSeq:", 1)[1].splitlines()[0]]
    assert ok, log[-3000:]
    assert _sdp(progress) == _sdp(ok[0])  # RFC 3261 §13.2.1: the 200 repeats the 183's SDP
    heard = rtp_packets_to(pcap, media)
    # 2 s of early media and 3 s after the answer (one packet per 30 ms), no gap at the 200
    assert heard.packets >= 145, f"the caller got {heard.packets} RTP packets"
    assert heard.lost <= 5, heard
    answered_at, arrivals = _received_at(log, 200), _rtp_arrivals(pcap, media)
    before = [t for t in arrivals if t < answered_at]
    assert 50 <= len(before) <= 75, f"{len(before)} RTP packets before the 200 (2 s of early media expected)"
    await running.engine.store.flush()
    assert len(running.events("call.bridged")) == 1


async def test_without_early_media_the_caller_rings_and_gets_no_rtp_before_the_200(
    running: RunningEngine, tmp_path: Path
) -> None:
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        _, log = await _agent_calls_trunk(running, tmp_path, "uas_ring_then_answer.xml", "uac_auth_pcap.xml",
                                          media=media, duration_ms=2000, carrier_extra=["-rtp_echo"])  # fmt: skip
    assert not _responses(log, 183) and _responses(log, 180)
    answered_at = _received_at(log, 200)
    arrivals = _rtp_arrivals(pcap, media)
    assert len(arrivals) >= 40, f"the caller got {len(arrivals)} RTP packets after the answer"  # the echo
    early = [t for t in arrivals if t < answered_at - 0.05]
    assert not early, f"{len(early)} RTP packets reached the caller before the 200"


async def test_early_media_then_503_fails_over_to_a_trunk_that_answers(
    running: RunningEngine, tmp_path: Path
) -> None:
    """The first carrier's announcement is relayed, its 503 moves the call to the backup trunk (whose audio is
    relayed once it answers); the caller sees one 183 and a 200 with the same SDP."""
    broken_port, good_port, media = free_port(), free_port(), free_even_port()
    running.set_trunk(port=broken_port, failover_order=0, allowed_ips=[])
    with running.sessions() as session, session.begin():
        session.add(Trunk(name="backup-carrier", host="127.0.0.1", port=good_port, caller_id="+40215550199",
                          allowed_ips=[], failover_order=1))  # fmt: skip
    await running.engine.refresh_directory(force=True)
    with (
        rtp_capture(tmp_path, media) as pcap,
        sipp_background(tmp_path, "uas_early_media_503.xml", local_port=broken_port,
                        media_port=free_even_port(), calls=1),
        sipp_background(tmp_path, "uas_answer.xml", local_port=good_port, media_port=free_even_port(),
                        calls=1, extra=["-rtp_echo"]),
    ):  # fmt: skip
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_auth_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=media, service="+442071234567", duration_ms=2000, timeout=40,
            extra=["-au", "alice", "-ap", running.sip_password("alice"), "-trace_msg"],
        )  # fmt: skip
    log = next(tmp_path.glob("uac_auth_pcap_*_messages.log")).read_text()
    assert result.successful == 1, result.output[-2000:] + log[-3000:]
    (progress,) = _responses(log, 183)
    ok = [m for m in _responses(log, 200) if "INVITE" in m.split("CSeq:", 1)[1].splitlines()[0]]
    assert ok and _sdp(progress) == _sdp(ok[0])
    answered_at, arrivals = _received_at(log, 200), _rtp_arrivals(pcap, media)
    before = [t for t in arrivals if t < answered_at]
    assert 50 <= len(before) <= 75, f"{len(before)} RTP packets of the first carrier's announcement"
    assert len(arrivals) - len(before) >= 40, "the backup carrier's echo did not reach the caller"
    await running.engine.store.flush()
    assert len(running.events("call.bridged")) == 1
