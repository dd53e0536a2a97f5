"""DTMF: RFC 4733 telephone-events and in-band Goertzel detection."""

from __future__ import annotations

import random

import numpy as np
import pytest

from duplex.media.dtmf import (
    DtmfReceiver,
    InbandDtmfDetector,
    TelephoneEvent,
    generate_dtmf,
    plan_dtmf_packets,
)
from duplex.media.rtp import RtpPacket
from duplex.media.tones import ringback, tone
from duplex.services.media.tts import TextToSpeech


def test_payload_wire_format_rfc4733_2_3() -> None:
    # event 5, E=1, R=0, volume 10, duration 800
    raw = bytes.fromhex("058a0320")
    ev = TelephoneEvent.parse(raw)
    assert ev == TelephoneEvent(event=5, end=True, volume=10, duration=800)
    assert bytes(ev) == raw and ev.digit == "5"


def test_reserved_bit_is_ignored() -> None:
    assert TelephoneEvent.parse(bytes.fromhex("0b4a00a0")) == TelephoneEvent(
        event=11, volume=10, duration=160
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "telephone-event payload truncated: 0 bytes, needs 4"),
        (b"\x01\x0a\x00", "telephone-event payload truncated: 3 bytes, needs 4"),
    ],  # fmt: skip
)
def test_truncated_payload(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        TelephoneEvent.parse(data)
    assert str(exc.value) == message


def test_sender_sequence_rfc4733_2_5_1() -> None:
    plan = plan_dtmf_packets("#", duration_ms=100)
    assert plan[0].marker and not any(p.marker for p in plan[1:])
    assert [p.event.duration for p in plan] == [160, 320, 480, 640, 800, 800, 800]
    assert [p.event.end for p in plan] == [False] * 4 + [True] * 3
    assert all(p.event.event == 11 for p in plan)
    assert [round(p.offset, 3) for p in plan] == [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12]


def packets_for(digits: str, ssrc: int = 9) -> list[RtpPacket]:
    out: list[RtpPacket] = []
    seq, ts = 100, 5000
    for d in digits:
        for step in plan_dtmf_packets(d, duration_ms=80):
            out.append(RtpPacket(payload_type=101, sequence_number=seq, timestamp=ts, ssrc=ssrc,
                                 marker=step.marker, payload=bytes(step.event)))  # fmt: skip
            seq += 1
        ts += 160 * 10
    return out


def test_receiver_reports_each_digit_once_despite_loss_and_reordering() -> None:
    rng = random.Random(4733)
    packets = packets_for("1234567890*#")
    for _ in range(20):
        lossy = [p for p in packets if rng.random() > 0.3]
        # keep at least one packet per digit: a digit with every packet lost cannot be recovered
        for ts in {p.timestamp for p in packets} - {p.timestamp for p in lossy}:
            lossy.append(next(p for p in packets if p.timestamp == ts))
        lossy.sort(key=lambda p: p.sequence_number)
        for i in range(len(lossy) - 1):  # local reordering
            if rng.random() < 0.3:
                lossy[i], lossy[i + 1] = lossy[i + 1], lossy[i]
        lossy += rng.sample(lossy, 5)  # network duplicates at the end
        rx = DtmfReceiver()
        digits = [str(ev.digit) for p in lossy if (ev := rx.receive(p)) is not None]
        assert sorted(digits) == sorted("1234567890*#")  # reordering may swap adjacent digits
        assert len(digits) == 12


def test_receiver_in_order_gives_exact_sequence() -> None:
    rx = DtmfReceiver()
    assert [ev.digit for p in packets_for("911#") if (ev := rx.receive(p))] == list("911#")


def detect(pcm: np.ndarray, frame: int = 160) -> list[str]:
    det = InbandDtmfDetector()
    out: list[str] = []
    for i in range(0, len(pcm), frame):
        out += det.feed(pcm[i : i + frame])
    return out


def dial(digits: str, on_ms: int = 60, off_ms: int = 60, **kw: float) -> np.ndarray:
    gap = np.zeros(8 * off_ms, dtype=np.int16)
    parts = [np.zeros(37, dtype=np.int16)]  # misalign digits with frame boundaries
    for d in digits:
        parts += [generate_dtmf(d, on_ms, **kw), gap]  # type: ignore[arg-type]
    return np.concatenate(parts)


def add_noise(pcm: np.ndarray, rms: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, rms, len(pcm))
    return np.clip(pcm + noise, -32768, 32767).astype(np.int16)


def test_inband_detects_all_16_digits() -> None:
    assert "".join(detect(dial("0123456789*#ABCD"))) == "0123456789*#ABCD"


def test_inband_40ms_digits_with_noise_and_twist() -> None:
    sig = dial("147*2580369#", on_ms=40, off_ms=40, twist_db=3.0)
    assert "".join(detect(add_noise(sig, 400))) == "147*2580369#"  # SNR about 20 dB


def test_inband_repeated_digit_needs_a_pause() -> None:
    assert detect(dial("55", on_ms=80, off_ms=50)) == ["5", "5"]
    assert detect(generate_dtmf("5", 400)) == ["5"]  # one long press is one digit


def test_inband_rejects_short_bursts_and_excess_twist() -> None:
    assert detect(dial("1", on_ms=15)) == []
    assert detect(dial("1", twist_db=-12.0)) == []  # column tone 12 dB below row: beyond 8 dB normal twist


def test_inband_rejects_tones_and_noise() -> None:
    assert detect(ringback("us", 3.0)) == []
    assert detect(tone((697.0,), 500)) == []  # a single DTMF row frequency
    assert detect(add_noise(np.zeros(16000, dtype=np.int16), 3000)) == []


def test_inband_rejects_speech() -> None:
    speech = TextToSpeech().synthesize(
        "Thank you for calling. Your call is important to us. Please hold while we connect you to an agent."
    )
    assert detect(speech) == []


def test_generate_dtmf_rejects_unknown_digit() -> None:
    with pytest.raises(ValueError, match="not a DTMF digit"):
        generate_dtmf("E", 40)
    with pytest.raises(ValueError, match="not a DTMF digit"):
        plan_dtmf_packets("x")
