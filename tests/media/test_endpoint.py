"""The asyncio RtpEndpoint on 127.0.0.1: real UDP sockets, real pacing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from duplex.media.codecs import PCMA
from duplex.media.events import AudioFrame, MediaEvent
from duplex.media.offer_answer import SdpNegotiator
from duplex.media.tones import tone
from duplex.media.wav import read_wav
from duplex.services.media.endpoint import MediaBackend, RtpEndpoint
from duplex.services.media.local_backend import LocalMediaBackend


async def connected_pair(**kw: object) -> tuple[RtpEndpoint, RtpEndpoint]:
    a = await RtpEndpoint.open(**kw)  # type: ignore[arg-type]
    b = await RtpEndpoint.open(**kw)  # type: ignore[arg-type]
    a.set_remote(b.local_address)
    b.set_remote(a.local_address)
    return a, b


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def collect(ep: RtpEndpoint) -> list[AudioFrame]:
    got: list[AudioFrame] = []

    def listener(ev: MediaEvent) -> None:
        if isinstance(ev, AudioFrame) and not ev.concealed:
            got.append(ev)

    ep.listeners.append(listener)
    return got


async def test_exchange_audio_and_echo() -> None:
    a, b = await connected_pair()
    try:
        b.echo()
        heard = collect(a)
        await a.play_pcm(tone((1000.0,), 600, amplitude=8000))
        await asyncio.sleep(0.3)
        loud = [f for f in heard if rms(f.pcm) > 3000]
        assert len(loud) >= 25  # ~30 frames of tone came back
        # the echoed tone is the 1 kHz tone: check its spectrum peak
        pcm = np.concatenate([f.pcm for f in loud])
        peak = np.fft.rfftfreq(len(pcm), 1 / 8000)[np.argmax(np.abs(np.fft.rfft(pcm.astype(float))))]
        assert abs(peak - 1000) < 10
        st = b.stats()
        assert st.packets_received >= 40 and st.packets_lost == 0 and st.malformed == 0
    finally:
        await a.close()
        await b.close()


async def test_dtmf_rfc4733_and_collect() -> None:
    a, b = await connected_pair()
    try:
        a.send_dtmf("123#")
        digits = await b.collect_dtmf(max_digits=10, timeout=3.0, terminator="#")
        assert digits == "123"
    finally:
        await a.close()
        await b.close()


async def test_inband_dtmf_when_no_telephone_event() -> None:
    a, b = await connected_pair(telephone_event_pt=None)
    try:
        from duplex.media.dtmf import generate_dtmf

        gap = np.zeros(600, dtype=np.int16)
        play = asyncio.ensure_future(
            a.play_pcm(np.concatenate([generate_dtmf("9", 80), gap, generate_dtmf("0", 80), gap]))
        )
        assert await b.collect_dtmf(max_digits=2, timeout=3.0) == "90"
        await play
    finally:
        await a.close()
        await b.close()


async def test_record_writes_non_silent_wav(tmp_path: Path) -> None:
    a, b = await connected_pair()
    try:
        path = tmp_path / "leg.wav"
        b.record(path, stereo=True)
        await a.play_pcm(tone((440.0,), 500, amplitude=8000))
        await asyncio.sleep(0.2)
        b.stop_recording()
        pcm = read_wav(path)  # mono mixdown of the stereo file
        assert 0.5 <= len(pcm) / 8000 <= 1.5
        assert rms(pcm) > 1000
    finally:
        await a.close()
        await b.close()


async def test_bridge_relays_and_transcodes() -> None:
    """caller(PCMU) <-> [leg1 PCMU | leg2 PCMA] <-> agent(PCMA): audio crosses the bridge both ways."""
    caller = await RtpEndpoint.open()
    agent = await RtpEndpoint.open(codec=PCMA)
    leg1 = await RtpEndpoint.open()
    leg2 = await RtpEndpoint.open(codec=PCMA)
    try:
        caller.set_remote(leg1.local_address)
        leg1.set_remote(caller.local_address)
        agent.set_remote(leg2.local_address)
        leg2.set_remote(agent.local_address)
        leg1.bridge(leg2)
        at_agent, at_caller = collect(agent), collect(caller)
        await asyncio.gather(
            caller.play_pcm(tone((700.0,), 400, amplitude=8000)),
            agent.play_pcm(tone((1500.0,), 400, amplitude=8000)),
        )
        await asyncio.sleep(0.3)
        assert sum(rms(f.pcm) > 3000 for f in at_agent) >= 15
        assert sum(rms(f.pcm) > 3000 for f in at_caller) >= 15
        assert all(f.payload_type == 8 for f in at_agent) and all(f.payload_type == 0 for f in at_caller)
    finally:
        for ep in (caller, agent, leg1, leg2):
            await ep.close()


async def test_sdp_negotiation_configures_endpoints() -> None:
    backend: MediaBackend = LocalMediaBackend(port_range=(41000, 41999))
    try:
        a = await backend.open_session()
        b = await backend.open_session()
        assert all(41000 <= s.local_address[1] <= 41999 and s.local_address[1] % 2 == 0 for s in (a, b))
        na = SdpNegotiator(address="127.0.0.1", port=a.local_address[1], session_id=1, codecs=("PCMA",))
        nb = SdpNegotiator(address="127.0.0.1", port=b.local_address[1], session_id=2)
        answer, media_b = nb.create_answer(na.create_offer())
        a.apply(na.process_answer(answer))
        b.apply(media_b)
        assert isinstance(b, RtpEndpoint) and b.stream.codec is PCMA
        b.echo()
        assert isinstance(a, RtpEndpoint)
        heard = collect(a)
        await a.play_pcm(tone((1000.0,), 300, amplitude=8000))
        await asyncio.sleep(0.25)
        assert any(rms(f.pcm) > 3000 and f.payload_type == 8 for f in heard)
    finally:
        await backend.close()


async def test_pacer_keeps_20ms_cadence() -> None:
    a, b = await connected_pair(jitter_delay=None)
    try:
        arrivals: list[float] = []
        loop = asyncio.get_running_loop()
        b.listeners.append(lambda ev: arrivals.append(loop.time()) if isinstance(ev, AudioFrame) else None)
        await asyncio.sleep(1.0)
        gaps = np.diff(arrivals)
        assert 45 <= len(arrivals) <= 52
        assert abs(float(np.mean(gaps)) - 0.02) < 0.001  # no drift
    finally:
        await a.close()
        await b.close()


async def test_port_range_exhaustion() -> None:
    a = await RtpEndpoint.open(port_range=(42100, 42101))
    try:
        with pytest.raises(OSError, match="no free RTP port pair"):
            await RtpEndpoint.open(port_range=(42100, 42101))
    finally:
        await a.close()
