"""Real peers against the in-process engine: sipp OPTIONS over UDP and TCP, echo (1001), voicemail (1002)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from duplex.media.wav import read_wav
from interop.conftest import RunningEngine
from interop.peers import free_even_port, free_port, rtp_capture, rtp_packets_to, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_options_answered_over_udp_and_tcp(
    running: RunningEngine, tmp_path: Path, transport: str
) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "options_allow.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        transport=transport, timeout=20,
    )  # fmt: skip
    assert result.successful == 1, result.output
    assert result.failed == 0


async def test_echo_1001_returns_the_callers_audio(running: RunningEngine, tmp_path: Path) -> None:
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        result = await asyncio.to_thread(
            run_sipp, tmp_path, "uac_pcap.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
            media_port=media, service="1001", duration_ms=8000, timeout=30,
        )  # fmt: skip
    assert result.successful == 1, result.output
    stats = rtp_packets_to(pcap, media)
    print(f"echo RTP at sipp: {stats}")
    # sipp sends 236 packets (7.05 s); we send a 200 ms beep then echo them back, continuously at 50 pps.
    assert stats.packets >= 236, stats
    assert stats.lost == 0, stats
    await running.engine.store.flush()
    ended = running.events("call.ended")
    assert ended and ended[-1].data["hangup_by"] == "remote"
    assert running.events("call.answered")


async def test_voicemail_1002_records_a_non_silent_message(running: RunningEngine, tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_voicemail.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="1002", duration_ms=7000, timeout=40,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await asyncio.sleep(0.3)
    await running.engine.store.flush()
    saved = running.events("recording.saved")
    assert len(saved) == 1
    path = running.settings.data_dir / "recordings" / f"{saved[0].call_id}.wav"
    assert path.exists()
    pcm = read_wav(path).astype(np.float64)
    assert len(pcm) > 8000  # more than a second of the caller after greeting + beep
    assert float(np.sqrt(np.mean(pcm**2))) > 100.0


async def test_rfc4733_dtmf_from_sipp_is_recorded(running: RunningEngine, tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, "uac_dtmf.xml", f"127.0.0.1:{running.port}", local_port=free_port(),
        media_port=free_even_port(), service="1001", duration_ms=2000, timeout=20,
    )  # fmt: skip
    assert result.successful == 1, result.output
    await running.engine.store.flush()
    digits = [(e.data["digit"], e.data["source"]) for e in running.events("dtmf.received")]
    assert digits == [("1", "rfc4733")]
