"""Call quality in the CDR from real RTP: sipp plays its G.711 pcap to the echo number (1001), once as
recorded and once with every 10th packet cut out of a copy of the pcap (~10 % loss). After the call the
caller's `call_legs` row carries what Duplex measured (loss, jitter, E-model MOS), as tshark sees it too.
A call to baresip (which sends RTCP) adds what the far end reported about Duplex's stream."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from duplex.db.models import CallLeg
from duplex.services.calls.call import Call
from duplex.services.calls.uac import originate
from interop.conftest import RunningEngine
from interop.peers import (
    SCENARIOS,
    Baresip,
    RtpStreamStats,
    free_even_port,
    free_port,
    rtp_capture,
    rtp_packets_to,
    run_sipp,
    sipp_background,
)
from interop.test_cdr_rebuild import _transfers

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90), pytest.mark.serial]

SIPP_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
_GLOBAL = 24  # libpcap file header
_RECORD = struct.Struct("<IIII")  # ts_sec, ts_usec, incl_len, orig_len (little-endian file, magic a1b2c3d4)


def pcap_without_every(source: Path, target: Path, nth: int) -> tuple[int, int]:
    """Copy a libpcap file leaving out every ``nth`` packet record (the 10th, 20th, ...); the others keep
    their capture times, so a replay has gaps where they were. Returns (packets kept, packets dropped)."""
    data = source.read_bytes()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        raise ValueError(f"{source} is not a little-endian microsecond libpcap file")
    out, pos, kept, dropped = bytearray(data[:_GLOBAL]), _GLOBAL, 0, 0
    while pos + _RECORD.size <= len(data):
        length = _RECORD.unpack_from(data, pos)[2]
        end = pos + _RECORD.size + length
        if (kept + dropped) % nth == nth - 1:
            dropped += 1
        else:
            out += data[pos:end]
            kept += 1
        pos = end
    target.write_bytes(bytes(out))
    return kept, dropped


def scenario_playing(folder: Path, pcap: Path) -> str:
    """uac_pcap.xml playing ``pcap`` instead of sipp's own file, written to ``folder``; returns its name."""
    text = (SCENARIOS / "uac_pcap.xml").read_text(encoding="iso-8859-1")
    assert str(SIPP_PCAP) in text
    (folder / "uac_pcap_lossy.xml").write_text(text.replace(str(SIPP_PCAP), str(pcap)), encoding="iso-8859-1")
    return "uac_pcap_lossy.xml"


async def call_echo(
    running: RunningEngine, tmp_path: Path, scenario: str
) -> tuple[CallLeg, dict[str, Any], RtpStreamStats]:
    """sipp calls 1001 playing ``scenario``'s pcap; the caller's CDR leg row, its call.quality data and the
    echoed RTP as tshark saw it arrive at sipp."""
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, scenario, f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=media, service="1001", duration_ms=8000, timeout=30,
        )  # fmt: skip
    assert result.successful == 1, result.output
    echoed = rtp_packets_to(pcap, media)
    print(f"echo RTP at sipp: {echoed}")
    await asyncio.sleep(0.2)
    await running.engine.store.flush()
    (quality,) = running.events("call.quality")
    (ended,) = running.events("leg.ended")
    assert quality.leg_id == ended.leg_id and quality.id < ended.id
    with running.sessions() as session:
        (leg,) = session.scalars(select(CallLeg))
        session.expunge(leg)
    assert leg.id == quality.leg_id and leg.kind == "caller"
    print(f"call.quality: {quality.data}")
    return leg, quality.data, echoed


async def test_clean_call_has_no_loss_small_jitter_and_a_good_mos(
    running: RunningEngine, tmp_path: Path
) -> None:
    leg, data, echoed = await call_echo(running, tmp_path, "uac_pcap.xml")
    assert echoed.lost == 0
    # sipp's pcap: 236 packets of 30 ms A-law over 7.05 s
    assert (data["packets_expected"], data["packets_received"], data["codec"]) == (236, 236, "PCMA")
    assert leg.packets_lost == 0 and leg.jitter_ms is not None and leg.jitter_ms < 10.0
    assert leg.mos is not None and leg.mos >= 4.0
    assert data["packets_sent"] >= 236  # the echo of all of them, after the greeting beep
    assert data["remote_reports"] == 0 and data["mos_sent"] is None  # sipp sends no RTCP


async def test_every_tenth_packet_missing_shows_as_loss_and_a_lower_mos(
    running: RunningEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lossy = tmp_path / "g711a-lossy.pcap"
    kept, dropped = pcap_without_every(SIPP_PCAP, lossy, 10)
    assert (kept, dropped) == (213, 23)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    monkeypatch.setattr("interop.peers.SCENARIOS", scenarios)  # run_sipp finds scenarios there
    leg, data, echoed = await call_echo(running, tmp_path, scenario_playing(scenarios, lossy))
    assert echoed.lost == dropped  # tshark: the gaps went over the wire (and the echo relays them back)
    assert data["packets_expected"] == 236 and data["packets_received"] == kept
    assert leg.packets_lost == dropped
    assert data["loss_ratio"] == pytest.approx(23 / 236, abs=1e-3)
    assert leg.jitter_ms is not None and leg.jitter_ms < 10.0
    assert leg.mos is not None and 3.0 < leg.mos < 3.7  # G.107 E-model, G.711 with PLC, ~10 % random loss


async def test_far_end_rtcp_reports_from_baresip(running: RunningEngine, alice: Baresip) -> None:
    """Duplex calls alice's phone and talks for 10 s: baresip's RTCP reports about Duplex's stream (RFC 3550
    §6.4) reach call.quality, with the round-trip time from LSR/DLSR."""
    engine = running.engine
    (binding,) = engine.registrations.lookup("alice", engine.now())
    call = Call(engine, direction="outbound", from_number="duplex", to_number="2001")
    leg = await originate(call, binding.contact, contact=(binding.source.host, binding.source.port))
    assert await asyncio.wait_for(leg.answered, 10)
    await asyncio.sleep(10)  # RTCP every 5 s (randomised 2.5-7.5 s) from each side
    assert leg.media is not None
    for _ in range(15):  # the RTT needs a report of baresip's sent after it had one of ours (LSR)
        if leg.media.stats().rtt_ms is not None:
            break
        await asyncio.sleep(1)
    await leg.hangup("done")
    await asyncio.wait_for(call.ended.wait(), 5)
    await engine.store.flush()
    (quality,) = running.events("call.quality")
    data = quality.data
    print(f"call.quality: {data}")
    assert data["remote_reports"] >= 1 and data["remote_packets_lost"] == 0 and data["remote_loss_ratio"] == 0
    assert data["remote_jitter_ms"] is not None and data["remote_jitter_ms"] < 20.0
    assert data["rtt_ms"] is not None and 0 <= data["rtt_ms"] < 50.0  # loopback
    assert data["mos_sent"] is not None and data["mos_sent"] >= 4.0
    # baresip's tone, 20 ms packets for 10 s
    assert data["packets_received"] >= 400 and data["packets_lost"] == 0 and data["mos_received"] >= 4.0
    assert data["mos"] == min(data["mos_sent"], data["mos_received"])


async def test_early_media_then_failure_reports_the_early_media(
    running: RunningEngine, tmp_path: Path
) -> None:
    """A callee plays 2 s of early media (183 with SDP) and then answers 486: the leg was never answered,
    but media flowed, so it reports (and a leg that fails without media does not: tests/telephony)."""
    callee = free_port()
    with sipp_background(
        tmp_path, "uas_early_media_486.xml", local_port=callee, media_port=free_even_port(), calls=1
    ):
        call = Call(running.engine, direction="outbound", from_number="duplex", to_number="busy")
        leg = await originate(call, f"sip:busy@127.0.0.1:{callee}", contact=("127.0.0.1", callee))
        assert not await asyncio.wait_for(leg.answered, 10)
        await asyncio.wait_for(call.ended.wait(), 5)
    assert leg.sip_status == 486
    await running.engine.store.flush()
    (quality,) = running.events("call.quality")
    (ended,) = running.events("leg.ended")
    assert quality.leg_id == ended.leg_id == leg.id and quality.id < ended.id
    data = quality.data
    print(f"call.quality: {data}")
    # ~2 s of sipp's 30 ms packets
    assert 50 <= data["packets_received"] <= 80 and data["packets_lost"] == 0 and data["mos"] >= 4.0
    with running.sessions() as session:
        row = session.get(CallLeg, leg.id)
        assert (
            row is not None and row.sip_status == 486 and row.answered_at is None and row.mos == data["mos"]
        )


async def test_transfers_report_every_leg_once_in_the_call_it_ended_in(
    running: RunningEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blind and attended transfers of the CDR rebuild test: legs released by a transfer report when they
    end; the consulted party's leg, moved to the transferee's call, reports once, there, when it ends."""
    _, transferee, bob = await _transfers(running, monkeypatch)
    await running.engine.stop()  # hangs up what is left; everything is written
    quality = running.events("call.quality")
    answered = {e.leg_id for e in running.events("leg.answered")}
    ended = {e.leg_id: e for e in running.events("leg.ended")}
    assert len(answered) >= 10 and answered <= set(ended)
    assert sorted(str(e.leg_id) for e in quality) == sorted(str(leg_id) for leg_id in answered)
    for q in quality:
        assert q.id < ended[q.leg_id].id and q.call_id == ended[q.leg_id].call_id
        assert q.data["packets_received"] > 0 and q.data["packets_lost"] == 0 and q.data["mos"] >= 4.0
    (moved,) = [q for q in quality if q.leg_id == bob.id]
    assert moved.call_id == transferee.call.id
    with running.sessions() as session:
        rows = {r.id: r for r in session.scalars(select(CallLeg))}
    assert all(rows[str(q.leg_id)].mos == q.data["mos"] for q in quality)
