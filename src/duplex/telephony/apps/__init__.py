"""Built-in call applications: the demo numbers (echo test 1001, voicemail demo 1002) and placeholders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from duplex.telephony.apps.connecting import connecting
from duplex.telephony.apps.echo import echo
from duplex.telephony.apps.voicemail_demo import voicemail_demo
from duplex.telephony.call import Leg

__all__ = ["APPLICATIONS", "connecting", "echo", "voicemail_demo"]

APPLICATIONS: dict[str, Callable[[Leg], Awaitable[None]]] = {
    "echo": echo,
    "voicemail-demo": voicemail_demo,
}
