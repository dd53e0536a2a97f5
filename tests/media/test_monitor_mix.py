"""MonitorMix and ConferenceMix on real in-process endpoints over UDP on 127.0.0.1: three "phones" (endpoints
playing a tone each: caller 500 Hz, agent 1100 Hz, supervisor 1700 Hz) facing three legs of Duplex; caller and
agent bridged, then mixed with the supervisor in each mode, then bridged again; and the three in a conference."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from duplex.media.events import AudioFrame, MediaEvent
from duplex.media.monitoring import MonitorMode
from duplex.media.tones import tone
from duplex.services.media.endpoint import RtpEndpoint
from duplex.services.media.leg_mix import ConferenceMix
from duplex.services.media.monitor_mix import MonitorMix

RATE = 8000
TONES = {"caller": 500.0, "agent": 1100.0, "supervisor": 1700.0}


class Party:
    """A phone (its own endpoint) and Duplex's leg facing it; what the phone receives is kept."""

    def __init__(self, phone: RtpEndpoint, leg: RtpEndpoint) -> None:
        self.phone, self.leg = phone, leg
        self.frames: list[np.ndarray] = []
        self.keep = False
        phone.listeners.append(self._on_event)

    def _on_event(self, event: MediaEvent) -> None:
        if isinstance(event, AudioFrame) and self.keep:
            self.frames.append(event.pcm)


@pytest.fixture
async def parties() -> AsyncIterator[dict[str, Party]]:
    out: dict[str, Party] = {}
    players = []
    for who, freq in TONES.items():
        phone, leg = await RtpEndpoint.open(), await RtpEndpoint.open()
        phone.set_remote(leg.local_address)
        leg.set_remote(phone.local_address)
        out[who] = Party(phone, leg)
        players.append(asyncio.create_task(phone.play_pcm(tone((freq,), 20_000))))
    try:
        yield out
    finally:
        for task in players:
            task.cancel()
        for party in out.values():
            await party.phone.close()
            await party.leg.close()


def heard(frames: list[np.ndarray]) -> set[str]:
    assert len(frames) >= 20, f"only {len(frames)} frames received"
    pcm = np.concatenate(frames).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm)) / len(pcm)
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return {who for who, f in TONES.items() if spectrum[np.abs(freqs - f) < 15].max() > 400}


async def listen(
    parties: dict[str, Party], who: tuple[str, ...], seconds: float = 0.6
) -> dict[str, set[str]]:
    await asyncio.sleep(0.3)  # what was under way before settles
    for name in who:
        parties[name].frames.clear()
        parties[name].keep = True
    await asyncio.sleep(seconds)
    for name in who:
        parties[name].keep = False
    return {name: heard(parties[name].frames) for name in who}


async def test_modes_route_each_party_and_the_bridge_comes_back(parties: dict[str, Party]) -> None:
    caller, agent, supervisor = (parties[who].leg for who in ("caller", "agent", "supervisor"))
    caller.bridge(agent)
    everyone = ("caller", "agent", "supervisor")
    assert await listen(parties, ("caller", "agent")) == {"caller": {"agent"}, "agent": {"caller"}}
    mix = MonitorMix(caller, agent, supervisor, MonitorMode.LISTEN)
    mix.start()
    try:
        assert await listen(parties, everyone) == {
            "caller": {"agent"},
            "agent": {"caller"},
            "supervisor": {"caller", "agent"},
        }
        mix.set_mode(MonitorMode.WHISPER)
        assert await listen(parties, everyone) == {
            "caller": {"agent"},
            "agent": {"caller", "supervisor"},
            "supervisor": {"caller", "agent"},
        }
        mix.set_mode(MonitorMode.BARGE)
        assert await listen(parties, everyone) == {
            "caller": {"agent", "supervisor"},
            "agent": {"caller", "supervisor"},
            "supervisor": {"caller", "agent"},
        }
    finally:
        await mix.stop()
    caller.bridge(agent)
    assert await listen(parties, ("caller", "agent")) == {"caller": {"agent"}, "agent": {"caller"}}
    assert mix.ticks > 50
    assert not caller.stream.taps and not agent.stream.taps and not supervisor.stream.taps


async def test_frames_of_other_lengths_are_mixed_in_20_ms_steps(parties: dict[str, Party]) -> None:
    """A phone that sends 30 ms packets gives 240-sample frames: they queue as samples, 160 taken a tick."""
    caller, agent, supervisor = (parties[who].leg for who in ("caller", "agent", "supervisor"))
    mix = MonitorMix(caller, agent, supervisor, MonitorMode.BARGE)
    ramp = np.arange(480, dtype=np.int16)
    for part in (ramp[:240], ramp[240:]):
        mix.inboxes[0].on_frame(AudioFrame(pcm=part, timestamp=0, at=0.0))
    for _ in range(3):
        mix.tick()
    heard_by_agent = np.concatenate(list(mix.outboxes[1].frames))
    assert np.array_equal(heard_by_agent, ramp)  # every sample, in order, in three 20 ms frames
    mix.tick()  # nothing left: silence, not a short frame
    assert len(mix.outboxes[1].frames[-1]) == 160 and not mix.outboxes[1].frames[-1].any()


async def test_a_conference_mix_gives_each_party_the_other_two(parties: dict[str, Party]) -> None:
    """The three-way conference (`ConferenceMix`): the third party here stands for the consulted one."""
    caller, agent, third = (parties[who].leg for who in ("caller", "agent", "supervisor"))
    caller.bridge(agent)
    mix = ConferenceMix([caller, agent, third])
    mix.start()
    try:
        assert await listen(parties, ("caller", "agent", "supervisor")) == {
            "caller": {"agent", "supervisor"},
            "agent": {"caller", "supervisor"},
            "supervisor": {"caller", "agent"},
        }
    finally:
        await mix.stop()
    caller.bridge(third)  # the agent left: the other two are bridged
    assert await listen(parties, ("caller", "supervisor")) == {
        "caller": {"supervisor"},
        "supervisor": {"caller"},
    }
    assert not any(leg.stream.taps for leg in (caller, agent, third))
