"""The dialog state one call leg needs (RFC 3261 §12): identifiers, CSeq counters, route set, remote target.

Sans-IO and small: it builds in-dialog requests (§12.2.1.1) and ACKs for 2xx (§13.2.2.4); the engine sends
them. Requests go to the transport address the dialog was set up with (``peer``): the source of the INVITE
for a UAS leg (RFC 3581 symmetric routing, works behind NAT and over TCP) or the next hop for a UAC leg.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from duplex.sip.events import Address
from duplex.sip.headers import Headers
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.uri import NameAddr, SipUri

__all__ = ["DialogState", "USER_AGENT", "via_for"]

USER_AGENT = "Duplex"


def via_for(transport: str, host: str, port: int, branch: str) -> str:
    """Our Via value; ``rport`` asks the peer for symmetric responses (RFC 3581 §3)."""
    return f"SIP/2.0/{transport.upper()} {host}:{port};branch={branch};rport"


@dataclass(slots=True, kw_only=True)
class DialogState:
    """One dialog seen from our side (local = Duplex)."""

    call_id: str
    local_tag: str
    remote_tag: str | None
    local_uri: str  # From (UAC) / To (UAS) value without tag
    remote_uri: str
    remote_target: SipUri
    peer: Address
    transport: str = "UDP"
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    remote_cseq: int | None = None
    local_contact: str = ""

    @classmethod
    def as_uas(cls, invite: SipRequest, peer: Address, local_tag: str, local_contact: str) -> DialogState:
        """§12.1.1: "The route set MUST be set to the list of URIs in the Record-Route header field from the
        request, taken in order"; "The remote target MUST be set to the URI from the Contact header field"."""
        contacts = invite.contacts
        target = contacts[0].uri if contacts and isinstance(contacts[0].uri, SipUri) else invite.from_addr.uri
        assert isinstance(target, SipUri)
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=invite.from_tag,
            local_uri=_without_tag(invite.headers.required("To")),
            remote_uri=_without_tag(invite.headers.required("From")),
            remote_target=target,
            peer=peer,
            transport=invite.top_via.transport,
            route_set=list(invite.headers.get_all("Record-Route")),
            remote_cseq=invite.cseq.number,
            local_contact=local_contact,
        )

    def confirm_as_uac(self, response: SipResponse) -> None:
        """§12.1.2: route set from Record-Route in reverse order, remote target from Contact, remote tag."""
        self.remote_tag = response.to_tag
        self.route_set = list(reversed(response.headers.get_all("Record-Route")))
        contacts = response.contacts
        if contacts and isinstance(contacts[0].uri, SipUri):
            self.remote_target = contacts[0].uri

    @property
    def key(self) -> tuple[str, str]:
        """(Call-ID, local tag): enough to find the dialog of an incoming in-dialog request."""
        return self.call_id, self.local_tag

    def _from_to(self) -> tuple[str, str]:
        local = f"{self.local_uri};tag={self.local_tag}"
        remote = f"{self.remote_uri};tag={self.remote_tag}" if self.remote_tag else self.remote_uri
        return local, remote

    def request(
        self,
        method: str,
        *,
        branch: str,
        via_host: str,
        via_port: int,
        body: bytes = b"",
        content_type: str | None = None,
        extra: tuple[tuple[str, str], ...] = (),
        cseq: int | None = None,
    ) -> SipRequest:
        """§12.2.1.1 in-dialog request; the CSeq is incremented unless given (ACK/CANCEL reuse one)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        local, remote = self._from_to()
        headers = Headers()
        headers.add("Via", via_for(self.transport, via_host, via_port, branch))
        headers.add("Max-Forwards", "70")
        headers.add("From", local)
        headers.add("To", remote)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            headers.add("Route", route)
        if self.local_contact:
            headers.add("Contact", self.local_contact)
        headers.add("User-Agent", USER_AGENT)
        for name, value in extra:
            headers.add(name, value)
        if content_type is not None:
            headers.add("Content-Type", content_type)
        return SipRequest(method, self.remote_target, headers, body)

    def check_remote_cseq(self, request: SipRequest) -> bool:
        """§12.2.2: "If the remote sequence number was not empty, but the sequence number of the request is
        lower than the remote sequence number, the request is out of order and MUST be rejected"."""
        number = request.cseq.number
        if self.remote_cseq is not None and number < self.remote_cseq:
            return False
        self.remote_cseq = number
        return True


def _without_tag(value: str) -> str:
    addr = NameAddr.parse(value)
    if addr.tag is None:
        return value
    params = {k: v for k, v in addr.params.items() if k.lower() != "tag"}
    return str(replace(addr, params=params))
