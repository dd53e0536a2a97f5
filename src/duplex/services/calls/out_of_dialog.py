"""Requests outside any dialog, dispatched by method through a table.

OPTIONS is answered at once; REGISTER goes to the registration service; a new INVITE is screened
(`telephony.invite_screen`) and handed to the INVITE router the composition root gave the switch
(`inbound_router.InboundRouter`). BYE without a dialog gets 481, the other in-dialog methods 405, anything
else 501. The registration service and the router run in tasks: one that fails before a final response
answers 500 (RFC 3261 §21.5.1), so that the server transaction ends and the caller is not left ringing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from duplex.services.calls.call import CallControl
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.transaction_layer import TransactionLayer
from duplex.telephony.invite_screen import screen_invite

__all__ = ["ALLOW", "InviteRouter", "NewRequests", "NewRequestsHost"]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, INFO, NOTIFY, UPDATE"
InviteRouter = Callable[[CallControl, SipRequest, TransactionKey, Address], Coroutine[Any, Any, None]]
_IN_DIALOG_ONLY = ("BYE", "REFER", "INFO", "NOTIFY", "UPDATE")


class NewRequestsHost(CallControl, Protocol):
    """The switch: the router is handed it as `CallControl`; a failed task looks at its transaction."""

    @property
    def txl(self) -> TransactionLayer: ...
    def last_response(self, key: TransactionKey) -> SipResponse | None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class NewRequests:
    def __init__(self, host: NewRequestsHost, invite_router: InviteRouter) -> None:
        self.host = host
        self.invite_router = invite_router
        self._methods: dict[str, Callable[[SipRequest, TransactionKey, Address], None]] = {
            "OPTIONS": self._on_options,
            "REGISTER": self._on_register,
            "INVITE": self._on_invite,
        }

    def receive(self, request: SipRequest, key: TransactionKey, addr: Address) -> None:
        handler = self._methods.get(request.method)
        if handler is None:
            status = 405 if request.method in _IN_DIALOG_ONLY else 501
            self.host.respond(
                key, request, 481 if request.method == "BYE" else status, headers=(("Allow", ALLOW),)
            )
            return
        handler(request, key, addr)

    def _on_options(self, request: SipRequest, key: TransactionKey, addr: Address) -> None:
        self.host.respond(key, request, 200, headers=(("Allow", ALLOW), ("Accept", "application/sdp"),
                                                      ("Supported", "replaces"), ("Accept-Language", "en")))  # fmt: skip

    def _on_register(self, request: SipRequest, key: TransactionKey, addr: Address) -> None:
        host = self.host
        host.spawn(self._answered(host.registrations.handle(request, key, addr), key, request))

    def _on_invite(self, request: SipRequest, key: TransactionKey, addr: Address) -> None:
        rejection = screen_invite(request)
        if rejection is not None:
            self.host.respond(key, request, rejection.status, reason=rejection.reason)
            return
        self.host.spawn(self._answered(self.invite_router(self.host, request, key, addr), key, request))

    async def _answered(
        self, handling: Coroutine[Any, Any, None], key: TransactionKey, request: SipRequest
    ) -> None:
        """Run ``handling``; if it fails before a final response, answer 500 (RFC 3261 §21.5.1) so that the
        server transaction ends instead of holding its request forever, and the caller is not left ringing."""
        try:
            await handling
        except Exception:
            last = self.host.last_response(key)
            if key in self.host.txl.transactions and (last is None or last.status < 200):
                self.host.respond(key, request, 500)
            raise  # logged by the switch's task callback
