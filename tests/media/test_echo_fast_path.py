"""The echo test's cheap path: a beep encoded once per codec, received audio only counted while nothing uses
it, and the relay from the end of the beep (RTP numbering continuous for the caller)."""

from __future__ import annotations

import asyncio

import numpy as np

from duplex.media.codecs import PCMA, PCMU
from duplex.media.events import AudioFrame, MediaEvent
from duplex.media.tones import beep, encoded_beep, tone
from duplex.services.media.endpoint import RtpEndpoint


def test_encoded_beep_is_the_beep_encoded_once_per_codec() -> None:
    payloads = encoded_beep(PCMA)
    assert encoded_beep(PCMA) is payloads  # cached
    assert len(payloads) == 10 and all(len(p) == 160 for p in payloads)  # 200 ms in 20 ms frames
    assert b"".join(payloads) == PCMA.encode(beep(1000.0, 200.0))
    assert encoded_beep(PCMU) != payloads


def peak_hz(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(float)))
    return float(np.fft.rfftfreq(len(pcm), 1 / 8000)[np.argmax(spectrum)])


async def test_echo_plays_the_encoded_beep_then_relays_the_callers_audio() -> None:
    caller, leg = await RtpEndpoint.open(), await RtpEndpoint.open()
    try:
        caller.set_remote(leg.local_address)
        leg.set_remote(caller.local_address)
        frames: list[AudioFrame] = []
        leg_events: list[MediaEvent] = []
        caller.listeners.append(lambda ev: frames.append(ev) if isinstance(ev, AudioFrame) else None)
        leg.listeners.append(leg_events.append)
        talking = asyncio.ensure_future(caller.play_pcm(tone((500.0,), 1200, amplitude=8000)))
        await asyncio.sleep(0.1)
        assert not leg._discard
        leg.ignore_audio()
        assert leg._discard and leg._relay is None  # nobody uses what the leg receives now
        leg_events.clear()
        await leg.play_payloads(encoded_beep(leg.stream.codec))
        during = leg.stream.receiver.received
        assert during >= 10  # counted for RTCP ...
        assert not [ev for ev in leg_events if isinstance(ev, AudioFrame)]  # ... but never decoded
        assert leg.stream.jitter is not None and leg.stream.jitter.buffered == 0
        leg.echo(True)
        assert leg._relay is leg and not leg._discard
        await talking
        caller.send_enabled = False  # the caller stops sending after its tone
        await asyncio.sleep(0.2)
        heard = [f for f in frames if not f.concealed and f.pcm.std() > 2000]
        beep_pcm = np.concatenate([f.pcm for f in heard[:8]])
        echo_pcm = np.concatenate([f.pcm for f in heard[-20:]])
        assert abs(peak_hz(beep_pcm) - 1000) < 20  # first the beep ...
        assert abs(peak_hz(echo_pcm) - 500) < 20  # ... then the caller's own tone
        st = caller.stats()
        assert st.packets_lost == 0 and st.duplicates == 0  # one sequence, no gap between beep and echo
        assert st.packets_received >= 50
        assert leg.stats().packets_received == caller.stats().packets_sent  # all counted, beep or not
    finally:
        await caller.close()
        await leg.close()


async def test_a_tap_or_audio_listener_needs_decoding() -> None:
    leg = await RtpEndpoint.open()
    try:
        leg.ignore_audio()
        assert leg._discard
        frames = leg.frames()
        waiting = asyncio.ensure_future(frames.__anext__())
        await asyncio.sleep(0)
        assert not leg._discard
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await frames.aclose()
        assert leg._discard
    finally:
        await leg.close()


async def test_silence_is_encoded_once_per_codec() -> None:
    leg = await RtpEndpoint.open()
    try:
        first = leg._silence_payload()
        assert first == PCMU.encode(np.zeros(160, dtype=np.int16)) and leg._silence_payload() is first
        leg.stream.configure(codec=PCMA)  # renegotiated
        assert leg._silence_payload() == PCMA.encode(np.zeros(160, dtype=np.int16)) != first
    finally:
        await leg.close()
