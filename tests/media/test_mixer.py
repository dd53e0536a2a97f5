"""Conference N-1 mixing with saturation and whisper."""

from __future__ import annotations

import numpy as np
import pytest

from duplex.media.mixer import ConferenceMixer, mix_n_minus_1


def const(v: int) -> np.ndarray:
    return np.full(160, v, dtype=np.int16)


def test_n_minus_1_each_hears_everyone_but_themselves() -> None:
    outs = mix_n_minus_1([const(1), const(10), const(100), const(1000)])
    assert [int(o[0]) for o in outs] == [1110, 1101, 1011, 111]
    assert all(o.dtype == np.int16 for o in outs)


def test_saturation_instead_of_wraparound() -> None:
    outs = mix_n_minus_1([const(30000), const(30000), const(-30000), const(-30000), const(0)])
    assert int(outs[4][0]) == 0
    a = mix_n_minus_1([const(30000), const(30000), const(0)])
    assert int(a[2][0]) == 32767
    b = mix_n_minus_1([const(-30000), const(-30000), const(0)])
    assert int(b[2][0]) == -32768


def test_conference_with_whisper_coach() -> None:
    m = ConferenceMixer()
    m.add("caller")
    m.add("agent")
    m.add("supervisor", coach_of="agent")
    out = m.mix({"caller": const(1), "agent": const(10), "supervisor": const(100)})
    assert int(out["caller"][0]) == 10  # the caller never hears the coach
    assert int(out["agent"][0]) == 101  # the agent hears caller + coach
    assert int(out["supervisor"][0]) == 11  # the coach hears both
    m.set_whisper("supervisor", None)  # barge-in
    out = m.mix({"caller": const(1), "agent": const(10), "supervisor": const(100)})
    assert [int(out[k][0]) for k in ("caller", "agent", "supervisor")] == [110, 101, 11]


def test_missing_frames_are_silence_and_legs_still_get_output() -> None:
    m = ConferenceMixer()
    for leg in "abc":
        m.add(leg)
    out = m.mix({"a": const(5)})
    assert int(out["a"][0]) == 0 and int(out["b"][0]) == 5 and int(out["c"][0]) == 5


def test_membership_errors() -> None:
    m = ConferenceMixer()
    m.add("a")
    with pytest.raises(ValueError, match="already"):
        m.add("a")
    with pytest.raises(ValueError, match="not in the conference"):
        m.add("coach", coach_of="nobody")
    m.add("coach", coach_of="a")
    m.remove("a")
    assert m.legs == ("coach",)
