"""Rendered IVR prompts: `say` texts spoken by espeak-ng to 8 kHz mono WAV files, cached on disk.

Kept outside `duplex.ivr` because it runs espeak-ng and touches the file system; the flow core only names
what to say. A prompt's file name is a hash of (text, language, voice, speed), so a changed text is a new
file and an unchanged one is rendered once, however many calls and flow versions use it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from duplex.ivr.flow import Flow
from duplex.ivr.languages import LANGUAGES, voice_for
from duplex.media.wav import WavWriter
from duplex.services.media.tts import TextToSpeech

__all__ = ["PromptCache", "flow_texts"]


class PromptCache:
    """`say` prompts as WAV files under ``<data_dir>/prompts/tts``."""

    def __init__(self, data_dir: str | Path, *, words_per_minute: int = 150, engine: str = "auto") -> None:
        self.directory = Path(data_dir) / "prompts" / "tts"
        self.words_per_minute = words_per_minute
        self._tts = TextToSpeech(None, words_per_minute=words_per_minute, engine=engine)
        self.rendered = 0  # how many prompts this cache had to synthesise (the rest were hits)

    def path_for(self, text: str, language: str, voice: str | None = None) -> Path:
        voice = voice_for(language, voice)
        key = f"espeak-ng\0{language}\0{voice}\0{self.words_per_minute}\0{text}".encode()
        return self.directory / f"{hashlib.sha256(key).hexdigest()[:32]}.wav"

    def render(self, text: str, language: str, voice: str | None = None) -> Path:
        """The WAV file of `text` spoken in `language` (with `voice`, else the language's voice)."""
        if language not in LANGUAGES:
            raise ValueError(f"unsupported prompt language {language!r}")
        path = self.path_for(text, language, voice)
        if path.exists():
            return path
        pcm = self._tts.synthesize(text, voice_for(language, voice))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        with WavWriter(tmp) as wav:
            wav.write(pcm)
        tmp.replace(path)  # atomic: a concurrent call never plays a half-written prompt
        self.rendered += 1
        return path

    def warm(self, flow: Flow) -> list[Path]:
        """Render every fixed text of `flow` ahead of its first call (texts with ${variables} wait for one)."""
        return [self.render(text, language, voice) for text, language, voice in flow_texts(flow)]


def flow_texts(flow: Flow) -> Iterator[tuple[str, str, str | None]]:
    """(text, language, voice) of every `say` text in `flow` that does not depend on a variable."""
    for node in flow.nodes.values():
        if node["type"] == "say":
            yield from _texts(node["text"], node.get("language"), node.get("voice"), flow.language)
        for key in ("prompt", "retry_prompt"):
            prompt = node.get(key)
            if isinstance(prompt, Mapping) and "say" in prompt:
                yield from _texts(prompt["say"], prompt.get("language"), prompt.get("voice"), flow.language)


def _texts(
    text: Any, language: str | None, voice: str | None, default: str
) -> Iterator[tuple[str, str, str | None]]:
    # A text per language is spoken in that language; a single text in the node's (or the flow's) language.
    variants = text.items() if isinstance(text, Mapping) else [(language or default, text)]
    for lang, words in variants:
        if "${" not in words:
            yield words, lang, voice
