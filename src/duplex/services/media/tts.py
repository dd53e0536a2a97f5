"""Offline text-to-speech: text -> 8 kHz mono int16 via espeak-ng.

Primary route: libespeak-ng from the ``espeakng-loader`` wheel, driven through ctypes in synchronous mode
(22050 Hz output collected by the synth callback), resampled to 8 kHz. Fallback: the ``espeak-ng`` binary.
Results are cached as 8 kHz WAV files named by a hash of (engine settings, voice, text).
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from duplex.media.resample import resample
from duplex.media.wav import WavWriter, read_wav

__all__ = ["TextToSpeech", "TtsError"]

Pcm = npt.NDArray[np.int16]
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
POS_CHARACTER = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class TtsError(RuntimeError):
    pass


class _LibEspeak:
    """Process-wide libespeak-ng handle (the library is a singleton and not thread-safe)."""

    _instance: _LibEspeak | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data = espeakng_loader.get_data_path().encode()
        self.rate = int(self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
        if self.rate <= 0:
            raise TtsError("espeak_Initialize failed")
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: ctypes does not
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], n: int, _events: int | None) -> int:
        if n > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, n * 2))
        return 0  # 0 = continue synthesis

    @classmethod
    def get(cls) -> _LibEspeak:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def synth(self, text: str, voice: str, words_per_minute: int) -> tuple[Pcm, int]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise TtsError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(ESPEAK_RATE, words_per_minute, 0)
        raw = text.encode() + b"\x00"
        self._chunks = []
        err = self.lib.espeak_Synth(raw, len(raw), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        if err != 0:
            raise TtsError(f"espeak_Synth failed with {err}")
        pcm = np.frombuffer(b"".join(self._chunks), dtype="<i2").astype(np.int16)
        return pcm, self.rate


def _synth_library(text: str, voice: str, wpm: int) -> tuple[Pcm, int]:
    with _LibEspeak._lock:
        return _LibEspeak.get().synth(text, voice, wpm)


def _synth_binary(text: str, voice: str, wpm: int) -> Pcm:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TtsError("neither libespeak-ng nor the espeak-ng binary is available")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tts.wav"
        subprocess.run([exe, "-v", voice, "-s", str(wpm), "-w", str(out), "--", text], check=True, timeout=60)
        return read_wav(out, rate=8000)


class TextToSpeech:
    """Synthesises prompts at 8 kHz, caching them under ``cache_dir`` (if given).

    ``engine`` is ``"auto"`` (library, then binary), ``"library"`` or ``"binary"``.
    """

    def __init__(
        self, cache_dir: str | Path | None = None, *, voice: str = "en", words_per_minute: int = 160,
        engine: str = "auto",
    ) -> None:  # fmt: skip
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.voice = voice
        self.wpm = words_per_minute
        self.engine = engine
        self.last_engine: str | None = None

    def cache_path(self, text: str, voice: str | None = None) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"espeak-ng|{voice or self.voice}|{self.wpm}|{text}".encode()).hexdigest()[:32]
        return self.cache_dir / f"{key}.wav"

    def synthesize(self, text: str, voice: str | None = None) -> Pcm:
        """Text -> 8 kHz int16 PCM (from the cache when present)."""
        v = voice or self.voice
        path = self.cache_path(text, v)
        if path is not None and path.exists():
            self.last_engine = "cache"
            return read_wav(path)
        pcm = self._render(text, v)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with WavWriter(tmp) as w:
                w.write(pcm)
            tmp.replace(path)  # atomic: concurrent readers never see a half-written prompt
        return pcm

    def _render(self, text: str, voice: str) -> Pcm:
        if self.engine in ("auto", "library"):
            try:
                pcm, rate = _synth_library(text, voice, self.wpm)
                self.last_engine = "library"
                return resample(pcm, rate, 8000)
            except (OSError, ImportError, TtsError, AttributeError):
                if self.engine == "library":
                    raise
        self.last_engine = "binary"
        return _synth_binary(text, voice, self.wpm)
