"""Rendered `say` prompts: espeak-ng to 8 kHz WAV, cached by (text, language, voice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from duplex.ivr import LANGUAGES, demo_flow, load_flow
from duplex.media.wav import read_wav, read_wav_info
from duplex.services.ivr_prompts import PromptCache, flow_texts


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> PromptCache:
    return PromptCache(tmp_path_factory.mktemp("data"))


def test_a_prompt_renders_once_to_8khz_mono_speech(cache: PromptCache) -> None:
    path = cache.render("For sales, press 1.", "en")
    assert path.parent == cache.directory and path.exists()
    info = read_wav_info(path)
    assert (info.channels, info.rate, info.bits) == (1, 8000, 16)
    pcm = read_wav(path)
    assert 0.5 < len(pcm) / 8000 < 5 and np.abs(pcm.astype(np.int32)).max() > 1000  # a second or so of sound
    rendered, mtime = cache.rendered, path.stat().st_mtime_ns
    assert cache.render("For sales, press 1.", "en") == path
    assert cache.rendered == rendered and path.stat().st_mtime_ns == mtime  # a hit: not synthesised again


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_prompt_language_has_a_voice(cache: PromptCache, language: str) -> None:
    path = cache.render("1 2 3", language)
    assert len(read_wav(path)) > 4000


def test_text_language_and_voice_each_change_the_file(cache: PromptCache) -> None:
    base = cache.path_for("Bună ziua", "ro")
    assert base != cache.path_for("Bună ziua!", "ro")
    assert base != cache.path_for("Bună ziua", "it")
    assert base != cache.path_for("Bună ziua", "ro", "ro+f2")
    assert base == cache.path_for("Bună ziua", "ro", "ro")  # the language's own voice named explicitly


def test_unsupported_language_is_refused(cache: PromptCache) -> None:
    with pytest.raises(ValueError, match="unsupported prompt language"):
        cache.render("Hallo", "de")


def test_the_demo_flows_texts_cover_every_language() -> None:
    texts = list(flow_texts(load_flow(demo_flow())))
    assert {lang for _, lang, _ in texts} == set(LANGUAGES)
    assert ("For English, press 1. For Romanian, press 2. For Portuguese, press 3. For Italian, press 4. "
            "For Hungarian, press 5. For Russian, press 6.", "en", None) in texts  # fmt: skip


def test_warming_renders_every_fixed_text_once(tmp_path: Path) -> None:
    flow = load_flow(
        {
            "start": "hi",
            "nodes": {
                "hi": {"type": "say", "text": {"en": "Hello", "ro": "Salut"}, "next": "ask"},
                "ask": {
                    "type": "menu",
                    "prompt": {"say": "Press 1", "voice": "en-us"},
                    "options": {"1": "who"},
                },
                "who": {"type": "say", "text": "Hello ${caller_id}", "next": "bye"},  # waits for a call
                "bye": {"type": "hangup"},
            },
        }
    )
    assert sorted(flow_texts(flow)) == [
        ("Hello", "en", None),
        ("Press 1", "en", "en-us"),
        ("Salut", "ro", None),
    ]
    cache = PromptCache(tmp_path)
    paths = cache.warm(flow)
    assert len(set(paths)) == 3 and all(p.exists() for p in paths) and cache.rendered == 3
    again = PromptCache(tmp_path)
    assert again.warm(flow) == paths and again.rendered == 0  # a second warm-up finds them all on disk
