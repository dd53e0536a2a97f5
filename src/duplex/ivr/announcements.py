"""Queue announcements in the seeds' languages: the caller's position and estimated wait, as text for espeak-ng.

A pure function of (language, position, wait): the call layer renders the text through the prompt cache. Numbers
stay digits (espeak-ng reads them in the voice's language) except where the digit alone would be read in the
wrong grammatical form: espeak-ng reads "1" and "2" in the masculine, while Romanian "minut" is neuter (two:
"două") and Russian "минута" feminine (one: "одна", two: "две"), and Italian says "un minuto", not "uno".
Plural forms follow the CLDR plural rules of each language (Romanian one / few / other with "de", Russian one /
few / many, Hungarian no plural after a number).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from duplex.ivr.languages import DEFAULT_LANGUAGE

__all__ = [
    "ANNOUNCEMENT_LANGUAGES",
    "announce_minutes",
    "announcement_language",
    "minutes_phrase",
    "position_announcement",
]


def _en_minutes(n: int) -> str:
    return f"{n} minute" if n == 1 else f"{n} minutes"


def _ro_minutes(n: int) -> str:
    # CLDR ro: one (1) "un minut"; few (0, and n % 100 in 1..19 except 1 itself) "N minute"; other "N de minute".
    if n == 1:
        return "un minut"
    number = _ro_neuter(n)
    if n == 0 or 1 <= n % 100 <= 19:
        return f"{number} minute"
    return f"{number} de minute"


def _ro_neuter(n: int) -> str:
    """N as espeak-ng should read it before a neuter plural: two is "două", twelve "douăsprezece"."""
    if n % 100 == 12:
        return "douăsprezece" if n == 12 else f"{n - 12} douăsprezece"
    if n % 10 == 2:
        if n == 2:
            return "două"
        return f"{n - 2} și două" if n % 100 > 20 else f"{n - 2} două"
    return str(n)


def _pt_minutes(n: int) -> str:
    return "1 minuto" if n == 1 else f"{n} minutos"


def _it_minutes(n: int) -> str:
    return "un minuto" if n == 1 else f"{n} minuti"


def _hu_minutes(n: int) -> str:
    return f"{n} perc"  # a noun after a number stays singular in Hungarian


def _ru_minutes(n: int) -> str:
    # CLDR ru: one (n % 10 == 1, n % 100 != 11) "минута"; few (n % 10 in 2..4, n % 100 not in 12..14) "минуты";
    # many "минут". "минута" is feminine: a last digit 1 or 2 is spoken "одна" / "две".
    last, last_two = n % 10, n % 100
    if last == 1 and last_two != 11:
        word = "минута"
    elif 2 <= last <= 4 and not 12 <= last_two <= 14:
        word = "минуты"
    else:
        word = "минут"
    if last in (1, 2) and last_two not in (11, 12):
        spoken = "одна" if last == 1 else "две"
        number = spoken if n < 10 else f"{n - last} {spoken}"
    else:
        number = str(n)
    return f"{number} {word}"


_MINUTES: dict[str, Callable[[int], str]] = {
    "en": _en_minutes,
    "ro": _ro_minutes,
    "pt": _pt_minutes,
    "it": _it_minutes,
    "hu": _hu_minutes,
    "ru": _ru_minutes,
}

# (position sentence with {position}, wait sentence with {minutes}, no-position sentence)
_SENTENCES: dict[str, tuple[str, str, str]] = {
    "en": (
        "You are number {position} in the queue.",
        "Your estimated wait is {minutes}.",
        "Please hold, an agent will be with you shortly.",
    ),
    "ro": (
        "Sunteți pe poziția {position} în coadă.",
        "Timpul estimat de așteptare este de {minutes}.",
        "Vă rugăm să așteptați, un agent vă va răspunde în curând.",
    ),
    "pt": (
        "Está na posição {position} da fila.",
        "O tempo de espera estimado é de {minutes}.",
        "Por favor, aguarde, um agente irá atendê-lo em breve.",
    ),
    "it": (
        "Lei è il numero {position} in coda.",
        "Il tempo di attesa stimato è di {minutes}.",
        "Resti in linea, un operatore le risponderà a breve.",
    ),
    "hu": (
        "Az Ön sorszáma a várakozási sorban: {position}.",
        "A becsült várakozási idő {minutes}.",
        "Kérjük, tartsa a vonalat, munkatársunk hamarosan jelentkezik.",
    ),
    "ru": (
        "Ваш номер в очереди: {position}.",
        "Примерное время ожидания: {minutes}.",
        "Пожалуйста, оставайтесь на линии, оператор скоро ответит.",
    ),
}

ANNOUNCEMENT_LANGUAGES = frozenset(_SENTENCES)


def announcement_language(queue_language: str | None, flow_language: str | None) -> str:
    """The language a waiting caller's announcements are spoken in: the queue's own (the queue node's
    ``language``) when it names one, else the language the caller's flow last spoke or the caller chose
    (``flow_language``), else English. A language without announcement sentences counts as not set."""
    for language in (queue_language, flow_language):
        if language is not None and language in ANNOUNCEMENT_LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def announce_minutes(wait_seconds: float) -> int:
    """Whole minutes announced for a wait: rounded up, at least one (nobody is promised "0 minutes")."""
    return max(1, math.ceil(wait_seconds / 60))


def minutes_phrase(language: str, minutes: int) -> str:
    """``minutes`` with the unit in ``language``'s plural form ("2 minutes", "două minute", "две минуты")."""
    return _MINUTES[language if language in _MINUTES else DEFAULT_LANGUAGE](minutes)


def position_announcement(language: str, position: int | None, wait_seconds: float | None) -> str:
    """What a waiting caller hears, in ``language`` (an unknown language falls back to English).

    ``position`` None: the call is being offered to an agent right now; ``wait_seconds`` None: no estimate
    (nobody staffed), so only the position is said.
    """
    lang = language if language in _SENTENCES else DEFAULT_LANGUAGE
    at_position, waiting, holding = _SENTENCES[lang]
    if position is None:
        return holding
    text = at_position.format(position=position)
    if wait_seconds is not None:
        text += " " + waiting.format(minutes=minutes_phrase(lang, announce_minutes(wait_seconds)))
    return text
