"""A labelled set of answered-call audio for measuring answering-machine detection.

People answer with a short phrase and then wait; machines play a long greeting and a beep. Both are spoken by
espeak-ng in the seeds' languages and several voices, start after a random delay, pass through G.711 (as they
would on a call), and get background noise at a chosen signal-to-noise ratio. Fax clips carry the CNG tone.
Everything comes from one seeded ``random.Random``, so a set is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from duplex.media.amd import AmdOutcome
from duplex.media.codecs.g711 import ulaw_decode, ulaw_encode
from duplex.media.tones import beep, cadence
from duplex.services.media.tts import TextToSpeech

__all__ = ["LabelledClip", "labelled_clips"]

Pcm = npt.NDArray[np.int16]
RATE = 8000

HUMAN_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("Hello?", "Yes?", "Hello, who's this?", "Hi.", "Speaking."),
    "ro": ("Alo?", "Da?", "Alo, cine e?", "Bună ziua."),
    "pt": ("Está?", "Sim?", "Olá, quem fala?", "Estou."),
    "it": ("Pronto?", "Sì?", "Pronto, chi parla?"),
    "hu": ("Halló?", "Igen?", "Tessék."),
    "ru": ("Алло?", "Да?", "Слушаю."),
}
MACHINE_GREETINGS: dict[str, tuple[str, ...]] = {
    "en": (
        "Hi, you have reached Anna. I can't take your call right now. Please leave a message after the tone.",
        "The person you are calling is not available. Please record your message after the beep.",
    ),
    "ro": ("Bună ziua, ați sunat la Andrei. Nu pot răspunde acum, vă rog lăsați un mesaj după semnal.",),
    "pt": ("Olá, ligou para a Maria. Não posso atender agora, deixe a sua mensagem após o sinal.",),
    "it": (
        "Ciao, hai chiamato Marco. Al momento non posso rispondere, lascia un messaggio dopo il segnale.",
    ),
    "hu": ("Szia, Péter vagyok. Most nem tudom felvenni, kérlek hagyj üzenetet a sípszó után.",),
    "ru": ("Здравствуйте, вы позвонили Ивану. Я не могу ответить, оставьте сообщение после сигнала.",),
}
VOICE_VARIANTS = ("", "+m3", "+f2", "+f4")


@dataclass(frozen=True, slots=True)
class LabelledClip:
    label: AmdOutcome
    language: str
    voice: str
    text: str
    snr_db: float | None
    pcm: Pcm


def _noise(rng: random.Random, samples: int, rms: float) -> npt.NDArray[np.float64]:
    gen = np.random.default_rng(rng.getrandbits(32))
    return gen.normal(0.0, rms, samples)


def _on_the_line(rng: random.Random, speech: Pcm, lead_s: float, tail_s: float, snr_db: float | None) -> Pcm:
    """Lead silence + speech + tail silence, with noise at ``snr_db`` below the speech, through G.711 µ-law."""
    x = np.concatenate(
        [np.zeros(int(lead_s * RATE)), speech.astype(np.float64), np.zeros(int(tail_s * RATE))]
    )
    if snr_db is not None:
        voiced = speech.astype(np.float64)
        rms = (
            float(np.sqrt(np.mean(voiced[np.abs(voiced) > 300] ** 2)))
            if np.any(np.abs(voiced) > 300)
            else 1000.0
        )
        x = x + _noise(rng, len(x), rms / (10 ** (snr_db / 20)))
    pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(pcm))


def labelled_clips(
    count: int,
    *,
    seed: int = 1,
    cache_dir: Path | None = None,
    snr_choices: tuple[float | None, ...] = (None, 25.0, 15.0),
) -> Iterator[LabelledClip]:
    """``count`` clips, in turn a person and a machine, every tenth a fax, with random languages, voices, delays
    and noise levels."""
    rng = random.Random(seed)
    tts = TextToSpeech(cache_dir)
    languages = sorted(HUMAN_PHRASES)
    for i in range(count):
        lang = rng.choice(languages)
        voice = lang + rng.choice(VOICE_VARIANTS)
        snr = rng.choice(snr_choices)
        lead = rng.uniform(0.2, 1.2)
        if i % 10 == 9:
            tone = cadence((1100.0,), 500, 3000, 4.0, amplitude=4000.0)
            yield LabelledClip(AmdOutcome.FAX, lang, "cng", "", snr, _on_the_line(rng, tone, lead, 1.0, snr))
        elif i % 2 == 0:
            text = rng.choice(HUMAN_PHRASES[lang])
            speech = tts.synthesize(text, voice)
            # the person then waits for the caller: silence, sometimes a second "hello?" after it
            clip = _on_the_line(rng, speech, lead, 3.5, snr)
            yield LabelledClip(AmdOutcome.HUMAN, lang, voice, text, snr, clip)
        else:
            text = rng.choice(MACHINE_GREETINGS[lang])
            speech = np.concatenate(
                [tts.synthesize(text, voice), np.zeros(RATE // 4, dtype=np.int16), beep()]
            )
            yield LabelledClip(
                AmdOutcome.MACHINE, lang, voice, text, snr, _on_the_line(rng, speech, lead, 1.0, snr)
            )
