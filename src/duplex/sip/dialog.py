"""SIP dialogs (RFC 3261 §12, with §13.2.2.4 and §15): state, in-dialog requests, CSeq and route sets.

Rules of this module (h11 style):

1. Sans-IO and clock-free: a dialog is plain data plus the rules that read and update it.
2. A dialog never sends anything itself; it builds requests and returns verdicts (status codes) that the UA
   core passes to the transaction layer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from duplex.sip.errors import LocalProtocolError
from duplex.sip.headers import Headers
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.uri import NameAddr, SipUri

__all__ = ["Dialog", "DialogId", "DialogLayer", "DialogState", "TARGET_REFRESH_METHODS"]

DialogId: TypeAlias = tuple[str, str, str]
"""``(Call-ID, local tag, remote tag)`` - "A dialog is identified at each UA with a dialog ID" (§12)."""

TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogState(enum.Enum):
    """§12: "A dialog can also be in the 'early' state ... the dialog ... transitions to the 'confirmed'
    state"; Terminated after BYE, 481/408 or a failed INVITE."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def _contact_uri(message: SipRequest | SipResponse) -> SipUri | None:
    contacts = message.contacts
    if not contacts:
        return None
    uri = contacts[0].uri
    if not isinstance(uri, SipUri):
        raise LocalProtocolError(f"Contact URI {uri} is not a SIP URI")
    return uri


def _strip_tag(addr: NameAddr) -> NameAddr:
    return NameAddr(addr.uri, addr.display_name, {k: v for k, v in addr.params.items() if k != "tag"})


@dataclass
class Dialog:
    """The dialog state of §12: "the dialog ID, a local sequence number ..., a remote sequence number ...,
    a local URI, a remote URI, remote target, a boolean flag called 'secure', and a route set"."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: SipUri
    local_contact: NameAddr | None
    route_set: list[NameAddr] = field(default_factory=list)
    local_seq: int | None = None
    remote_seq: int | None = None
    is_uac: bool = True
    secure: bool = False
    state: DialogState = DialogState.EARLY
    invite_seq: int | None = None

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    @property
    def terminated(self) -> bool:
        return self.state is DialogState.TERMINATED

    # -- creation (§12.1) ------------------------------------------------------------------------------
    @classmethod
    def from_uac_response(cls, request: SipRequest, response: SipResponse) -> Dialog:
        """§12.1.2 UAC behaviour: a dialog from a 2xx or a 101-199 with a To tag.

        "The route set MUST be set to the list of URIs in the Record-Route header field from the response,
        taken in reverse order ... The remote target MUST be set to the URI from the Contact header field of
        the response ... The local sequence number MUST be set to the value of the sequence number in the
        CSeq header field of the request. The remote sequence number MUST be empty ... The call identifier
        ... MUST be set to the value of the Call-ID in the request. The local tag MUST be set to the value of
        the tag in the From header field in the request, and the remote tag MUST be set to the value of the
        tag in the To header field of the response."

        Raises:
            LocalProtocolError: the response has no To tag, is not 101-299, or lacks a Contact.
        """
        if not 100 < response.status < 300 or response.to_tag is None or request.from_tag is None:
            raise LocalProtocolError(f"a {response.status} without To tag does not create a dialog")
        target = _contact_uri(response)
        if target is None:
            raise LocalProtocolError("a dialog-creating response needs a Contact")
        return cls(
            call_id=request.call_id,
            local_tag=request.from_tag,
            remote_tag=response.to_tag,
            local_uri=_strip_tag(request.from_addr),
            remote_uri=_strip_tag(response.to_addr),
            remote_target=target,
            local_contact=request.contacts[0] if request.contacts else None,
            route_set=list(reversed(response.headers.name_addrs("Record-Route"))),
            local_seq=request.cseq.number,
            is_uac=True,
            secure=request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            invite_seq=request.cseq.number,
        )

    @classmethod
    def from_uas_request(
        cls, request: SipRequest, *, local_tag: str, local_contact: NameAddr, early: bool = False
    ) -> Dialog:
        """§12.1.1 UAS behaviour: the dialog created when answering ``request`` with a 101-299.

        "The route set MUST be set to the list of URIs in the Record-Route header field from the request,
        taken in order ... The remote target MUST be set to the URI from the Contact header field of the
        request ... The remote sequence number MUST be set to the value of the sequence number in the CSeq
        header field of the request. The local sequence number MUST be empty ... The remote tag MUST be set
        to the value of the tag in the From header field in the request, and the local tag MUST be set to
        the value of the tag in the To header field in the response."
        """
        target = _contact_uri(request)
        if target is None or request.from_tag is None:
            raise LocalProtocolError("a dialog-creating request needs a Contact and a From tag")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_tag,
            local_uri=_strip_tag(request.to_addr),
            remote_uri=_strip_tag(request.from_addr),
            remote_target=target,
            local_contact=local_contact,
            route_set=request.headers.name_addrs("Record-Route"),
            remote_seq=request.cseq.number,
            is_uac=False,
            secure=request.uri.scheme == "sips",
            state=DialogState.EARLY if early else DialogState.CONFIRMED,
            invite_seq=request.cseq.number,
        )

    # -- UAC side: building requests (§12.2.1.1) --------------------------------------------------------
    def next_hop(self) -> SipUri:
        """Where the request goes: the first route when there is a route set, else the remote target."""
        if self.route_set:
            uri = self.route_set[0].uri
            if not isinstance(uri, SipUri):
                raise LocalProtocolError(f"route {uri} is not a SIP URI")
            return uri
        return self.remote_target

    def _request_uri_and_routes(self) -> tuple[SipUri, list[str]]:
        # "If the route set is empty, the UAC MUST place the remote target URI into the Request-URI ... If the
        # route set is not empty, and the first URI in the route set contains the lr parameter ..., the UAC
        # MUST place the remote target URI into the Request-URI and MUST include a Route header field
        # containing the route set values in order". Otherwise (strict router) "the UAC MUST place the first
        # URI from the route set into the Request-URI, stripping any parameters that are not allowed in a
        # Request-URI ... [and] MUST add a Route header field containing the remainder of the route set
        # values in order ... The UAC MUST then place the remote target URI into the Route header field as
        # the last value."
        if not self.route_set:
            return self.remote_target, []
        first = self.next_hop()
        if "lr" in first.params:
            return self.remote_target, [str(r) for r in self.route_set]
        stripped = SipUri(
            scheme=first.scheme,
            user=first.user,
            password=first.password,
            host=first.host,
            port=first.port,
            params={k: v for k, v in first.params.items() if k != "method"},
        )
        return stripped, [str(r) for r in self.route_set[1:]] + [f"<{self.remote_target}>"]

    def create_request(
        self,
        method: str,
        *,
        via: str,
        cseq: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> SipRequest:
        """Build a request within the dialog (§12.2.1.1).

        Args:
            method: BYE, INVITE (re-INVITE), ACK, INFO, REFER, NOTIFY, UPDATE ...
            via: the complete top Via value, with a fresh branch (from the transaction layer).
            cseq: forced sequence number (ACK for 2xx uses the INVITE's: §13.2.2.4 "The sequence number of
                the CSeq header field MUST be the same as the INVITE being acknowledged").
            headers: extra header fields (Content-Type, Event, Refer-To ...).
            body: message body.

        Raises:
            LocalProtocolError: the dialog is terminated (only ACK may still be sent).
        """
        if self.state is DialogState.TERMINATED and method != "ACK":
            raise LocalProtocolError(f"dialog {self.id} is terminated", 481)
        if cseq is None:
            # "Requests within a dialog MUST contain strictly monotonically increasing and contiguous CSeq
            # sequence numbers (increasing-by-one) in each direction (excepting ACK and CANCEL ...)."
            if method in ("ACK", "CANCEL"):
                raise LocalProtocolError(f"{method} must reuse the CSeq of the request it refers to")
            self.local_seq = (self.local_seq or 0) + 1
            cseq = self.local_seq
            if method == "INVITE":
                self.invite_seq = cseq
        ruri, routes = self._request_uri_and_routes()
        out = Headers()
        out.add("Via", via)
        out.add("Max-Forwards", "70")
        for route in routes:
            out.add("Route", route)
        # "The URI in the To field of the request MUST be set to the remote URI from the dialog state. The
        # tag in the To header field ... MUST be set to the remote tag ... The From URI ... MUST be set to
        # the local URI from the dialog state. The tag in the From header field ... MUST be set to the local
        # tag ... The Call-ID of the request MUST be set to the Call-ID of the dialog."
        out.add("From", str(self.local_uri.with_tag(self.local_tag)))
        out.add("To", str(self.remote_uri.with_tag(self.remote_tag)))
        out.add("Call-ID", self.call_id)
        out.add("CSeq", f"{cseq} {method}")
        if method in TARGET_REFRESH_METHODS and self.local_contact is not None:
            out.add("Contact", str(self.local_contact))
        for name, value in headers:
            out.add(name, value)
        return SipRequest(method, ruri, out, body)

    def receive_response(self, method: str, response: SipResponse) -> None:
        """Update the dialog from a response to a request sent within it (§12.2.1.2).

        "When a UAC receives a 2xx response to a target refresh request, it MUST replace the dialog's remote
        target URI with the URI from the Contact header field in that response, if present." "If the
        response for a request within a dialog is a 481 (Call/Transaction Does Not Exist) or a 408 (Request
        Timeout), the UAC SHOULD terminate the dialog."
        """
        if response.status in (408, 481):
            self.state = DialogState.TERMINATED
        elif 200 <= response.status < 300 and method in TARGET_REFRESH_METHODS:
            self.remote_target = _contact_uri(response) or self.remote_target
            if method == "INVITE" and self.state is DialogState.EARLY:
                self.confirm(response)
        elif method == "BYE" and response.status >= 200:
            self.state = DialogState.TERMINATED

    def confirm(self, response: SipResponse) -> None:
        """§13.2.2.4: "the dialog MUST be transitioned to the 'confirmed' state, and the route set for the
        dialog MUST be recomputed based on the 2xx response"."""
        if self.is_uac:
            self.route_set = list(reversed(response.headers.name_addrs("Record-Route")))
            self.remote_target = _contact_uri(response) or self.remote_target
        self.state = DialogState.CONFIRMED

    # -- UAS side: checking requests (§12.2.2) ---------------------------------------------------------
    def receive_request(self, request: SipRequest) -> int | None:
        """Check an in-dialog request; return the status to reject it with, or None to accept it.

        "If the remote sequence number is empty, it MUST be set to the value of the sequence number in the
        CSeq header field value in the request. If the remote sequence number was not empty, but the
        sequence number of the request is lower than the remote sequence number, the request is out of order
        and MUST be rejected with a 500 (Server Internal Error) response." A BYE terminates the dialog
        (§15.1.2) and target refresh requests update the remote target (§12.2.2).
        """
        if request.method in ("ACK", "CANCEL"):
            return None
        number = request.cseq.number
        if self.remote_seq is not None and number < self.remote_seq:
            return 500
        self.remote_seq = number
        if request.method == "BYE":
            self.state = DialogState.TERMINATED
        elif request.method in TARGET_REFRESH_METHODS:
            self.remote_target = _contact_uri(request) or self.remote_target
        return None


class DialogLayer:
    """All dialogs of a UA, looked up by dialog ID (§12), with the early dialogs of a forked INVITE grouped
    by ``(Call-ID, local tag)`` (the "dialog set")."""

    def __init__(self) -> None:
        self.dialogs: dict[DialogId, Dialog] = {}

    def add(self, dialog: Dialog) -> Dialog:
        self.dialogs[dialog.id] = dialog
        return dialog

    def get(self, dialog_id: DialogId) -> Dialog | None:
        return self.dialogs.get(dialog_id)

    def remove(self, dialog_id: DialogId) -> Dialog | None:
        return self.dialogs.pop(dialog_id, None)

    def dialog_set(self, call_id: str, local_tag: str) -> list[Dialog]:
        """Every dialog created by one request (forking yields one per remote tag)."""
        return [d for d in self.dialogs.values() if d.call_id == call_id and d.local_tag == local_tag]

    def for_request(self, request: SipRequest) -> Dialog | None:
        """Incoming request: local tag is the To tag, remote tag the From tag."""
        if request.to_tag is None or request.from_tag is None:
            return None
        return self.dialogs.get((request.call_id, request.to_tag, request.from_tag))

    def for_response(self, response: SipResponse) -> Dialog | None:
        """Incoming response: local tag is the From tag, remote tag the To tag."""
        if response.to_tag is None or response.from_tag is None:
            return None
        return self.dialogs.get((response.call_id, response.from_tag, response.to_tag))

    def check_request(self, request: SipRequest) -> tuple[Dialog | None, int | None]:
        """Route an incoming request with a To tag; return its dialog and a rejection status or None.

        §12.2.2: "If the UAS wishes to reject the request because it does not wish to recreate the dialog,
        it MUST respond to the request with a 481 (Call/Transaction Does Not Exist) status code"; §15.1.2:
        "If the BYE does not match an existing dialog, the UAS core SHOULD generate a 481".
        """
        dialog = self.for_request(request)
        if dialog is None or dialog.terminated:
            return None, (None if request.method == "ACK" else 481)
        status = dialog.receive_request(request)
        if dialog.terminated:
            self.remove(dialog.id)
        return dialog, status
