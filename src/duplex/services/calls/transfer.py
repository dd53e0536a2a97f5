"""Call transfer for phones: REFER (RFC 3515) blind and attended (Refer-To with Replaces, RFC 3891), and an
INVITE with a Replaces header that takes over one of our dialogs.

Duplex is a B2BUA, so it carries the transfer out itself instead of passing the REFER on:

* blind: ``Refer-To: <sip:2002@duplex>`` on the leg of phone A: the party A talks to (the transferee) is
  called through to the target and bridged when it answers; A's leg is then released.
* attended: ``Refer-To: <sip:2002@duplex?Replaces=callid%3Bto-tag%3D..%3Bfrom-tag%3D..>``: A has consulted
  the target in a second call through Duplex; the transferee is bridged to the consulted party and both of
  A's legs are released.

The REFER creates an implicit subscription (RFC 3515 §2.4.4): "the REFER-Recipient MUST send a NOTIFY"
reporting the progress as a ``message/sipfrag`` body: ``SIP/2.0 100 Trying`` at once, then the final status
with ``Subscription-State: terminated``. A 481 or no answer to a NOTIFY ends the subscription (RFC 6665
§4.1.2.2 via RFC 3515 §2.4.7), not the transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from duplex.services.calls.call import Call, CallRegistry, Leg
from duplex.services.calls.control import Answering, PhoneBook
from duplex.services.calls.uac import originate
from duplex.services.calls.uas import InboundLeg
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest, reason_phrase
from duplex.sip.uri import NameAddr, SipUri

__all__ = [
    "ReferSubscription",
    "Replaces",
    "ReplacingControl",
    "adopt",
    "find_replaced",
    "join",
    "kept_apart",
    "on_refer",
    "on_replacing_invite",
    "parse_refer_to",
]

log = logging.getLogger("duplex.services.calls.transfer")
SIPFRAG = "message/sipfrag;version=2.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class Replaces:
    """RFC 3891 §6.1: ``Replaces: callid;to-tag=..;from-tag=..`` (to-tag: the recipient's own tag)."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    @classmethod
    def parse(cls, value: str) -> Replaces:
        """Raises ValueError when the call-id or a tag is missing."""
        call_id, *params = [p.strip() for p in value.split(";")]
        named = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in params)}
        if not call_id or not named.get("to-tag") or not named.get("from-tag"):
            raise ValueError(f"incomplete Replaces {value!r}")
        return cls(call_id=call_id, to_tag=named["to-tag"], from_tag=named["from-tag"],
                   early_only="early-only" in named)  # fmt: skip


def parse_refer_to(value: str) -> tuple[str, Replaces | None]:
    """Split a Refer-To value into the target (user part or URI text) and an embedded Replaces (RFC 3891 §5:
    carried as the URI header ``?Replaces=`` with ``;`` and ``=`` escaped)."""
    text = NameAddr.parse(value).uri if "<" in value else None
    raw = str(text) if text is not None else value.strip()
    base, _, headers = raw.partition("?")
    replaces = None
    for header in headers.split("&") if headers else ():
        name, _, hvalue = header.partition("=")
        if name.lower() == "replaces":
            replaces = Replaces.parse(unquote(hvalue))
    return base, replaces


def target_user(target: str) -> str:
    """The user part of a target URI (``sip:2002@host`` -> ``2002``) or the text itself."""
    try:
        uri = SipUri.parse(target)
    except Exception:
        return target.split(":", 1)[-1].split("@", 1)[0].strip("<>")
    return uri.user or uri.host


class ReplacingControl(CallRegistry, Answering, Protocol):
    """What an INVITE with Replaces needs: the dialog it names, and a way to refuse it."""


def find_replaced(control: CallRegistry, replaces: Replaces) -> Leg | None:
    """The leg whose dialog ``replaces`` names: our tag is the to-tag and the peer's the from-tag (RFC 3891
    §3); both orders are tried, for peers that fill them in from their own point of view."""
    for ours, theirs in ((replaces.to_tag, replaces.from_tag), (replaces.from_tag, replaces.to_tag)):
        leg = control.dialogs.get((replaces.call_id, ours))
        if leg is not None and leg.dialog is not None and leg.dialog.remote_tag == theirs:
            return leg
    return None


class ReferSubscription:
    """The implicit subscription of one accepted REFER, seen from the REFER-Recipient (us)."""

    def __init__(self, leg: Leg, refer: SipRequest) -> None:
        self.leg = leg
        self.event = "refer" if leg.refers_received <= 1 else f"refer;id={refer.cseq.number}"
        self.active = True
        self.sent: list[str] = []
        self.responses: list[int | None] = []

    async def notify(self, status: int, *, final: bool) -> None:
        """Send ``SIP/2.0 <status> <reason>``; a final one terminates the subscription."""
        if not self.active:
            return
        frag = f"SIP/2.0 {status} {reason_phrase(status)}"
        state = "terminated;reason=noresource" if final else "active;expires=60"
        self.sent.append(frag)
        response = await self.leg.request(
            "NOTIFY", body=(frag + "\r\n").encode(), content_type=SIPFRAG,
            extra=(("Event", self.event), ("Subscription-State", state)),
        )  # fmt: skip
        status_back = response.status if response is not None else None
        self.responses.append(status_back)
        if final or status_back is None or status_back in (481, 408) or status_back >= 300:
            self.active = False  # the subscription is gone; the transfer itself goes on


async def on_refer(leg: Leg, refer: SipRequest, refer_to: str) -> bool:
    """Carry out an accepted REFER (202 already sent); True when the transfer succeeded."""
    sub = ReferSubscription(leg, refer)
    leg.subscriptions.append(sub)
    try:
        target, replaces = parse_refer_to(refer_to)
    except Exception:
        await sub.notify(400, final=True)
        return False
    kind = "attended" if replaces is not None else "blind"
    leg.emit(
        "call.transferred", {"target": target_user(target), "uri": target, "kind": kind, "method": "REFER"}
    )
    # the transferor's leg is released below: the rest of its call (the transferee) must stay up
    with kept_apart(leg.call, *(peer.call for peer in (leg.bridged_to,) if peer is not None)):
        await sub.notify(100, final=False)
        status = await (_attended(leg, replaces) if replaces is not None else _blind(leg, target))
        await sub.notify(status, final=True)
        if status < 300 or leg.bridged_to is None:
            await leg.hangup("transferred")
    return status < 300


@contextlib.contextmanager
def kept_apart(*calls: Call) -> Iterator[None]:
    """While legs are moved and released, one leg ending must not hang up the rest of its call."""
    saved = {call: call.hangup_together for call in calls}
    for call in saved:
        call.hangup_together = False
    try:
        yield
    finally:
        for call, value in saved.items():
            call.hangup_together = value


def _live(leg: Leg | None) -> bool:
    return leg is not None and not leg.ended.is_set() and leg.media is not None


async def _blind(referrer: Leg, target: str) -> int:
    """Call ``target`` (an agent extension or SIP user) for the referrer's peer; the final SIP status."""
    control: PhoneBook = referrer.control
    peer = referrer.bridged_to
    if peer is None or not _live(peer):
        return 503
    agent = control.directory.agent_by_target(target_user(target))
    bindings = control.registrations.lookup(agent.sip_username, control.now()) if agent else []
    if agent is None or not bindings:
        return 404 if agent is None else 480
    binding = max(bindings, key=lambda b: (b.q, b.updated_at))
    assert peer.media is not None
    peer.media.bridge(None)
    new = await originate(peer.call, binding.contact, contact=(binding.source.host, binding.source.port),
                                    agent_id=agent.id, kind="transfer",
                                    codecs=(peer.negotiated.codec,) if peer.negotiated else None)  # fmt: skip
    if not await new.answered or not _live(peer):
        await new.hangup("transfer_failed")
        if _live(peer) and _live(referrer):
            await peer.bridge(referrer)  # the transferor gets the party back
        return new.sip_status if new.sip_status and new.sip_status >= 300 else 487
    await peer.bridge(new)
    referrer.bridged_to = None
    return 200


async def _attended(referrer: Leg, replaces: Replaces) -> int:
    """Bridge the referrer's peer to the party of the consultation dialog ``replaces``; release both legs
    of the transferor."""
    replaced = find_replaced(referrer.control, replaces)
    if replaced is None or not replaced.is_up:
        return 481
    transferee, consulted = referrer.bridged_to, replaced.bridged_to
    if transferee is None or consulted is None or not _live(transferee) or not _live(consulted):
        return 503
    referrer.bridged_to = None  # released by `on_refer` once the final NOTIFY is out
    await join(transferee, consulted, released=(replaced,))
    return 200


async def join(keep: Leg, other: Leg, *, released: tuple[Leg, ...]) -> None:
    """Bridge ``keep`` with ``other`` (moved into ``keep``'s call) and hang up ``released``."""
    call = keep.call
    with kept_apart(call, other.call, *(leg.call for leg in released)):
        assert keep.media is not None and other.media is not None
        keep.media.bridge(None)
        other.media.bridge(None)
        for leg in released:
            leg.bridged_to = None
        adopt(call, other)
        await keep.bridge(other)
        await asyncio.gather(*(leg.hangup("transferred") for leg in released))


def adopt(call: Call, leg: Leg) -> None:
    """Move ``leg`` into ``call`` (its old call ends when no live leg is left)."""
    old = leg.call
    if old is call:
        return
    old.legs.remove(leg)
    leg.emit("leg.left", {"to_call_id": call.id})  # recorded in the old call, before the leg changes calls
    leg.call = call
    call.legs.append(leg)
    leg.emit("leg.moved", {"from_call_id": old.id})  # recorded in the call it joined
    if not [other for other in old.legs if not other.ended.is_set()]:
        old.finish_empty(leg)


async def on_replacing_invite(
    control: ReplacingControl, request: SipRequest, key: TransactionKey, addr: Address
) -> None:
    """An INVITE with ``Replaces`` (RFC 3891 §3): "the UA attempts to match this information with a confirmed
    or early dialog"; on a match the new leg takes the place of the replaced one (bridged to its peer, which
    stays connected) and the replaced leg gets a BYE. No match: "the UAS MUST reject the INVITE with a 481".
    Only a confirmed dialog of a bridged leg can be replaced (a B2BUA has nothing to hand an app's leg to).
    The Call-ID and both tags act as the credential (RFC 3891 §7 asks for the same trust as the replaced
    dialog; they are only known to its parties)."""
    try:
        replaces = Replaces.parse(request.headers.get("Replaces") or "")
    except ValueError:
        control.respond(key, request, 400)
        return
    replaced = find_replaced(control, replaces)
    peer = replaced.bridged_to if replaced is not None else None
    if replaced is None or not replaced.is_up or replaces.early_only:
        # "If the Replaces header field matches a confirmed dialog [and] ... early-only ... the UAS MUST
        # respond with a 486 Busy Here"
        control.respond(key, request, 486 if replaced is not None and replaces.early_only else 481)
        return
    if peer is None or not _live(peer):
        control.respond(key, request, 481)
        return
    leg = InboundLeg(peer.call, request, key, addr, kind="transfer", agent_id=replaced.agent_id)
    status = await leg.prepare()
    if status is not None:
        await leg.reject(status, "not_acceptable")
        return
    await leg.answer()
    leg.emit("call.transferred", {"target": str(request.uri), "kind": "attended", "method": "Replaces",
                                  "replaced_leg_id": replaced.id})  # fmt: skip
    await join(peer, leg, released=(replaced,))
