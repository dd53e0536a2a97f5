"""Prompt languages of the flows and the espeak-ng voice each one is spoken with by default."""

from __future__ import annotations

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "VOICES", "voice_for"]

# The seeds' languages; keys are the `language` values the flow schema allows.
VOICES: dict[str, str] = {
    "en": "en-gb",  # British English is espeak-ng's most intelligible English voice on 8 kHz lines
    "ro": "ro",
    "pt": "pt",  # European Portuguese (espeak-ng also has pt-br)
    "it": "it",
    "hu": "hu",
    "ru": "ru",
}
LANGUAGES: frozenset[str] = frozenset(VOICES)
DEFAULT_LANGUAGE = "en"


def voice_for(language: str, voice: str | None = None) -> str:
    """The espeak-ng voice for `language` unless a voice is named explicitly."""
    if voice:
        return voice
    return VOICES.get(language, VOICES[DEFAULT_LANGUAGE])
