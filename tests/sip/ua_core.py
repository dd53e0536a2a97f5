"""A minimal UA core (RFC 3261 §8, §12-§15) for the dialog tests: a TU on the transaction layer that owns dialogs.

The server's only transaction user is `duplex.services.calls.switch.Switch`; this one drives the dialog and
transaction cores in memory, so the RFC flows can be tested without the call layer.

Rules of this module (h11 style):

1. Sans-IO: bytes in via ``receive_data(data, addr, now)``, bytes out via ``datagrams_to_send()``, events via
   ``next_event()``/``events()``, time via ``get_timer()``/``handle_timer(now)``.
2. The core does what the RFC makes mandatory for a UA core (ACK for 2xx and its retransmission, 2xx
   retransmission until ACK, 481/500 for bad in-dialog requests, 200 to BYE) and passes everything else up.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from duplex.sip.dialog import Dialog, DialogId, DialogLayer, DialogState
from duplex.sip.errors import LocalProtocolError
from duplex.sip.events import (
    AckReceived,
    AckTimeout,
    Address,
    CancelReceived,
    DialogEstablished,
    DialogTerminated,
    Event,
    RequestReceived,
    ResponseReceived,
    StrayResponseReceived,
    TransactionKey,
    TransactionTerminated,
    TransactionTimeout,
)
from duplex.sip.headers import Headers, via_for
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.message import make_response as build_response
from duplex.sip.retransmit import SuccessRetransmitter
from duplex.sip.timers import DEFAULT_TIMERS, TimerConfig
from duplex.sip.transaction_layer import TransactionLayer
from duplex.sip.uri import NameAddr, SipUri

__all__ = ["UserAgentCore", "uri_address"]


def uri_address(uri: SipUri) -> Address:
    """The transport address of a SIP URI with a literal host (no RFC 3263 DNS lookups here)."""
    return (uri.host, uri.port if uri.port is not None else 5060)


class UserAgentCore:
    """A UAC+UAS core over one :class:`TransactionLayer` and one :class:`DialogLayer`.

    Args:
        local_uri: our address of record (From of requests we originate).
        contact: our Contact (remote target for the peer).
        sent_by: host and port put into our Via headers.
        rng: the only randomness (tags, Call-IDs, branches).
        timers: RFC 3261 timer values.
        transport: Via transport token (UDP, TCP, TLS, WS).
        reliable: True for stream transports (no transaction retransmissions).
    """

    def __init__(
        self,
        *,
        local_uri: NameAddr,
        contact: NameAddr,
        sent_by: Address,
        rng: random.Random,
        timers: TimerConfig = DEFAULT_TIMERS,
        transport: str = "UDP",
        reliable: bool = False,
    ) -> None:
        self.local_uri = local_uri
        self.contact = contact
        self.sent_by = sent_by
        self.transport = transport
        self.timers = timers
        self.transactions = TransactionLayer(rng=rng, timers=timers, reliable=reliable)
        self.dialogs = DialogLayer()
        self._retransmitters: dict[DialogId, SuccessRetransmitter] = {}
        self._acks: dict[DialogId, tuple[SipRequest, Address]] = {}
        self._client: dict[TransactionKey, tuple[SipRequest, DialogId | None]] = {}
        self._server: dict[TransactionKey, tuple[SipRequest, Address, str]] = {}
        self._events: deque[Event] = deque()
        self._handlers: Mapping[type[Any], Callable[[Any, float], None]] = {
            RequestReceived: self._on_request,
            ResponseReceived: self._on_response,
            StrayResponseReceived: self._on_stray_response,
            AckReceived: self._on_ack,
            TransactionTimeout: self._on_timeout,
            TransactionTerminated: self._on_terminated,
            CancelReceived: self._on_cancel,
        }

    # -- outputs ---------------------------------------------------------------------------------------
    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        return self.transactions.datagrams_to_send()

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        out = list(self._events)
        self._events.clear()
        return out

    def get_timer(self) -> float | None:
        deadlines = [r.get_timer() for r in self._retransmitters.values()] + [self.transactions.get_timer()]
        return min((d for d in deadlines if d is not None), default=None)

    # -- inputs ----------------------------------------------------------------------------------------
    def receive_data(self, data: bytes, addr: Address, now: float) -> None:
        self.transactions.receive_data(data, addr, now)
        self._pump(now)

    def handle_timer(self, now: float) -> None:
        self.transactions.handle_timer(now)
        for dialog_id, retransmitter in list(self._retransmitters.items()):
            deadline = retransmitter.get_timer()
            if deadline is None or deadline > now:
                continue
            for response in retransmitter.handle_timer(now):
                self.transactions.send_stateless(response, retransmitter.addr)
            if retransmitter.timed_out:
                self._on_ack_timeout(dialog_id, now)
        self._pump(now)

    # -- UAC API ---------------------------------------------------------------------------------------
    def via(self) -> str:
        """A fresh top Via with a new branch (RFC 3261 §8.1.1.7) and rport (RFC 3581)."""
        host, port = self.sent_by
        return via_for(self.transport, host, port, self.transactions.new_branch())

    def invite(
        self,
        target: SipUri,
        addr: Address,
        now: float,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> TransactionKey:
        """Send an initial INVITE (RFC 3261 §8.1.1, §13.2.1) to ``target`` via ``addr``."""
        return self.send_out_of_dialog("INVITE", target, addr, now, body=body, headers=headers)

    def send_out_of_dialog(
        self,
        method: str,
        target: SipUri,
        addr: Address,
        now: float,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> TransactionKey:
        """Send a request outside any dialog: new Call-ID, From tag and CSeq 1 (§8.1.1)."""
        out = Headers()
        out.add("Via", self.via())
        out.add("Max-Forwards", "70")
        out.add("From", str(self.local_uri.with_tag(self.transactions.new_token(10))))
        out.add("To", str(NameAddr(target)))
        out.add("Call-ID", f"{self.transactions.new_token(20)}@{self.sent_by[0]}")
        out.add("CSeq", f"1 {method}")
        out.add("Contact", str(self.contact))
        for name, value in headers:
            out.add(name, value)
        request = SipRequest(method, target, out, body)
        key = self.transactions.send_request(request, addr, now)
        self._client[key] = (request, None)
        self._pump(now)
        return key

    def request(
        self,
        dialog_id: DialogId,
        method: str,
        now: float,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> TransactionKey:
        """Send BYE, re-INVITE, INFO, REFER, NOTIFY, UPDATE ... within a dialog (§12.2.1.1).

        Raises:
            LocalProtocolError: unknown or terminated dialog (481).
        """
        dialog = self.dialogs.get(dialog_id)
        if dialog is None:
            raise LocalProtocolError(f"no dialog {dialog_id}", 481)
        request = dialog.create_request(method, via=self.via(), headers=headers, body=body)
        key = self.transactions.send_request(request, uri_address(dialog.next_hop()), now)
        self._client[key] = (request, dialog_id)
        self._pump(now)
        return key

    def bye(self, dialog_id: DialogId, now: float) -> TransactionKey:
        """End a confirmed dialog (RFC 3261 §15.1.1)."""
        return self.request(dialog_id, "BYE", now)

    def cancel(self, invite_key: TransactionKey, now: float) -> TransactionKey | None:
        """CANCEL a pending INVITE (RFC 3261 §9.1); deferred until a provisional response arrives."""
        key = self.transactions.cancel(invite_key, now)
        self._pump(now)
        return key

    # -- UAS API ---------------------------------------------------------------------------------------
    def respond(
        self,
        key: TransactionKey,
        status: int,
        now: float,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> DialogId | None:
        """Answer the request of server transaction ``key``; 101-299 to INVITE create/confirm the dialog.

        Returns:
            the dialog ID when the response belongs to a dialog, else None.
        """
        if key not in self._server:
            raise LocalProtocolError(f"no pending request for server transaction {key}", 481)
        request, addr, tag = self._server[key]
        extra = list(headers)
        dialog: Dialog | None = None
        if request.method == "INVITE" and 100 < status < 300:
            dialog = self._uas_dialog(request, tag, early=status < 200)
            extra.insert(0, ("Contact", str(self.contact)))
        local_tag = None if request.to_tag is not None or status == 100 else tag
        response = build_response(request, status, to_tag=local_tag, headers=extra, body=body)
        self.transactions.send_response(key, response, now)
        if dialog is not None and status >= 200:
            # §13.3.1.4: "the UAS core ... MUST periodically pass the response to the transport until an
            # ACK is received".
            self._retransmitters[dialog.id] = SuccessRetransmitter(
                response, addr, now=now, timers=self.timers
            )
        elif request.method == "INVITE" and status >= 300 and request.to_tag is None:
            self._drop_dialog((request.call_id, tag, request.from_tag or ""), "rejected")
        self._pump(now)
        return dialog.id if dialog is not None else None

    def _uas_dialog(self, request: SipRequest, tag: str, *, early: bool) -> Dialog:
        existing = self.dialogs.for_request(request)
        if request.to_tag is not None and existing is not None:
            return existing  # re-INVITE inside a confirmed dialog
        dialog = self.dialogs.get((request.call_id, tag, request.from_tag or ""))
        if dialog is None:
            dialog = Dialog.from_uas_request(request, local_tag=tag, local_contact=self.contact, early=early)
            self.dialogs.add(dialog)
        elif not early and dialog.state is DialogState.EARLY:
            dialog.state = DialogState.CONFIRMED
        else:
            return dialog
        self._events.append(DialogEstablished(dialog_id=dialog.id, early=early))
        return dialog

    # -- transaction-layer events ----------------------------------------------------------------------
    def _pump(self, now: float) -> None:
        while (event := self.transactions.next_event()) is not None:
            handler = self._handlers.get(type(event))
            if handler is None:
                self._events.append(event)
            else:
                handler(event, now)

    def _on_request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        self._server[event.key] = (request, event.addr, request.to_tag or self.transactions.new_token(8))
        if request.method == "INVITE" and not request.contacts:
            # §8.1.1.8: "The Contact header field MUST be present and contain exactly one SIP or SIPS URI in
            # any request that can result in the establishment of a dialog."
            self.respond(event.key, 400, now)
            return
        if request.to_tag is None:
            self._events.append(event)
            return
        dialog, status = self.dialogs.check_request(request)
        if status is not None:
            self.respond(event.key, status, now)
        elif request.method == "BYE" and dialog is not None:
            # §15.1.2: "the UAS core ... SHOULD terminate the session ... and generate a 2xx response".
            self.respond(event.key, 200, now)
            self._retransmitters.pop(dialog.id, None)
            self._events.append(DialogTerminated(dialog_id=dialog.id, reason="BYE"))
        else:
            self._events.append(event)

    def _on_response(self, event: ResponseReceived, now: float) -> None:
        request, dialog_id = self._client.get(event.key, (None, None))
        response = event.response
        if request is None:
            return
        if request.method == "INVITE" and self._on_invite_response(request, response, now):
            return
        if dialog_id is not None and response.status >= 200 and request.method != "INVITE":
            dialog = self.dialogs.get(dialog_id)
            if dialog is not None:
                dialog.receive_response(request.method, response)
                if dialog.terminated:
                    self._drop_dialog(dialog_id, f"{response.status} to {request.method}")
        self._events.append(event)

    def _on_invite_response(self, request: SipRequest, response: SipResponse, now: float) -> bool:
        """Dialog bookkeeping for responses to INVITE; True if the response was a retransmission."""
        dialog = self.dialogs.for_response(response)
        if response.status >= 300:
            if request.to_tag is None:
                for early in self.dialogs.dialog_set(request.call_id, request.from_tag or ""):
                    if early.state is DialogState.EARLY:
                        self._drop_dialog(early.id, f"{response.status} to INVITE")
            elif dialog is not None:
                dialog.receive_response("INVITE", response)
            return False
        if response.to_tag is None or response.status == 100:
            return False
        if response.status < 200:
            if dialog is None and request.to_tag is None and response.contacts:
                dialog = self.dialogs.add(Dialog.from_uac_response(request, response))
                self._events.append(DialogEstablished(dialog_id=dialog.id, early=True))
            return False
        return self._on_invite_2xx(request, response, dialog)

    def _on_invite_2xx(self, request: SipRequest, response: SipResponse, dialog: Dialog | None) -> bool:
        if dialog is not None and self._acked(dialog.id, response):
            self._resend_ack(dialog.id)
            return True
        if dialog is None:
            if not response.contacts:
                return False  # a 2xx without Contact cannot form a dialog; the TU sees it as is
            dialog = self.dialogs.add(Dialog.from_uac_response(request, response))
            self._events.append(DialogEstablished(dialog_id=dialog.id, early=False))
        elif dialog.state is DialogState.EARLY:
            dialog.confirm(response)
            self._events.append(DialogEstablished(dialog_id=dialog.id, early=False))
        else:
            dialog.receive_response("INVITE", response)
        # §13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx received from the transaction
        # layer ... constructed in the same way as for any request sent within a dialog ... with the
        # exception of the CSeq".
        ack = dialog.create_request("ACK", via=self.via(), cseq=response.cseq.number)
        self._acks[dialog.id] = (ack, uri_address(dialog.next_hop()))
        self._resend_ack(dialog.id)
        return False

    def _acked(self, dialog_id: DialogId, response: SipResponse) -> bool:
        """True if we already ACKed a 2xx to this INVITE (same dialog and CSeq): a retransmission."""
        sent = self._acks.get(dialog_id)
        return sent is not None and sent[0].cseq.number == response.cseq.number

    def _resend_ack(self, dialog_id: DialogId) -> None:
        ack, addr = self._acks[dialog_id]
        self.transactions.send_stateless(ack, addr)

    def _on_stray_response(self, event: StrayResponseReceived, now: float) -> None:
        # §13.2.2.4: retransmissions of the 2xx "MUST ... cause the UAC to retransmit the ACK".
        dialog = self.dialogs.for_response(event.response)
        if dialog is not None and self._acked(dialog.id, event.response):
            self._resend_ack(dialog.id)

    def _on_ack(self, event: AckReceived, now: float) -> None:
        dialog = self.dialogs.for_request(event.request)
        if dialog is None:
            return
        retransmitter = self._retransmitters.pop(dialog.id, None)
        if retransmitter is not None:
            retransmitter.ack_received()
            self._events.append(event)

    def _on_ack_timeout(self, dialog_id: DialogId, now: float) -> None:
        # §13.3.1.4: "the dialog is confirmed, but the session SHOULD be terminated. This is accomplished
        # with a BYE, as described in Section 15."
        self._retransmitters.pop(dialog_id, None)
        self._events.append(AckTimeout(dialog_id=dialog_id))
        if dialog_id in self.dialogs.dialogs:
            self.bye(dialog_id, now)

    def _on_timeout(self, event: TransactionTimeout, now: float) -> None:
        request, dialog_id = self._client.get(event.key, (None, None))
        self._events.append(event)
        if dialog_id is not None:
            # §12.2.1.2: a 408 (or timeout) for an in-dialog request SHOULD terminate the dialog.
            self._drop_dialog(dialog_id, "timeout")
        elif request is not None and request.method == "INVITE":
            for early in self.dialogs.dialog_set(request.call_id, request.from_tag or ""):
                self._drop_dialog(early.id, "timeout")

    def _on_cancel(self, event: CancelReceived, now: float) -> None:
        # §9.2: the INVITE was answered 487 by the transaction layer, so its early dialog is gone.
        pending = self._server.get(event.invite_key)
        if pending is not None:
            request, _, tag = pending
            self._drop_dialog((request.call_id, tag, request.from_tag or ""), "CANCEL")
        self._events.append(event)

    def _on_terminated(self, event: TransactionTerminated, now: float) -> None:
        self._client.pop(event.key, None)
        self._server.pop(event.key, None)
        self._events.append(event)

    def _drop_dialog(self, dialog_id: DialogId, reason: str) -> None:
        dialog = self.dialogs.remove(dialog_id)
        self._acks.pop(dialog_id, None)
        self._retransmitters.pop(dialog_id, None)
        if dialog is not None:
            dialog.state = DialogState.TERMINATED
            self._events.append(DialogTerminated(dialog_id=dialog_id, reason=reason))
