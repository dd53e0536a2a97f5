"""espeak-ng text-to-speech at 8 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from duplex.services.media.tts import TextToSpeech, TtsError

TEXT = "Thank you for calling Duplex. Please press one for sales, or two for support."


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


@pytest.mark.parametrize("engine", ["library", "binary"])
def test_speech_is_non_silent_and_about_the_right_length(engine: str) -> None:
    tts = TextToSpeech(engine=engine)
    pcm = tts.synthesize(TEXT)
    assert tts.last_engine == engine
    assert pcm.dtype == np.int16
    words = len(TEXT.split())
    seconds = len(pcm) / 8000
    assert 0.6 * words / 160 * 60 < seconds < 1.8 * words / 160 * 60  # 160 words per minute
    assert rms(pcm) > 1000
    # the resampler keeps speech band-limited for 8 kHz: little energy near Nyquist
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    assert spectrum[freqs > 3900].sum() < 0.01 * spectrum.sum()


def test_cache_by_text_and_voice(tmp_path: Path) -> None:
    tts = TextToSpeech(tmp_path)
    first = tts.synthesize("one two three")
    path = tts.cache_path("one two three")
    assert path is not None and path.exists()
    again = tts.synthesize("one two three")
    assert tts.last_engine == "cache" and np.array_equal(first, again)
    assert tts.cache_path("one two three", "de") != path
    assert len(list(tmp_path.iterdir())) == 1


def test_unknown_voice_raises() -> None:
    with pytest.raises(TtsError, match="no voice"):
        TextToSpeech(engine="library").synthesize("hello", voice="no-such-voice")
