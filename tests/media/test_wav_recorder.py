"""Streaming WAV writer (crash tolerant), reader/resampler, and call recorder alignment."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from duplex.media.recorder import CallRecorder
from duplex.media.tones import tone
from duplex.media.wav import WavWriter, read_wav, read_wav_info


def frames(n: int, value: int) -> list[np.ndarray]:
    return [np.full(160, value, dtype=np.int16) for _ in range(n)]


def test_header_is_final_after_close_and_stdlib_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    with WavWriter(path) as w:
        for f in frames(100, 1234):
            w.write(f)
    with wave.open(str(path)) as r:
        assert (r.getnchannels(), r.getsampwidth(), r.getframerate(), r.getnframes()) == (1, 2, 8000, 16000)
    assert read_wav(path).tolist() == [1234] * 16000


def test_recording_cut_off_without_close_is_readable(tmp_path: Path) -> None:
    """Simulate a crash: the writer is never closed, its process just stops writing."""
    path = tmp_path / "crash.wav"
    w = WavWriter(path, header_interval=1.0)
    for f in frames(120, 500):  # 2.4 s
        w.write(f)
    # The header was rewritten at 1 s and 2 s of audio: stdlib wave trusts it and sees 2 s.
    with wave.open(str(path)) as r:
        assert r.getnframes() == 16000
    # Our reader recovers everything that reached the file (fh is flushed every header interval).
    data = read_wav(path)
    assert len(data) >= 16000 and set(data.tolist()) == {500}
    sox = shutil.which("sox")
    assert sox is not None
    out = subprocess.run([sox, "--i", "-D", str(path)], capture_output=True, text=True, check=True)
    assert float(out.stdout) >= 2.0
    w.close()
    assert read_wav_info(path).frames == 120 * 160


def test_reader_resamples_and_downmixes(tmp_path: Path) -> None:
    path = tmp_path / "stereo16k.wav"
    t = np.arange(16000) / 16000
    left = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.stack([left, left], axis=1).astype("<i2").tobytes())
    pcm = read_wav(path)
    assert len(pcm) == 8000
    rms = float(np.sqrt(np.mean(pcm[100:-100].astype(float) ** 2)))
    assert abs(rms - 8000 / np.sqrt(2)) < 100


def test_reader_handles_ulaw_written_by_sox(tmp_path: Path) -> None:
    src, dst = tmp_path / "src.wav", tmp_path / "ulaw.wav"
    with WavWriter(src) as w:
        w.write(tone((440.0,), 500, amplitude=10000))
    subprocess.run(["sox", str(src), "-e", "u-law", str(dst)], check=True)
    assert read_wav_info(dst).format == 7
    pcm = read_wav(dst)
    assert len(pcm) == 4000 and np.abs(pcm).max() > 9000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"RIFX", "not a RIFF/WAVE file"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00", "data chunk before fmt"),
    ],
)
def test_reader_errors(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        read_wav(path)


def test_writer_rejects_wrong_dtype_and_shape(tmp_path: Path) -> None:
    with WavWriter(tmp_path / "x.wav", channels=2) as w:
        with pytest.raises(ValueError, match="int16"):
            w.write(np.zeros((160, 2), dtype=np.float32))
        with pytest.raises(ValueError, match="shape"):
            w.write(np.zeros(160, dtype=np.int16))


def test_stereo_recording_stays_aligned_across_gaps(tmp_path: Path) -> None:
    """Caller (left) talks for 1 s, pauses 0.5 s (no packets), talks again; agent (right) is continuous."""
    path = tmp_path / "call.wav"
    rec = CallRecorder(path, channels=2, start=10.0)
    t = 10.0
    for i in range(125):  # 2.5 s of ticks
        now = t + i * 0.02 + (0.003 if i % 3 else 0.0)  # arrival jitter must not shift channels
        if not 50 <= i < 75:
            rec.add(np.full(160, 1000 + (i >= 75), dtype=np.int16), now, channel=0)
        rec.add(np.full(160, -2000, dtype=np.int16), now, channel=1)
    rec.close()
    with wave.open(str(path)) as r:
        assert r.getnchannels() == 2
        data = np.frombuffer(r.readframes(r.getnframes()), dtype="<i2").reshape(-1, 2)
    left, right = data[:, 0], data[:, 1]
    assert len(data) == 125 * 160
    assert (right == -2000).all()
    assert (left[: 50 * 160] == 1000).all()
    assert (left[50 * 160 + 40 : 75 * 160 - 40] == 0).all()  # silence inserted for the gap
    assert (left[75 * 160 + 40 :] == 1001).all()  # the second talkspurt is where it belongs in time
    assert rec.gaps_filled == 1


def test_stereo_recording_when_one_leg_is_silent(tmp_path: Path) -> None:
    path = tmp_path / "hold.wav"
    rec = CallRecorder(path, channels=2, start=0.0, max_lag=0.2)
    for i in range(100):
        rec.add(np.full(160, 7, dtype=np.int16), i * 0.02, channel=1)
    # the file grows although channel 0 never sends (it is padded after max_lag)
    rec.writer.sync()
    assert os.path.getsize(path) > 44 + 4 * 160 * 80
    rec.close()
    with wave.open(str(path)) as r:
        data = np.frombuffer(r.readframes(r.getnframes()), dtype="<i2").reshape(-1, 2)
    assert len(data) == 100 * 160 and (data[:, 0] == 0).all() and (data[:, 1] == 7).all()


def test_mono_recorder(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    rec = CallRecorder(path, channels=1, start=0.0)
    rec.add(np.full(160, 3, dtype=np.int16), 0.0)
    rec.add(np.full(160, 4, dtype=np.int16), 0.1)  # 80 ms gap
    rec.close()
    pcm = read_wav(path)
    assert len(pcm) == 160 * 6 and (pcm[160:800] == 0).all() and (pcm[800:] == 4).all()
    raw = path.read_bytes()
    assert struct.unpack_from("<I", raw, 40)[0] == 160 * 6 * 2
