"""Requests inside a dialog: which leg one is for, and what the leg does with it.

The switch hands over every message that belongs to a dialog: a request with a To tag (`route_request`:
the leg whose dialog it names, else 481), an ACK, a CANCEL, a retransmitted 2xx and a 2xx never ACKed. The
leg's side of the dispatch table (`receive`): BYE, re-INVITE (hold and resume by the peer, RFC 3264 §8.4),
REFER (RFC 3515, carried out by the registry's ``on_refer``), INFO (DTMF from browser softphones), NOTIFY
(the progress of a REFER we sent), OPTIONS and UPDATE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from duplex.media.sdp import SdpError, SessionDescription
from duplex.services.calls.call import CallRegistry, Leg, LegState
from duplex.services.calls.control import Answering
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, SipResponse
from duplex.telephony.acks import AckKey

__all__ = [
    "HANDLERS",
    "DialogRoutes",
    "ack_received",
    "ack_timed_out",
    "cancel_received",
    "receive",
    "route_request",
    "stray_2xx_ack",
]

log = logging.getLogger("duplex.services.calls.in_dialog")


class DialogRoutes(CallRegistry, Answering, Protocol):
    """What routing a request to its dialog needs: the dialogs, and a 481 when none matches."""


# -- the switch's side: which leg -----------------------------------------------------------------------


def route_request(control: DialogRoutes, request: SipRequest, key: TransactionKey, addr: Address) -> None:
    """A request with a To tag goes to the leg of the dialog (Call-ID, our tag); none: 481 (RFC 3261
    §12.2.2 "the UAS MUST respond to the request with a 481 (Call/Transaction Does Not Exist)")."""
    leg = control.dialogs.get((request.call_id, request.to_tag or ""))
    if leg is None:
        control.respond(key, request, 481)
    else:
        receive(leg, request, key, addr)


def ack_received(registry: CallRegistry, request: SipRequest) -> None:
    """The ACK for our 2xx reached its leg (an inbound leg notes it)."""
    leg = registry.dialogs.get((request.call_id, request.to_tag or ""))
    on_ack = getattr(leg, "on_ack", None)
    if on_ack is not None:
        on_ack(request)


def cancel_received(registry: CallRegistry, invite_key: TransactionKey) -> None:
    """A CANCEL for the INVITE ``invite_key`` (the transaction layer already sent 200 and 487)."""
    leg = registry.server_legs.get(invite_key)
    on_cancel = getattr(leg, "on_cancel", None)
    if on_cancel is not None:
        on_cancel()


def stray_2xx_ack(registry: CallRegistry, response: SipResponse) -> tuple[bytes, Address] | None:
    """A retransmitted 2xx: our ACK was lost; the ACK to send again and where (RFC 3261 §13.2.2.4)."""
    leg = registry.dialogs.get((response.call_id, response.from_tag or ""))
    ack = getattr(leg, "last_ack", None)
    if isinstance(ack, bytes) and leg is not None and leg.peer is not None:
        return ack, leg.peer
    return None


def ack_timed_out(registry: CallRegistry, key: AckKey) -> None:
    """RFC 3261 §13.3.1.4: no ACK for our 2xx after 64*T1: "the dialog is confirmed, but the session
    SHOULD be terminated. This is accomplished with a BYE"."""
    leg = registry.dialogs.get(key[:2])
    if leg is not None and leg.state is LegState.ANSWERED:
        log.info("no ACK for our 2xx (CSeq %d) on %r; hanging up", key[2], leg)
        leg.control.spawn(leg.hangup("no_ack"))


# -- the leg's side: what it does with the request ------------------------------------------------------


def receive(leg: Leg, request: SipRequest, key: TransactionKey, addr: Address) -> None:
    """Check the CSeq order in the leg's dialog, then dispatch by method (501 for others)."""
    status = leg.dialog.receive_request(request) if leg.dialog is not None else None
    if status is not None:  # §12.2.2: a lower CSeq is out of order: 500
        leg.control.respond(key, request, status)
        return
    handler = HANDLERS.get(request.method)
    if handler is None:
        leg.control.respond(key, request, 501)
        return
    handler(leg, request, key)


def _ok(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
    leg.control.respond(key, request, 200)


def _info(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
    """A key pressed as SIP INFO (application/dtmf-relay, what browser softphones send): recorded like an
    RFC 4733 digit and played to the bridged leg as RFC 4733 events."""
    leg.control.respond(key, request, 200)
    if (request.content_type or "").split(";")[0].strip().lower() != "application/dtmf-relay":
        return
    fields = dict(line.partition("=")[::2] for line in request.body.decode("utf-8", "replace").splitlines())
    digit = fields.get("Signal", "").strip()
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        return
    leg.key_pressed(digit, "sip_info")
    other = leg.bridged_to
    if other is not None and other.media is not None:
        try:
            other.media.send_dtmf(digit)
        except (
            NotImplementedError
        ) as exc:  # e.g. an rtpengine leg without DTMF injection: the digit stays recorded
            log.warning("DTMF %s from %r not played to %r: %s", digit, leg, other, exc)


def _bye(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
    leg.remote_hangup()
    leg.control.spawn(_respond_when_recorded(leg, key, request, 200))


async def _respond_when_recorded(leg: Leg, key: TransactionKey, request: SipRequest, status: int) -> None:
    """Answer once the events so far are committed: the 200 to a BYE tells the peer the call is over, and a
    crash must not lose an end the peer saw (retransmissions of the BYE meanwhile are absorbed by its server
    transaction)."""
    await leg.control.store.committed()
    leg.control.respond(key, request, status)


def _reinvite(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
    control = leg.control
    if leg.sdp is None or leg.peer is None:
        control.respond(key, request, 488)
        return
    if not request.body:  # offerless re-INVITE: offer in the 200, answer in the ACK (ignored here)
        body = bytes(leg.sdp.create_offer("sendonly" if leg.on_hold else "sendrecv"))
        control.respond_2xx(key, request, body, leg.dialog, leg.peer)
        return
    try:
        offer = SessionDescription.parse(request.body)
        answer, negotiated = leg.sdp.create_answer(offer, "sendonly" if leg.on_hold else "sendrecv")
    except SdpError as exc:
        control.respond(key, request, exc.status_code)
        return
    leg.apply_media(negotiated)
    control.respond_2xx(key, request, bytes(answer), leg.dialog, leg.peer)
    held = negotiated.direction in ("recvonly", "inactive")
    if held != leg.remote_hold:
        leg.remote_hold = held
        leg.emit("call.held" if held else "call.resumed", {"by": "remote"})


def _notify(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
    if (request.headers.get("Event") or "").split(";")[0].strip().lower() == "refer" and request.body:
        leg.notifications.append(request.body.decode(errors="replace").split("\r\n")[0].strip())
    leg.control.respond(key, request, 200)


def _refer(leg: Leg, request: SipRequest, key: TransactionKey) -> None:
    target = request.headers.get("Refer-To")
    if target is None:  # RFC 3515 §2.4.1: "A REFER request MUST contain exactly one Refer-To"
        leg.control.respond(key, request, 400)
        return
    leg.refers_received += 1
    leg.control.respond(key, request, 202)
    leg.control.spawn(leg.control.on_refer(leg, request, target))


# what a leg does with each method (`receive`)
HANDLERS: dict[str, Callable[[Leg, SipRequest, TransactionKey], None]] = {
    "BYE": _bye,
    "INVITE": _reinvite,
    "REFER": _refer,
    "INFO": _info,
    "OPTIONS": _ok,
    "NOTIFY": _notify,
    "UPDATE": _ok,
}
