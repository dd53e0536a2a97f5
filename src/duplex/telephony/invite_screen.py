"""Checks a dialog-creating INVITE must pass before any call state exists, sans-IO.

An INVITE that can never become a working dialog is answered at once with a final 4xx, so the caller is not
left with only 100 Trying and no call is created for it (a call that cannot be answered would otherwise stay
in memory and its CDR in ``created``). The parser already refuses tags that are not tokens (RFC 3261 §25.1);
what is checked here is legal SIP syntax that a dialog still cannot use.
"""

from __future__ import annotations

from dataclasses import dataclass

from duplex.sip.errors import SipParseError
from duplex.sip.message import SipRequest
from duplex.sip.uri import SipUri

__all__ = ["InviteRejection", "screen_invite"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteRejection:
    status: int
    reason: str


def screen_invite(request: SipRequest) -> InviteRejection | None:
    """None when ``request`` (an INVITE without To tag) may go on to routing, else the 4xx to answer."""
    try:
        contacts = request.contacts
    except SipParseError:
        return InviteRejection(status=400, reason="Bad Contact")
    # RFC 3261 §8.1.1.8: "The Contact header field MUST be present and contain exactly one SIP or SIPS URI in
    # any request that can result in the establishment of a dialog."
    if len(contacts) != 1:
        return InviteRejection(status=400, reason="Contact must hold exactly one SIP URI")
    uri = contacts[0].uri
    if not isinstance(uri, SipUri) or uri.scheme not in ("sip", "sips"):
        return InviteRejection(status=400, reason="Contact is not a SIP or SIPS URI")
    if request.from_tag is None:
        # §8.1.1.3: "the From field MUST contain a new "tag" parameter"; we could not address a BYE without it
        return InviteRejection(status=400, reason="Missing From tag")
    return None
