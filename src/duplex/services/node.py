"""The composition root of a node's call side: the SIP switch with its media backend, INVITE router and
applications.

`duplex.server` (and the tests that run a switch) build the switch here, so the router and the application
table are chosen in one place and passed down; nothing in the call layer imports them back.
"""

from __future__ import annotations

from typing import Any

from duplex.config import Settings
from duplex.services.calls.apps import APPLICATIONS, connecting
from duplex.services.calls.inbound_router import InboundRouter
from duplex.services.calls.switch import Switch
from duplex.stores.call_store import TelephonyStore

__all__ = ["build_switch"]


def build_switch(settings: Settings, store: TelephonyStore, **options: Any) -> Switch:
    """A `Switch` routing INVITEs to the demo applications, agents and trunks; ``options`` go to `Switch`."""
    return Switch(
        settings, store, invite_router=InboundRouter(APPLICATIONS, placeholder=connecting), **options
    )
