"""Queue announcements per language: position and estimated wait, with each language's plural forms and the
grammatical gender espeak-ng would get wrong from a bare digit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from duplex.ivr import LANGUAGES
from duplex.ivr.announcements import (
    ANNOUNCEMENT_LANGUAGES,
    announce_minutes,
    announcement_language,
    minutes_phrase,
    position_announcement,
)
from duplex.media.wav import read_wav
from duplex.services.ivr_prompts import PromptCache


def test_every_prompt_language_has_announcements() -> None:
    assert ANNOUNCEMENT_LANGUAGES == LANGUAGES


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(0.0, 1), (1.0, 1), (60.0, 1), (60.5, 2), (119.0, 2), (120.0, 2), (3600.0, 60)]
)
def test_the_wait_is_announced_in_whole_minutes_rounded_up_at_least_one(seconds: float, minutes: int) -> None:
    assert announce_minutes(seconds) == minutes


@pytest.mark.parametrize(
    ("language", "position", "minutes", "text"),
    [
        ("en", 1, 1, "You are number 1 in the queue. Your estimated wait is 1 minute."),
        ("en", 3, 2, "You are number 3 in the queue. Your estimated wait is 2 minutes."),
        # Romanian: one "un minut"; few (2-19, and n % 100 in 1..19) "N minute"; other (20+) "N de minute";
        # "minut" is neuter, so two is "două" (espeak-ng reads "2" as masculine "doi").
        ("ro", 1, 1, "Sunteți pe poziția 1 în coadă. Timpul estimat de așteptare este de un minut."),
        ("ro", 2, 2, "Sunteți pe poziția 2 în coadă. Timpul estimat de așteptare este de două minute."),
        ("ro", 4, 5, "Sunteți pe poziția 4 în coadă. Timpul estimat de așteptare este de 5 minute."),
        (
            "ro",
            4,
            12,
            "Sunteți pe poziția 4 în coadă. Timpul estimat de așteptare este de douăsprezece minute.",
        ),
        ("ro", 4, 19, "Sunteți pe poziția 4 în coadă. Timpul estimat de așteptare este de 19 minute."),
        ("ro", 9, 20, "Sunteți pe poziția 9 în coadă. Timpul estimat de așteptare este de 20 de minute."),
        ("ro", 9, 21, "Sunteți pe poziția 9 în coadă. Timpul estimat de așteptare este de 21 de minute."),
        (
            "ro",
            9,
            22,
            "Sunteți pe poziția 9 în coadă. Timpul estimat de așteptare este de 20 și două de minute.",
        ),
        ("ro", 9, 102, "Sunteți pe poziția 9 în coadă. Timpul estimat de așteptare este de 100 două minute."),
        ("ro", 9, 120, "Sunteți pe poziția 9 în coadă. Timpul estimat de așteptare este de 120 de minute."),
        ("pt", 1, 1, "Está na posição 1 da fila. O tempo de espera estimado é de 1 minuto."),
        ("pt", 5, 7, "Está na posição 5 da fila. O tempo de espera estimado é de 7 minutos."),
        ("it", 1, 1, "Lei è il numero 1 in coda. Il tempo di attesa stimato è di un minuto."),
        ("it", 6, 3, "Lei è il numero 6 in coda. Il tempo di attesa stimato è di 3 minuti."),
        ("hu", 2, 1, "Az Ön sorszáma a várakozási sorban: 2. A becsült várakozási idő 1 perc."),
        ("hu", 2, 4, "Az Ön sorszáma a várakozási sorban: 2. A becsült várakozási idő 4 perc."),
        # Russian: one (1, 21, 101) "минута", few (2-4, 22-24) "минуты", many (5-20, 11-14, 25...) "минут";
        # feminine: a last digit 1 or 2 is "одна" / "две".
        ("ru", 1, 1, "Ваш номер в очереди: 1. Примерное время ожидания: одна минута."),
        ("ru", 2, 2, "Ваш номер в очереди: 2. Примерное время ожидания: две минуты."),
        ("ru", 3, 3, "Ваш номер в очереди: 3. Примерное время ожидания: 3 минуты."),
        ("ru", 3, 5, "Ваш номер в очереди: 3. Примерное время ожидания: 5 минут."),
        ("ru", 3, 11, "Ваш номер в очереди: 3. Примерное время ожидания: 11 минут."),
        ("ru", 3, 12, "Ваш номер в очереди: 3. Примерное время ожидания: 12 минут."),
        ("ru", 3, 14, "Ваш номер в очереди: 3. Примерное время ожидания: 14 минут."),
        ("ru", 3, 21, "Ваш номер в очереди: 3. Примерное время ожидания: 20 одна минута."),
        ("ru", 3, 22, "Ваш номер в очереди: 3. Примерное время ожидания: 20 две минуты."),
        ("ru", 3, 24, "Ваш номер в очереди: 3. Примерное время ожидания: 24 минуты."),
        ("ru", 3, 25, "Ваш номер в очереди: 3. Примерное время ожидания: 25 минут."),
        ("ru", 3, 111, "Ваш номер в очереди: 3. Примерное время ожидания: 111 минут."),
    ],
)
def test_position_and_wait_per_language(language: str, position: int, minutes: int, text: str) -> None:
    assert position_announcement(language, position, minutes * 60.0) == text


def test_without_an_estimate_only_the_position_is_said() -> None:
    assert position_announcement("ro", 3, None) == "Sunteți pe poziția 3 în coadă."


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_a_call_being_offered_hears_a_hold_message(language: str) -> None:
    text = position_announcement(language, None, 30.0)
    assert text and not any(ch.isdigit() for ch in text)
    assert len({position_announcement(lang, None, None) for lang in LANGUAGES}) == len(LANGUAGES)


def test_an_unknown_language_falls_back_to_english() -> None:
    assert position_announcement("de", 2, 90.0) == position_announcement("en", 2, 90.0)


@pytest.mark.parametrize(
    ("queue", "flow", "chosen"),
    [
        ("hu", "ro", "hu"),  # the queue names its language
        (None, "ro", "ro"),  # else the language the flow last spoke or the caller chose
        ("de", "ro", "ro"),  # a language without announcements counts as not set
        (None, None, "en"),  # else English
        (None, "de", "en"),
        ("it", None, "it"),
    ],
)
def test_announcement_language_is_the_queues_else_the_flows_else_english(
    queue: str | None, flow: str | None, chosen: str
) -> None:
    assert announcement_language(queue, flow) == chosen


def _phonemes(text: str, voice: str) -> str:
    espeak = shutil.which("espeak-ng")
    assert espeak is not None, "espeak-ng is installed with the test dependencies"
    return subprocess.run([espeak, "-q", "-x", "-v", voice, text], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


@pytest.mark.parametrize(
    ("language", "minutes", "spoken_end"),
    [("ru", 1, "одна минута"), ("ru", 22, "две минуты"), ("ru", 101, "одна минута"), ("ro", 2, "două minute"),
     ("ro", 22, "două de minute"), ("ro", 12, "douăsprezece minute"), ("it", 1, "un minuto")],
)  # fmt: skip
def test_espeak_ng_reads_the_number_in_the_right_gender(language: str, minutes: int, spoken_end: str) -> None:
    """espeak-ng speaks our phrase ending with the number's last word in the unit's gender (a bare digit would be
    read in the masculine: "один", "два", "doi", "uno")."""
    phrase = minutes_phrase(language, minutes)
    assert phrase in position_announcement(language, 1, minutes * 60.0)
    assert _phonemes(phrase, language).endswith(_phonemes(spoken_end, language)), phrase
    masculine = _phonemes(str(minutes) + " " + phrase.rsplit(" ", 1)[1], language)
    assert not masculine.endswith(_phonemes(spoken_end, language))  # the digit alone would be wrong


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_announcements_render_through_the_prompt_cache(tmp_path: Path, language: str) -> None:
    cache = PromptCache(tmp_path)
    text = position_announcement(language, 2, 150.0)
    path = cache.render(text, language)
    pcm = read_wav(path)
    assert len(pcm) / 8000 > 1.5 and np.abs(pcm.astype(np.int32)).max() > 1000
    assert cache.render(text, language) == path and cache.rendered == 1  # the second caller hits the cache
