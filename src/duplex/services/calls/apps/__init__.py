"""Built-in call applications: the demo numbers (echo test 1001, voicemail demo 1002) and placeholders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from duplex.services.calls.apps.connecting import connecting
from duplex.services.calls.apps.echo import echo
from duplex.services.calls.apps.voicemail_demo import voicemail_demo
from duplex.services.calls.call import Leg

__all__ = ["APPLICATIONS", "connecting", "echo", "voicemail_demo"]

APPLICATIONS: dict[str, Callable[[Leg], Awaitable[None]]] = {
    "echo": echo,
    "voicemail-demo": voicemail_demo,
}
