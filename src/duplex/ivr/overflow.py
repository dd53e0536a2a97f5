"""The nodes a queue's own overflow action runs when the flow's queue node does not override it.

A queue configured to overflow to voicemail or to a callback offer hands the call back to its flow with that
action (`QueueResult.target`). When the queue node has no ``on_overflow`` / ``on_timeout`` of its own, the run
enters these nodes, built like any flow's: a voicemail node (message -> the queue's webhook), or a menu offering
a callback that keeps the caller's place. Their ids start with ``queue:``, which no flow node id can (the
schema allows ``[A-Za-z0-9_.-]``), so the record shows which the queue chose (``ivr.node_entered``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CALLBACK_OFFER", "VOICEMAIL", "overflow_nodes"]

VOICEMAIL = "queue:voicemail"
CALLBACK_OFFER = "queue:callback_offer"
_CALLBACK_REQUEST = "queue:callback_request"
_CALLBACK_CONFIRMED = "queue:callback_confirmed"
_DECLINED = "queue:callback_declined"
_END = "queue:end"
_END_CALLBACK = "queue:end_callback"

_LEAVE_MESSAGE = {
    "en": "All our agents are busy. Please leave a message after the tone.",
    "ro": "Toți agenții noștri sunt ocupați. Vă rugăm să lăsați un mesaj după semnalul sonor.",
    "pt": "Todos os nossos agentes estão ocupados. Por favor, deixe uma mensagem após o sinal.",
    "it": "Tutti i nostri operatori sono occupati. Lasci un messaggio dopo il segnale.",
    "hu": "Minden munkatársunk foglalt. Kérjük, hagyjon üzenetet a sípszó után.",
    "ru": "Все операторы заняты. Пожалуйста, оставьте сообщение после сигнала.",
}
_OFFER = {
    "en": "All our agents are busy. To be called back on this number without losing your place, press 1.",
    "ro": "Toți agenții noștri sunt ocupați. Pentru a fi sunat înapoi la acest număr fără să vă pierdeți "
    "locul, apăsați 1.",
    "pt": "Todos os nossos agentes estão ocupados. Para lhe ligarmos de volta para este número sem perder a "
    "sua vez, prima 1.",
    "it": "Tutti i nostri operatori sono occupati. Per essere richiamati a questo numero senza perdere il "
    "turno, premere 1.",
    "hu": "Minden munkatársunk foglalt. Ha visszahívást kér erre a számra a helye megtartásával, nyomja "
    "meg az 1-est.",
    "ru": "Все операторы заняты. Чтобы мы перезвонили вам на этот номер, сохранив вашу очередь, нажмите 1.",
}
_CONFIRMED = {
    "en": "Thank you. An agent will call you back as soon as it is your turn. Goodbye.",
    "ro": "Vă mulțumim. Un agent vă va suna înapoi când vine rândul dumneavoastră. La revedere.",
    "pt": "Obrigado. Um agente irá ligar-lhe quando chegar a sua vez. Adeus.",
    "it": "Grazie. Un operatore la richiamerà quando sarà il suo turno. Arrivederci.",
    "hu": "Köszönjük. Amikor Ön következik, munkatársunk visszahívja. Viszonthallásra.",
    "ru": "Спасибо. Оператор перезвонит вам, когда подойдёт ваша очередь. До свидания.",
}
_GOODBYE = {
    "en": "Please call again later. Goodbye.",
    "ro": "Vă rugăm să sunați din nou mai târziu. La revedere.",
    "pt": "Por favor, ligue mais tarde. Adeus.",
    "it": "La preghiamo di richiamare più tardi. Arrivederci.",
    "hu": "Kérjük, hívjon később. Viszonthallásra.",
    "ru": "Пожалуйста, перезвоните позже. До свидания.",
}


def overflow_nodes(queue: str | int, voicemail_webhook: str | None) -> dict[str, Mapping[str, Any]]:
    """The nodes of both actions for a call that overflowed ``queue``; the run enters `VOICEMAIL` or
    `CALLBACK_OFFER`."""
    voicemail: dict[str, Any] = {"type": "voicemail", "prompt": {"say": _LEAVE_MESSAGE}, "max_seconds": 120,
                                 "mailbox": str(queue)}  # fmt: skip
    if voicemail_webhook:
        voicemail["webhook"] = voicemail_webhook
    return {
        VOICEMAIL: voicemail,
        CALLBACK_OFFER: {
            "type": "menu",
            "prompt": {"say": _OFFER},
            "options": {"1": _CALLBACK_REQUEST},
            "timeout_seconds": 6,
            "max_retries": 1,
            "on_timeout": _DECLINED,
            "on_invalid": _DECLINED,
        },
        # at_head: the caller waited the queue's max wait already; the callback takes the place at the head.
        _CALLBACK_REQUEST: {"type": "callback", "queue": queue, "next": _CALLBACK_CONFIRMED, "at_head": True},
        _CALLBACK_CONFIRMED: {"type": "say", "text": _CONFIRMED, "next": _END_CALLBACK},
        _DECLINED: {"type": "say", "text": _GOODBYE, "next": _END},
        _END: {"type": "hangup", "reason": "queue_overflow"},
        _END_CALLBACK: {"type": "hangup", "reason": "callback_requested"},
    }
