"""The engine's glue to the RFC 3261 §12 dialog of `duplex.sip.dialog`: creating a leg's dialog, the initial
INVITE (sent outside any dialog, §8.1.1) and our Via/User-Agent conventions.

Sans-IO: these functions build messages and dialogs; the engine sends them. Requests of a leg go to the
transport address the dialog was set up with (``Leg.peer``): the source of the INVITE for a UAS leg (RFC 3581
symmetric routing, works behind NAT and over TCP) or the next hop for a UAC leg.
"""

from __future__ import annotations

from collections.abc import Iterable

from duplex.sip.dialog import Dialog, DialogState
from duplex.sip.errors import LocalProtocolError
from duplex.sip.headers import Headers
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.uri import NameAddr, SipUri

__all__ = ["USER_AGENT", "initial_invite", "uac_dialog", "uas_dialog"]

USER_AGENT = "Duplex"


def initial_invite(*, target: SipUri, via: str, call_id: str, local_uri: str, local_tag: str, contact: str,
                   headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
                   content_type: str | None = None) -> SipRequest:  # fmt: skip
    """An INVITE outside any dialog (RFC 3261 §8.1.1): a new Call-ID, our From tag, CSeq 1, no To tag."""
    out = Headers()
    out.add("Via", via)
    out.add("Max-Forwards", "70")
    out.add("From", str(NameAddr.parse(local_uri).with_tag(local_tag)))
    out.add("To", f"<{target}>")
    out.add("Call-ID", call_id)
    out.add("CSeq", "1 INVITE")
    out.add("Contact", contact)
    out.add("User-Agent", USER_AGENT)
    for name, value in headers:
        out.add(name, value)
    if content_type is not None:
        out.add("Content-Type", content_type)
    return SipRequest("INVITE", target, out, body)


def uas_dialog(invite: SipRequest, local_tag: str, contact: str) -> Dialog:
    """The dialog our 2xx to ``invite`` creates (§12.1.1).

    Raises:
        LocalProtocolError: the INVITE lacks a Contact or From tag (answer it 400, §8.1.1.8).
    """
    return Dialog.from_uas_request(invite, local_tag=local_tag, local_contact=NameAddr.parse(contact))


def uac_dialog(invite: SipRequest, response: SipResponse) -> Dialog:
    """The dialog a 2xx to our ``invite`` creates (§12.1.2). A 2xx without Contact (a broken peer) still gets
    a dialog, with the Request-URI as remote target, so that we can ACK and BYE it."""
    try:
        return Dialog.from_uac_response(invite, response)
    except LocalProtocolError:
        if response.to_tag is None or invite.from_tag is None or not isinstance(invite.uri, SipUri):
            raise
    return Dialog(
        call_id=invite.call_id,
        local_tag=invite.from_tag,
        remote_tag=response.to_tag,
        local_uri=_strip_tag(invite.from_addr),
        remote_uri=_strip_tag(response.to_addr),
        remote_target=invite.uri,
        local_contact=invite.contacts[0] if invite.contacts else None,
        route_set=list(reversed(response.headers.name_addrs("Record-Route"))),
        local_seq=invite.cseq.number,
        state=DialogState.CONFIRMED,
        invite_seq=invite.cseq.number,
    )


def _strip_tag(addr: NameAddr) -> NameAddr:
    return NameAddr(addr.uri, addr.display_name, {k: v for k, v in addr.params.items() if k != "tag"})
