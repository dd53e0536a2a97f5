"""Inbound legs (we are the UAS): 180 Ringing, 200 OK with the SDP answer (retransmitted until the ACK by the
control's sans-IO `acks.AckWaiters`, RFC 3261 §13.3.1.4), rejection, CANCEL (487 is sent by the transaction
layer, RFC 3261 §9.2).

Our responses to a call an authenticated agent's phone places (a leg of kind "agent") carry the call's id in
`X-Duplex-Call-Id`, as the INVITEs to an agent's phone do (`b2bua.call_info_headers`): the browser desktop
ties its screen pop, notes and dispositions to the call by it. Callers from outside are not told it."""

from __future__ import annotations

import logging

from duplex.media.offer_answer import is_webrtc_offer
from duplex.media.sdp import SdpError, SessionDescription
from duplex.services.calls.call import SDP, Call, Leg, LegEvent, LegState
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, SipResponse, make_response
from duplex.telephony.legdialog import USER_AGENT, uas_dialog

__all__ = ["InboundLeg"]

log = logging.getLogger("duplex.services.calls.uas")

_EARLY_STATUS = {"busy": 486, "no_answer": 480, "declined": 603, "not_found": 404, "unavailable": 480}


class InboundLeg(Leg):
    """The caller's leg of an inbound call, created from the initial INVITE."""

    direction = "inbound"

    def __init__(self, call: Call, invite: SipRequest, key: TransactionKey, addr: Address, *,
                 kind: str = "caller", agent_id: int | None = None, trunk_id: int | None = None) -> None:  # fmt: skip
        super().__init__(call, kind=kind, remote_uri=invite.headers.required("From"), agent_id=agent_id,
                         trunk_id=trunk_id, sip_call_id=invite.call_id)  # fmt: skip
        self.invite = invite
        self.key = key
        self.addr = addr
        self.local_tag = self.control.new_token(10)
        self.offer: SessionDescription | None = None
        self._answer_body = b""
        self.acked = False
        self.peer = addr
        self.control.server_legs[key] = self

    async def prepare(self, direction: str = "sendrecv") -> int | None:
        """Open media and answer the SDP offer; returns an error status (400/488) instead of raising."""
        if not self.invite.contacts or self.invite.from_tag is None:
            return 400  # RFC 3261 §8.1.1.8: an INVITE "MUST" carry a Contact (and §8.1.1.3 a From tag)
        try:
            self.offer = SessionDescription.parse(self.invite.body) if self.invite.body else None
        except SdpError as exc:
            return exc.status_code
        webrtc = self.offer is not None and is_webrtc_offer(self.offer)
        try:  # a browser's offer goes to the WebRTC backend, which answers it (488 if it cannot)
            await self.open_media(
                webrtc=webrtc, offer=self.invite.body.decode("utf-8", "replace") if webrtc else None
            )
        except SdpError as exc:
            return exc.status_code
        assert self.sdp is not None
        if self.offer is None:
            self._answer_body = bytes(self.sdp.create_offer(direction))  # offer in 200, answer in ACK
            return None
        try:
            answer, negotiated = self.sdp.create_answer(self.offer, direction)
        except SdpError as exc:
            return exc.status_code
        self.apply_media(negotiated)
        self._send_media(False)  # until our 200 carries the answer (the caller rings meanwhile)
        self._answer_body = bytes(answer)
        return None

    @property
    def codecs(self) -> tuple[str, ...]:
        """The codec chosen for this leg (what a B2BUA offers to the other side to avoid transcoding)."""
        return (self.negotiated.codec,) if self.negotiated is not None else ("PCMU", "PCMA")

    def ring(self, status: int = 180) -> None:
        if self.state is not LegState.NEW:
            return
        self.transition(LegEvent.PROVISIONAL)
        self._respond(status)
        self.emit("call.ringing", {"status": status})

    def early_media(self) -> bool:
        """183 Session Progress carrying our SDP answer and start sending (RFC 3960 gateway model: the far
        side of a B2BUA plays ringback or an announcement). The 200 repeats the same answer (RFC 3261
        §13.2.1: later responses carry the identical SDP). False when there is no offer to answer (an
        INVITE without SDP) or the leg is past ringing."""
        if self.state not in (LegState.NEW, LegState.RINGING) or self.offer is None or self.media is None:
            return False
        ringing = self.state is LegState.RINGING
        self.transition(LegEvent.PROVISIONAL)
        self.control.send_response(self.key, self._response(183, self._answer_body))
        self._send_media(True)
        if not ringing:
            self.emit("call.ringing", {"status": 183})
        return True

    def end_early_media(self) -> None:
        """Back to no RTP before our 200 (the far leg with early media failed; another may follow)."""
        if self.state is LegState.RINGING:
            self._send_media(False)

    def _contact(self) -> str:
        """A sips: Contact when the INVITE came for a sips: URI (over TLS), RFC 3261 §12.1.1."""
        secure = getattr(self.invite.uri, "scheme", "sip") == "sips"
        return self.control.contact(self.invite.top_via.transport, secure=secure)

    def _response(
        self, status: int, body: bytes = b"", extra: tuple[tuple[str, str], ...] = ()
    ) -> SipResponse:
        headers = [("Contact", self._contact()), ("User-Agent", USER_AGENT), ("Allow", self.control.allow),
                   *extra]  # fmt: skip
        if self.kind == "agent":  # an agent's phone placed the call: its desktop finds the call by this id
            headers.append(("X-Duplex-Call-Id", self.call.id))
        if body:
            headers.append(("Content-Type", SDP))
        return make_response(self.invite, status, to_tag=self.local_tag, headers=headers, body=body)

    def _respond(self, status: int) -> None:
        self.control.send_response(self.key, self._response(status))

    async def answer(self) -> None:
        if self.state in (LegState.ANSWERED, LegState.ENDED):
            return
        if self.media is None:
            status = await self.prepare()
            if status is not None:
                await self.reject(status)
                return
            if self.ended.is_set():  # cancelled while the media was being set up
                return
        self.dialog = uas_dialog(self.invite, self.local_tag, self._contact())
        self.control.register_dialog((self.dialog.call_id, self.dialog.local_tag), self)
        self._mark_answered()
        self.call.mark_answered(self)
        # the 200 tells the caller the call is answered: only once that is recorded (a crash in between
        # leaves a call the caller never saw answered, which the next start closes)
        recorded = await self.control.store.committed()
        if not self.is_up:  # ended while the answer was being recorded: the caller never saw it
            if self.end_reason != "caller_cancel":  # (a CANCEL got its 487 from the transaction layer)
                self._respond(480)
            return
        if not recorded:
            self._respond(503)
            self._finish("not_recorded", "duplex", 503)
            return
        self.control.send_2xx(self.key, self._response(200, self._answer_body), self.addr)
        self._send_media(True)

    def on_ack(self, request: SipRequest) -> None:
        self.acked = True

    def on_cancel(self) -> None:
        """The caller gave up before we answered (the transaction layer already sent 200 and 487)."""
        self._finish("caller_cancel", "remote", 487)

    async def reject(self, status: int, reason: str | None = None) -> None:
        if self.state in (LegState.ANSWERED, LegState.ENDED):
            return
        self._respond(status)
        self._finish(reason or f"rejected_{status}", "duplex", status)

    async def _hangup_early(self, reason: str) -> None:
        await self.reject(_EARLY_STATUS.get(reason, 480), reason)
