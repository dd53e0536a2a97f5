"""Answering-machine detection: each rule of the Asterisk method on synthetic audio, then accuracy on speech."""

from __future__ import annotations

import numpy as np
import pytest

from duplex.media.amd import AmdOutcome, AmdParameters, AmdResult, AnsweringMachineDetector
from duplex.media.tones import cadence
from duplex.services.media.amd_corpus import labelled_clips

RATE = 8000


def voice(ms: int, rms: float = 3000.0, seed: int = 0) -> np.ndarray:
    """Speech-like energy: broadband noise (no single tone, so never taken for a fax tone)."""
    return np.random.default_rng(seed).normal(0, rms, ms * RATE // 1000).clip(-32768, 32767).astype(np.int16)


def quiet(ms: int, rms: float = 0.0, seed: int = 1) -> np.ndarray:
    if rms == 0:
        return np.zeros(ms * RATE // 1000, dtype=np.int16)
    return voice(ms, rms, seed)


def run(pcm: np.ndarray, params: AmdParameters | None = None) -> AmdResult | None:
    detector = AnsweringMachineDetector(params)
    for i in range(0, len(pcm) - 159, 160):
        result = detector.feed(pcm[i : i + 160], i / RATE)
        if result is not None:
            assert detector.feed(pcm[i : i + 160], i / RATE) is None  # decided once
            return result
    return None


def test_short_hello_then_silence_is_a_person() -> None:
    result = run(np.concatenate([quiet(500), voice(400), quiet(1500)]))
    assert result is not None
    assert (result.outcome, result.cause, result.words) == (AmdOutcome.HUMAN, "HUMAN", 1)
    assert result.elapsed_ms == 500 + 400 + 800  # decided when the after-greeting silence reached 800 ms


def test_long_greeting_is_a_machine() -> None:
    # one long run of speech: 1500 ms of voice in the greeting
    result = run(np.concatenate([quiet(300), voice(2500)]))
    assert result is not None
    assert (result.outcome, result.cause) == (AmdOutcome.MACHINE, "LONGGREETING")
    assert result.elapsed_ms == 300 + 1500


def test_initial_silence_is_a_machine() -> None:
    result = run(quiet(3000))
    assert result is not None
    assert (result.outcome, result.cause, result.elapsed_ms) == (AmdOutcome.MACHINE, "INITIALSILENCE", 2500)


def test_many_short_words_are_a_machine() -> None:
    words = [np.concatenate([voice(200, seed=i), quiet(200)]) for i in range(5)]
    result = run(np.concatenate([quiet(200), *words, quiet(2000)]))
    assert result is not None
    assert (result.outcome, result.cause, result.words) == (AmdOutcome.MACHINE, "MAXWORDS", 4)


def test_a_pause_shorter_than_between_words_silence_does_not_split_a_word() -> None:
    pcm = np.concatenate([quiet(200), voice(200), quiet(40), voice(200), quiet(1000)])
    result = run(pcm)
    assert result is not None
    assert (result.outcome, result.words) == (AmdOutcome.HUMAN, 1)


def test_nothing_decided_by_total_analysis_time_is_not_sure() -> None:
    # words separated by silences just under the after-greeting limit, with a high word limit
    params = AmdParameters(maximum_number_of_words=50, greeting=10_000, total_analysis_time=3000)
    words = [np.concatenate([voice(150, seed=i), quiet(700)]) for i in range(8)]
    result = run(np.concatenate([quiet(100), *words]), params)
    assert result is not None
    assert (result.outcome, result.cause, result.elapsed_ms) == (AmdOutcome.NOT_SURE, "TOOLONG", 3000)


def test_fax_calling_tone() -> None:
    result = run(np.concatenate([quiet(300), cadence((1100.0,), 500, 3000, 4.0)]))
    assert result is not None
    assert (result.outcome, result.cause) == (AmdOutcome.FAX, "FAX")


def test_hiss_on_the_line_is_not_taken_for_speech() -> None:
    """Line noise well above the fixed threshold: the noise floor keeps it silence, so the short hello that
    follows is a person (a fixed threshold alone hears one endless word: a machine)."""
    pcm = np.concatenate(
        [quiet(600, rms=600), voice(400, rms=6000) + quiet(400, rms=600), quiet(1500, rms=600)]
    )
    assert run(pcm.astype(np.int16)).outcome is AmdOutcome.HUMAN  # type: ignore[union-attr]
    fixed = AmdParameters(noise_margin_db=0.0)
    assert run(pcm.astype(np.int16), fixed).outcome is AmdOutcome.MACHINE  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["greeting", "initial_silence", "min_word_length", "silence_threshold"])
def test_parameters_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AmdParameters(**{field: 0})


def test_accuracy_on_spoken_answers_and_greetings(tmp_path: object) -> None:
    """espeak-ng people and machines in six languages, noise and G.711: most are classified right."""
    right = {AmdOutcome.HUMAN: [0, 0], AmdOutcome.MACHINE: [0, 0], AmdOutcome.FAX: [0, 0]}
    for clip in labelled_clips(20, seed=7):
        result = run(clip.pcm)
        outcome = result.outcome if result is not None else AmdOutcome.NOT_SURE
        right[clip.label][0] += outcome is clip.label
        right[clip.label][1] += 1
    for label, (ok, total) in right.items():
        assert total > 0, label
        assert ok / total >= 0.85, (label, ok, total)
