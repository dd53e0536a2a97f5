"""Phones that each send a tone of their own frequency, and the oracle of who hears whom: baresip phones
playing a sine WAV, tshark capturing what each receives, and an FFT of a time window naming the tones in it
(the supervisor-monitoring and conference tests)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from duplex.media.codecs import get_codec
from duplex.media.wav import WavWriter
from interop.conftest import RunningEngine
from interop.peers import Baresip, rtp_capture

__all__ = ["RATE", "captures", "heard", "phone", "received", "tone_wav"]

RATE = 8000


def tone_wav(path: Path, freq: float, seconds: float = 60.0, amplitude: float = 6000.0) -> Path:
    n = np.arange(int(seconds * RATE))
    with WavWriter(path) as wav:
        wav.write((amplitude * np.sin(2 * np.pi * freq * n / RATE)).astype(np.int16))
    return path


def received(pcap: Path, ports: tuple[int, int]) -> list[tuple[float, np.ndarray]]:
    """(arrival time, decoded PCM) of each G.711 RTP packet that arrived at a port in ``ports``."""
    lo, hi = ports
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"udp.port=={lo}-{hi},rtp", "-Y",
         f"rtp && udp.dstport >= {lo} && udp.dstport <= {hi}", "-T", "fields", "-e", "frame.time_epoch",
         "-e", "rtp.p_type", "-e", "rtp.payload"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    packets = []
    for line in out.splitlines():
        at, pt, payload = (line.split("\t") + ["", ""])[:3]
        if pt in ("0", "8") and payload:
            pcm = get_codec("PCMU" if pt == "0" else "PCMA").decode(bytes.fromhex(payload.replace(":", "")))
            packets.append((float(at), pcm))
    return packets


def heard(
    packets: list[tuple[float, np.ndarray]], start: float, end: float, tones: Mapping[str, float]
) -> set[str]:
    """The parties whose tone (``tones``: party -> Hz) is in the audio received between ``start`` and
    ``end`` (wall clock)."""
    pcm = np.concatenate([p for at, p in packets if start <= at < end] or [np.zeros(0, dtype=np.int16)])
    assert len(pcm) >= RATE, f"only {len(pcm)} samples received in [{start}, {end})"
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64))) / len(pcm)
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    level = {who: float(spectrum[np.abs(freqs - f) < 15].max()) for who, f in tones.items()}
    print(f"  levels {start:.1f}-{end:.1f}: {level}")
    return {who for who, value in level.items() if value > 400}


async def phone(running: RunningEngine, tmp: Path, user: str, password: str, freq: float) -> Baresip:
    """A baresip registered as ``user`` that sends a ``freq`` Hz tone on its calls (and answers by itself)."""
    wav = tone_wav(tmp / f"tone-{user}.wav", freq)
    p = Baresip(tmp, user=user, password=password, registrar=f"127.0.0.1:{running.port}", tone_wav=wav)
    await asyncio.to_thread(p.start)
    for _ in range(100):
        if running.engine.registrations.lookup(user, running.engine.now()):
            return p
        await asyncio.sleep(0.1)
    await asyncio.to_thread(p.stop)
    raise AssertionError(f"{user} did not register: {p.log()[-1500:]}")


@contextlib.contextmanager
def captures(tmp: Path, phones: Mapping[str, Baresip]) -> Iterator[dict[str, Path]]:
    """tshark on each phone's RTP ports for the block; party -> pcap."""
    with contextlib.ExitStack() as stack:
        yield {who: stack.enter_context(rtp_capture(tmp, *p.rtp_ports)) for who, p in phones.items()}
