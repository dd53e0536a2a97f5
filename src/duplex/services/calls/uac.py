"""Outbound legs (we are the UAC): INVITE with our SDP offer, provisional and final responses, ACK for 2xx
(RFC 3261 §13.2.2.4), CANCEL before answer (§9.1), a no-answer timeout."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from duplex.media.sdp import SdpError, SessionDescription
from duplex.services.calls.call import SDP, Call, Leg, LegEvent, LegState
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.uri import SipUri
from duplex.telephony.legdialog import initial_invite, uac_dialog
from duplex.telephony.trunks import TrunkConfig

__all__ = ["OutboundLeg", "dial_trunk", "failure_reason", "originate"]

log = logging.getLogger("duplex.services.calls.uac")

_REASONS = {486: "busy", 600: "busy", 480: "no_answer", 408: "no_answer", 487: "cancelled", 404: "not_found",
            603: "declined", 488: "not_acceptable"}  # fmt: skip


def failure_reason(status: int | None) -> str:
    if status is None:
        return "timeout"
    return _REASONS.get(status, "failed")


class OutboundLeg(Leg):
    """A leg we call: an agent's phone, a trunk, a dialer target."""

    direction = "outbound"

    def __init__(self, call: Call, **kwargs: Any) -> None:
        control = call.control  # the Call-ID is chosen now so that leg.created carries it
        kwargs.setdefault("sip_call_id", f"{control.new_token(16)}@{control.public_ip}")
        super().__init__(call, **kwargs)
        self.key: TransactionKey | None = None
        self.last_ack: bytes | None = None
        self.invite_request: SipRequest | None = None
        self.ringing = asyncio.Event()
        self.early_media = asyncio.Event()  # a provisional response's SDP was applied (RFC 3960)
        self.final_status: int | None = None
        self._timeout: asyncio.TimerHandle | None = None

    async def invite(self, target: str, addr: Address | None, *, from_user: str = "duplex",
                     from_value: str | None = None, extra: tuple[tuple[str, str], ...] = (),
                     codecs: tuple[str, ...] | None = None, timeout: float = 30.0) -> None:  # fmt: skip
        """Send the INVITE (the result arrives through `answered`)."""
        control = self.control
        uri = SipUri.parse(target)
        if addr is None:
            addr = (uri.host, uri.port or 5060)
        await self.open_media()
        assert self.sdp is not None
        self._send_media(False)  # nothing is sent before the callee answers (RFC 3264 §6)
        if codecs:
            self.sdp.codecs = tuple(c.upper() for c in codecs)
        offer = self.sdp.create_offer()
        transport = control.transport_name(addr)
        secure = uri.scheme == "sips"  # a sips: target gets a sips: Contact (RFC 3261 §8.1.1.8)
        self.peer = addr
        request = initial_invite(
            target=uri, via=control.via(control.new_branch(), transport),
            call_id=self.sip_call_id, local_tag=control.new_token(10),
            local_uri=from_value or f"<sip:{from_user}@{control.public_ip}>", contact=control.contact(transport, secure=secure),
            headers=extra, body=bytes(offer), content_type=SDP,
        )  # fmt: skip
        control.register_dialog((request.call_id, request.from_tag or ""), self)
        self.invite_request = request
        self.key = control.send_request(request, addr, self._on_response)
        self._timeout = asyncio.get_running_loop().call_later(timeout, self._no_answer)

    def _no_answer(self) -> None:
        if self.state in (LegState.NEW, LegState.RINGING):
            self.control.spawn(self.hangup("no_answer"))

    def _on_response(self, response: SipResponse | None) -> None:
        if response is None:
            self._failed(None)
        elif response.status < 200:
            self._on_provisional(response)
        elif response.is_success:
            self._on_2xx(response)
        else:
            self._failed(response.status)

    def _early_media(self, response: SipResponse) -> None:
        """A provisional answer with SDP (early media, RFC 3960 gateway model): receive the callee's
        ringback, announcement or SIT tone on this leg (taps and detectors see it), but send nothing
        until the 2xx."""
        if self.sdp is None or self.negotiated is not None:
            return
        try:
            self.apply_media(self.sdp.process_answer(SessionDescription.parse(response.body)))
        except SdpError:
            return  # the 2xx carries the answer that counts
        self._send_media(False)
        self.early_media.set()

    def _on_provisional(self, response: SipResponse) -> None:
        if response.body and response.status > 100:
            self._early_media(response)
        if response.status in (180, 183) and self.state is LegState.NEW:
            self.transition(LegEvent.PROVISIONAL)
            self.ringing.set()
            self.emit("call.ringing", {"status": response.status})

    def _on_2xx(self, response: SipResponse) -> None:
        assert self.invite_request is not None and self.peer is not None
        self.dialog = uac_dialog(self.invite_request, response)
        self.last_ack = self.control.send_ack(self.dialog, response, self.peer)
        if self._timeout is not None:
            self._timeout.cancel()
        if self.state is LegState.ENDED:  # answered while we were cancelling: hang up at once
            self.control.spawn(self.request("BYE"))
            return
        if self.sdp is not None and response.body:
            try:
                self.apply_media(self.sdp.process_answer(SessionDescription.parse(response.body)))
            except SdpError:
                self.transition(LegEvent.ANSWER)
                self.control.spawn(self.hangup("not_acceptable"))
                return
        self._send_media(True)
        self.final_status = response.status
        self._mark_answered()

    def _failed(self, status: int | None) -> None:
        self.final_status = status
        if self._timeout is not None:
            self._timeout.cancel()
        self._finish(failure_reason(status), "remote", status if status is not None else 408)

    async def _hangup_early(self, reason: str) -> None:
        self._finish(reason, "duplex", 487)
        if self.key is not None:
            await self.control.store.committed()  # the CANCEL ends the call for the callee: record it first
            self.control.cancel(self.key)


async def originate(call: Call, target: str, *, contact: Address | None = None, trunk_id: int | None = None,
                    agent_id: int | None = None, kind: str = "outbound", from_user: str = "duplex",
                    from_value: str | None = None, extra: tuple[tuple[str, str], ...] = (),
                    codecs: tuple[str, ...] | None = None, timeout: float = 30.0) -> OutboundLeg:  # fmt: skip
    """Start an outbound leg of ``call`` to ``target`` via ``contact`` (the address to send to), or through
    the trunk ``trunk_id`` (then ``target`` may be a bare number; the trunk's first address is used).

    Returns the leg at once; await ``leg.answered`` (True when answered, False when it failed).
    """
    if trunk_id is not None and contact is None:
        trunk = next((t for t in call.control.directory.trunks if t.id == trunk_id), None)
        if trunk is None:
            raise ValueError(f"no trunk with id {trunk_id}")
        addresses = await call.control.trunk_addresses(trunk)
        if not addresses:
            raise ValueError(f"trunk {trunk.name} has no address to call")
        first = addresses[0]  # a DNS name: its first address
        return await dial_trunk(call, trunk, first, target, agent_id=agent_id, kind=kind, from_user=from_user,
                                from_value=from_value, extra=extra, codecs=codecs, timeout=timeout)  # fmt: skip
    leg = OutboundLeg(call, kind=kind, remote_uri=target, agent_id=agent_id, trunk_id=trunk_id)
    await leg.invite(target, contact, from_user=from_user, from_value=from_value, extra=extra, codecs=codecs,
                     timeout=timeout)  # fmt: skip
    return leg


async def dial_trunk(call: Call, trunk: TrunkConfig, addr: Address, target: str, *, kind: str = "trunk",
                     **options: Any) -> OutboundLeg:  # fmt: skip
    """The one way out through a carrier: reach ``addr`` (one of the trunk host's addresses) over the trunk's
    transport and INVITE ``target`` (a number becomes ``sip:<number>@<trunk host>:<port>``)."""
    call.control.use_stream(addr, trunk.transport, trunk.host)  # tcp/tls: reuse (or open) the stream
    if not target.startswith(("sip:", "sips:")):
        target = f"sip:{target}@{trunk.host}:{trunk.port}"
    return await originate(call, target, contact=addr, trunk_id=trunk.id, kind=kind, **options)
