"""Receiver statistics, RFC 3550 A.1 (sequence), A.3 (loss), A.8 (jitter); E-model (G.107)."""

from __future__ import annotations

import pytest

from duplex.media.stats import ReceiverStatistics, estimate_quality, r_to_mos


def test_sequence_wraps_and_counts_cycles() -> None:
    s = ReceiverStatistics()
    for seq in [65533, 65534, 65535, 0, 1, 2]:
        assert s.update_seq(seq)
    assert s.cycles == 65536 and s.max_seq == 2
    assert s.extended_max == 65536 + 2 and s.expected == 6 and s.lost == 0


def test_loss_and_fraction_lost_per_interval() -> None:
    """A.3: fraction = (lost_interval << 8) / expected_interval."""
    s = ReceiverStatistics()
    for seq in range(100, 200):
        if seq % 4 != 0:  # drop every 4th: 25 of 100
            s.update_seq(seq)
    assert s.expected == 99 and s.received == 75  # 100 is the first packet but was dropped; base is 101
    assert s.lost == 24
    assert s.fraction_lost() == (24 << 8) // 99
    for seq in range(200, 210):
        s.update_seq(seq)
    assert s.fraction_lost() == 0  # nothing lost in the second interval


def test_duplicates_make_lost_negative() -> None:
    """RFC 3550 §6.4.1: "the number of packets lost [...] may be negative if there are duplicates"."""
    s = ReceiverStatistics()
    for seq in [1, 2, 2, 3]:
        s.update_seq(seq)
    assert s.lost == -1 and s.duplicates_or_late == 1


def test_large_jump_needs_two_sequential_packets() -> None:
    """A.1: a jump beyond MAX_DROPOUT is accepted only when the next packet follows it (restart)."""
    s = ReceiverStatistics()
    s.update_seq(10)
    assert not s.update_seq(20000)
    assert s.update_seq(20001)
    assert s.base_seq == 20001 and s.max_seq == 20001


def reference_jitter(transits: list[float]) -> float:
    """RFC 3550 §6.4.1: J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16, in floating point."""
    j = 0.0
    for a, b in zip(transits, transits[1:], strict=False):
        j += (abs(b - a) - j) / 16
    return j


def test_interarrival_jitter_a8() -> None:
    """A.8 integer estimator tracks the §6.4.1 definition: 20 ms packets arriving with +-2/0 ms skew."""
    s = ReceiverStatistics(clock_rate=8000)
    skew = [0.0, 0.002, 0.0, -0.002, 0.001, 0.0, 0.003, 0.0] * 10
    transits = []
    for i, d in enumerate(skew):
        ts, arrival = 1000 + 160 * i, 5.0 + 0.02 * i + d
        s.update(i, ts, arrival)
        transits.append(int(arrival * 8000) - ts)
    expected = reference_jitter([float(t) for t in transits])
    assert abs(s.jitter - expected) <= 1.0
    assert 1.0 < s.jitter_ms < 2.5


def test_constant_delay_has_zero_jitter() -> None:
    s = ReceiverStatistics()
    for i in range(50):
        s.update(i, 160 * i, 1.0 + 0.02 * i)
    assert s.jitter == 0


@pytest.mark.parametrize(
    ("loss", "jitter", "delay", "lo", "hi"),
    [
        (0.0, 0.0, 20.0, 4.3, 4.5),  # clean LAN call: G.711 tops out near 4.4
        (0.01, 5.0, 50.0, 4.0, 4.3),
        (0.05, 20.0, 100.0, 3.2, 3.9),
        (0.20, 50.0, 300.0, 1.0, 2.5),
    ],
)
def test_e_model_mos_bands(loss: float, jitter: float, delay: float, lo: float, hi: float) -> None:
    q = estimate_quality(loss_ratio=loss, jitter_ms=jitter, delay_ms=delay)
    assert lo <= q.mos <= hi, q


def test_r_to_mos_g107_anchor_points() -> None:
    assert r_to_mos(0) == 1.0 and r_to_mos(100) == 4.5
    assert r_to_mos(93.2) == pytest.approx(4.41, abs=0.01)
    assert r_to_mos(50) == pytest.approx(2.58, abs=0.01)
