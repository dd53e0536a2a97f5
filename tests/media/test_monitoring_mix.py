"""Listen, whisper and barge on synthetic PCM: each party a tone of its own frequency, each output checked for
the tones it must and must not carry."""

from __future__ import annotations

import numpy as np
import pytest

from duplex.media.monitoring import MonitorMixer, MonitorMode

RATE = 8000
TONES = {"caller": 500.0, "agent": 1100.0, "supervisor": 1700.0}


def tone(freq: float, tick: int, amplitude: float = 8000.0) -> np.ndarray:
    n = np.arange(tick * 160, (tick + 1) * 160)
    return (amplitude * np.sin(2 * np.pi * freq * n / RATE)).astype(np.int16)


def heard(pcm: np.ndarray) -> set[str]:
    """The parties whose tone carries real energy in ``pcm`` (half a second of output)."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64))) / len(pcm)
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return {who for who, f in TONES.items() if spectrum[np.argmin(np.abs(freqs - f))] > 500}


def run(mixer: MonitorMixer, ticks: int = 25) -> dict[str, set[str]]:
    outs: dict[str, list[np.ndarray]] = {"caller": [], "agent": [], "supervisor": []}
    for tick in range(ticks):
        frames = {who: tone(f, tick) for who, f in TONES.items()}
        out = mixer.mix(frames["caller"], frames["agent"], frames["supervisor"])
        outs["caller"].append(out.caller)
        outs["agent"].append(out.agent)
        outs["supervisor"].append(out.supervisor)
    return {who: heard(np.concatenate(frames)) for who, frames in outs.items()}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (MonitorMode.LISTEN, {"caller": {"agent"}, "agent": {"caller"}, "supervisor": {"caller", "agent"}}),
        (
            MonitorMode.WHISPER,
            {"caller": {"agent"}, "agent": {"caller", "supervisor"}, "supervisor": {"caller", "agent"}},
        ),
        (
            MonitorMode.BARGE,
            {
                "caller": {"agent", "supervisor"},
                "agent": {"caller", "supervisor"},
                "supervisor": {"caller", "agent"},
            },
        ),
    ],
)
def test_who_hears_whom_in_each_mode(mode: MonitorMode, expected: dict[str, set[str]]) -> None:
    assert run(MonitorMixer(mode)) == expected


def test_the_mode_changes_between_ticks_without_new_legs() -> None:
    mixer = MonitorMixer()
    assert run(mixer)["caller"] == {"agent"}
    mixer.set_mode(MonitorMode.BARGE)
    assert run(mixer)["caller"] == {"agent", "supervisor"}
    mixer.set_mode(MonitorMode.WHISPER)
    assert run(mixer) == {
        "caller": {"agent"},
        "agent": {"caller", "supervisor"},
        "supervisor": {"caller", "agent"},
    }
    mixer.set_mode(MonitorMode.LISTEN)
    assert run(mixer)["agent"] == {"caller"}


def test_a_missing_frame_is_silence_and_every_party_still_gets_an_output() -> None:
    mixer = MonitorMixer(MonitorMode.BARGE)
    out = mixer.mix(tone(500, 0), None, None)
    assert not out.caller.any()  # nobody else spoke
    assert np.array_equal(out.agent, tone(500, 0)) and np.array_equal(out.supervisor, tone(500, 0))
    assert out.caller.dtype == np.int16 and len(out.caller) == 160


def test_loud_parties_saturate_instead_of_wrapping_around() -> None:
    loud = np.full(160, 30000, dtype=np.int16)
    out = MonitorMixer(MonitorMode.BARGE).mix(loud, loud, None)
    assert int(out.supervisor.min()) == 32767
