"""Answering-machine detection on the audio after an outbound call is answered (sans-IO, time is an argument).

The classic energy/word-count method of Asterisk's ``app_amd``, with its parameters: a person answers with a short
word or two ("Hello?") and then waits, silent, for the caller; a machine plays a long greeting of many words, or
says nothing at all for a while. Frames are 20 ms of 8 kHz int16 PCM; ``feed(pcm, now)`` returns an
``AmdResult`` once, when the decision is made (later frames return None).

A fax machine's calling tone (CNG, 1100 Hz, ITU-T T.30) or a modem/fax answer tone (CED, 2100 Hz) gives ``FAX``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from duplex.media.goertzel import GoertzelBank, frame_energy

__all__ = ["AmdOutcome", "AmdParameters", "AmdResult", "AnsweringMachineDetector"]

RATE = 8000
_FLOOR_RISE = 10 ** (3 / 10 / 50)  # +3 dB per second of 20 ms frames
FAX_FREQS = (1100.0, 2100.0)  # CNG (calling fax) and CED (answering fax or modem)


class AmdOutcome(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    NOT_SURE = "not_sure"
    FAX = "fax"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdParameters:
    """Asterisk ``amd.conf`` names (milliseconds). The defaults are Asterisk's except four words, so "Hello, who
    is it?" still counts as a person, the silence threshold (an RMS level here) and the noise margin, which
    Asterisk does not have; the word limit and margin were chosen on one generated set (bench/amd.py --seed 5)
    and are measured on another.

    ``silence_threshold`` is the RMS amplitude below which a frame is silence (Asterisk's 256 is an average
    magnitude on a 16-bit scale; RMS is about 1.1 times that for speech-like signals).
    """

    initial_silence: int = 2500  # silence before any speech longer than this: machine
    greeting: int = 1500  # speech in the greeting longer than this: machine
    after_greeting_silence: int = 800  # silence after a short greeting: human
    total_analysis_time: int = 5000  # no decision by then: not sure
    min_word_length: int = 100  # voiced run that counts as a word
    between_words_silence: int = 50  # silence that ends a word
    maximum_number_of_words: int = 4  # this many words: machine
    maximum_word_length: int = 5000  # one word this long: machine
    silence_threshold: float = 280.0
    noise_margin_db: float = 10.0  # a frame is voiced only this far above the line's noise floor
    fax_tone_ms: int = 400  # CNG/CED held this long: fax

    def __post_init__(self) -> None:
        for name in ("initial_silence", "greeting", "after_greeting_silence", "total_analysis_time",
                     "min_word_length", "between_words_silence", "maximum_word_length", "fax_tone_ms"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ValueError(f"AMD parameter {name} must be positive")
        if self.maximum_number_of_words < 1:
            raise ValueError("AMD parameter maximum_number_of_words must be at least 1")
        if self.silence_threshold <= 0:
            raise ValueError("AMD parameter silence_threshold must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdResult:
    outcome: AmdOutcome
    cause: str  # Asterisk's AMDCAUSE words: INITIALSILENCE, LONGGREETING, MAXWORDS, HUMAN, TOOLONG, ...
    at: float  # when the decision was made
    elapsed_ms: int  # audio analysed
    words: int


class AnsweringMachineDetector:
    """Feed 20 ms frames from the answer on; the first non-None result is the decision."""

    def __init__(self, params: AmdParameters | None = None, *, frame_samples: int = 160) -> None:
        self.params = params or AmdParameters()
        self.frame_ms = frame_samples * 1000 // RATE
        self._bank = GoertzelBank(FAX_FREQS, frame_samples)
        self._silence_threshold_energy = self.params.silence_threshold**2
        self.result: AmdResult | None = None
        self.elapsed_ms = 0
        self.words = 0
        self._in_greeting = False  # some speech heard
        self._in_word = False
        self._voice_ms = 0  # consecutive voiced time
        self._silence_ms = 0  # consecutive silent time
        self._voice_total_ms = 0  # all voiced time since the answer
        self._fax_ms = 0
        self._noise_floor = self._silence_threshold_energy  # until the line's own floor is seen
        self._margin = 10 ** (self.params.noise_margin_db / 10)

    def feed(self, pcm: npt.ArrayLike, now: float) -> AmdResult | None:
        if self.result is not None:
            return None
        x = np.asarray(pcm, dtype=np.float64)
        self.elapsed_ms += self.frame_ms
        energy = frame_energy(x)
        voiced = self._voiced(energy)
        if voiced and self._is_fax_tone(x, energy):
            self._fax_ms += self.frame_ms
            if self._fax_ms >= self.params.fax_tone_ms:
                return self._decide(AmdOutcome.FAX, "FAX", now)
        else:
            self._fax_ms = 0
        decision = self._on_voice(now) if voiced else self._on_silence(now)
        if decision is None and self.elapsed_ms >= self.params.total_analysis_time:
            return self._decide(AmdOutcome.NOT_SURE, "TOOLONG", now)
        return decision

    def _voiced(self, energy: float) -> bool:
        """Above the fixed threshold and above the noise floor: the floor follows the quietest frames at once
        and creeps up by about 3 dB a second (from zero too: digital silence), so hiss is not taken for words."""
        self._noise_floor = min(energy, max(self._noise_floor, 1.0) * _FLOOR_RISE)
        return energy >= max(self._silence_threshold_energy, self._noise_floor * self._margin)

    def _is_fax_tone(self, x: npt.NDArray[np.float64], energy: float) -> bool:
        return bool(float(self._bank.power(x).max()) >= 0.8 * energy)

    def _on_silence(self, now: float) -> AmdResult | None:
        p = self.params
        self._silence_ms += self.frame_ms
        if self._silence_ms >= p.between_words_silence and self._in_word:
            self._in_word = False
            self._voice_ms = 0
        if not self._in_greeting and self._silence_ms >= p.initial_silence:
            return self._decide(AmdOutcome.MACHINE, "INITIALSILENCE", now)
        if self._in_greeting and self._silence_ms >= p.after_greeting_silence:
            return self._decide(AmdOutcome.HUMAN, "HUMAN", now)
        return None

    def _on_voice(self, now: float) -> AmdResult | None:
        p = self.params
        self._silence_ms = 0
        self._voice_ms += self.frame_ms
        self._voice_total_ms += self.frame_ms
        if self._voice_ms >= p.min_word_length and not self._in_word:
            self._in_word = True
            self._in_greeting = True
            self.words += 1
        if self.words >= p.maximum_number_of_words:
            return self._decide(AmdOutcome.MACHINE, "MAXWORDS", now)
        if self._in_greeting and self._voice_total_ms >= p.greeting:
            return self._decide(AmdOutcome.MACHINE, "LONGGREETING", now)
        if self._voice_ms >= p.maximum_word_length:
            return self._decide(AmdOutcome.MACHINE, "MAXWORDLENGTH", now)
        return None

    def _decide(self, outcome: AmdOutcome, cause: str, now: float) -> AmdResult:
        self.result = AmdResult(
            outcome=outcome, cause=cause, at=now, elapsed_ms=self.elapsed_ms, words=self.words
        )
        return self.result
