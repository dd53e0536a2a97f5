"""What the call layer may ask of the SIP switch, one role per protocol.

`switch.Switch` implements every role. A function or class of the call layer types the ``control`` it is
given with the roles it uses, so it can be read knowing only those:

* `Answering`: answer (or drop) a request; `Signalling` adds the rest of the transactions a leg uses.
* `Addressing`: how the node names itself in a message and reaches a peer.
* `PhoneBook`: who is where: the directory of agents, numbers and trunks, and the phones' registrations;
  `PhoneReach` adds what ringing a registered phone takes (its stream, our address in the From).
* `TrunkAccess`: the carriers: trunk selection and pacing, the addresses of a trunk's host.
* `NodeResources`: the node's settings, event store, media backends, randomness, clock and tasks.

The live calls and dialogs (`call.CallRegistry`) name `Leg` and `Call`, so that role and `call.CallControl`,
the sum of all of them that a `Call` is given, live in `call.py`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from duplex.config import Settings
from duplex.media.session import MediaBackend
from duplex.services.registrar_service import RegistrationService
from duplex.sip.dialog import Dialog
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, SipResponse
from duplex.stores.call_store import Directory, TelephonyStore
from duplex.telephony.trunks import TrunkConfig, TrunkSelector

__all__ = [
    "Addressing",
    "Answering",
    "NodeResources",
    "PhoneBook",
    "PhoneReach",
    "Signalling",
    "TrunkAccess",
    "agent_phone_at",
]


class Answering(Protocol):
    """Answer a request in the server transaction the switch holds for it, or drop it unanswered."""

    def respond(self, key: TransactionKey, request: SipRequest, status: int, *, reason: str | None = None,
                headers: tuple[tuple[str, str], ...] = (), to_tag: str | None = None) -> None: ...  # fmt: skip
    def abandon(self, key: TransactionKey) -> None: ...


class Signalling(Answering, Protocol):
    """The transactions a leg uses (RFC 3261 §17): responses, 2xx kept until their ACK, requests, ACKs and
    CANCEL. The switch owns the transactions; a leg only holds their keys."""

    @property
    def allow(self) -> str: ...  # the Allow header value
    def respond_2xx(self, key: TransactionKey, request: SipRequest, body: bytes, dialog: Dialog | None,
                    addr: Address) -> None: ...  # fmt: skip
    def send_2xx(self, key: TransactionKey, response: SipResponse, addr: Address) -> None: ...
    def send_response(self, key: TransactionKey, response: SipResponse) -> None: ...
    def send_request(
        self, request: SipRequest, addr: Address, callback: Callable[[SipResponse | None], None]
    ) -> TransactionKey: ...
    async def request(self, request: SipRequest, addr: Address) -> SipResponse | None: ...
    def send_ack(self, dialog: Dialog, response: SipResponse, addr: Address) -> bytes: ...
    def cancel(self, key: TransactionKey) -> None: ...


class Addressing(Protocol):
    """How the node names itself (Contact, Via, tags, branches) and which transport reaches a peer."""

    @property
    def public_ip(self) -> str: ...
    @property
    def port(self) -> int: ...
    def new_token(self, length: int) -> str: ...
    def new_branch(self) -> str: ...
    def contact(self, transport: str = "UDP", *, secure: bool = False) -> str: ...
    def via(self, branch: str, transport: str = "UDP") -> str: ...
    def transport_name(self, addr: Address) -> str: ...
    def use_stream(self, addr: Address, transport: str, server_name: str | None = None) -> None: ...


class PhoneBook(Protocol):
    """Who is where: agents, numbers and trunks (the directory, reloaded on demand) and where each phone is
    registered (registrations are looked up at ``now()``)."""

    @property
    def directory(self) -> Directory: ...
    @property
    def registrations(self) -> RegistrationService: ...
    def now(self) -> float: ...
    async def refresh_directory(self, *, force: bool = False) -> Directory: ...


def agent_phone_at(book: PhoneBook, addr: Address) -> int | None:
    """The agent whose phone registered from ``addr`` (a request from there is that phone's: calls to the
    center's numbers and to extensions are not challenged, so they carry no agent of their own)."""
    now = book.now()
    for agent in book.directory.agents:
        for binding in book.registrations.lookup(agent.sip_username, now):
            if (binding.source.host, binding.source.port) == (addr[0], addr[1]):
                return agent.id
    return None


class PhoneReach(PhoneBook, Addressing, Protocol):
    """Ringing a registered phone: look up its bindings, reuse (or reopen) the stream it registered over,
    and name this node in the From of the INVITE."""


class TrunkAccess(Protocol):
    """The carriers: which trunk a call uses (CPS, channels, failover at ``now()``) and where its host is."""

    @property
    def trunks(self) -> TrunkSelector: ...
    def now(self) -> float: ...
    async def trunk_addresses(self, trunk: TrunkConfig) -> list[Address]: ...
    def trunk_address_failed(self, addr: Address) -> None: ...


class NodeResources(Protocol):
    """The node's shared services: settings, the event store, the media backends (``webrtc_media`` for
    browser legs, when the node has one), the one randomness source, the loop's clock and its tasks."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> TelephonyStore: ...
    @property
    def media(self) -> MediaBackend: ...
    @property
    def webrtc_media(self) -> MediaBackend | None: ...
    @property
    def rng(self) -> random.Random: ...
    def now(self) -> float: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    def recording_path(self, path: Path) -> str: ...
