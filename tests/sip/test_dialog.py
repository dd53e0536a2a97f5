"""Dialog state (RFC 3261 §12): creation, route sets, in-dialog requests and CSeq rules."""

from __future__ import annotations

import pytest
from helpers_txn import request

from duplex.sip._txn_util import make_response
from duplex.sip.dialog import Dialog, DialogLayer, DialogState
from duplex.sip.errors import LocalProtocolError
from duplex.sip.message import SipRequest, SipResponse
from duplex.sip.message import make_response as mk
from duplex.sip.uri import NameAddr, SipUri

RR = "Record-Route: <sip:p2.biloxi.com;lr>, <sip:p1.atlanta.com;lr>\n"
VIA = "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnew1"
BOB_CONTACT = ("Contact", "<sip:bob@192.0.2.4>")


def answer(
    status: int = 200, *, tag: str | None = "a6c85cf", contact: bool = True, rr: bool = True
) -> SipResponse:
    invite = request(extra=RR if rr else "")
    headers = [BOB_CONTACT] if contact else []
    return mk(invite, status, to_tag=tag, headers=headers)


def uac_dialog(status: int = 200) -> Dialog:
    return Dialog.from_uac_response(request(), answer(status))


def uas_dialog() -> Dialog:
    contact = NameAddr(SipUri(user="bob", host="192.0.2.4"))
    return Dialog.from_uas_request(request(extra=RR), local_tag="a6c85cf", local_contact=contact)


def test_uac_dialog_from_2xx() -> None:
    """§12.1.2: "The route set MUST be set to the list of URIs in the Record-Route header field from the
    response, taken in reverse order ... The remote target MUST be set to the URI from the Contact ... The
    local sequence number MUST be set to the value of the sequence number in the CSeq header field of the
    request. The remote sequence number MUST be empty"."""
    d = uac_dialog()
    assert d.id == ("a84b4c76e66710@pc33.atlanta.com", "1928301774", "a6c85cf")
    assert [str(r.uri) for r in d.route_set] == ["sip:p1.atlanta.com;lr", "sip:p2.biloxi.com;lr"]
    assert str(d.remote_target) == "sip:bob@192.0.2.4"
    assert (d.local_seq, d.remote_seq, d.state, d.is_uac) == (314159, None, DialogState.CONFIRMED, True)
    assert str(d.remote_uri) == '"Bob" <sip:bob@biloxi.com>' and d.remote_uri.tag is None


def test_uac_early_dialog_from_1xx_with_tag() -> None:
    """§12.1: "Dialogs are created through the generation of non-failure responses to requests ... a dialog
    established by a non-final response to a request is in the 'early' state"; a 1xx without To tag
    creates no dialog ("101-199 ... with a To tag")."""
    assert uac_dialog(180).state is DialogState.EARLY
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac_response(request(), make_response(request(), 100))


def test_uas_dialog_from_invite() -> None:
    """§12.1.1: "The route set MUST be set to the list of URIs in the Record-Route header field from the
    request, taken in order ... The remote sequence number MUST be set to the value of the sequence number
    in the CSeq header field of the request. The local sequence number MUST be empty"."""
    d = uas_dialog()
    assert d.id == ("a84b4c76e66710@pc33.atlanta.com", "a6c85cf", "1928301774")
    assert [str(r.uri) for r in d.route_set] == ["sip:p2.biloxi.com;lr", "sip:p1.atlanta.com;lr"]
    assert str(d.remote_target) == "sip:alice@pc33.atlanta.com"
    assert (d.local_seq, d.remote_seq, d.is_uac) == (None, 314159, False)


def test_bye_uses_loose_route_set_and_next_cseq() -> None:
    """§12.2.1.1: "If the route set is not empty, and the first URI in the route set contains the lr
    parameter ..., the UAC MUST place the remote target URI into the Request-URI and MUST include a Route
    header field containing the route set values in order"; CSeq is "incremented by one"."""
    d = uac_dialog()
    bye = d.create_request("BYE", via=VIA)
    assert str(bye.uri) == "sip:bob@192.0.2.4"
    assert bye.headers.get_all("Route") == ["<sip:p1.atlanta.com;lr>", "<sip:p2.biloxi.com;lr>"]
    assert (bye.cseq.number, bye.cseq.method) == (314160, "BYE")
    assert (bye.from_tag, bye.to_tag, bye.call_id) == ("1928301774", "a6c85cf", d.call_id)
    assert "Contact" not in bye.headers
    reinvite = d.create_request("INVITE", via=VIA)
    assert reinvite.cseq.number == 314161 and reinvite.contacts[0].uri == SipUri(
        user="alice", host="pc33.atlanta.com"
    )


def test_strict_router_goes_into_request_uri() -> None:
    """§12.2.1.1: for a strict router "the UAC MUST place the first URI from the route set into the
    Request-URI ... MUST add a Route header field containing the remainder of the route set values in order
    ... The UAC MUST then place the remote target URI into the Route header field as the last value"."""
    d = uac_dialog()
    d.route_set = [NameAddr.parse("<sip:strict.example.com>"), NameAddr.parse("<sip:p2.biloxi.com;lr>")]
    info = d.create_request("INFO", via=VIA)
    assert str(info.uri) == "sip:strict.example.com"
    assert info.headers.get_all("Route") == ["<sip:p2.biloxi.com;lr>", "<sip:bob@192.0.2.4>"]


def test_no_route_set_means_no_route_header() -> None:
    """§12.2.1.1: "If the route set is empty, the UAC MUST place the remote target URI into the Request-URI.
    The UAC MUST NOT add a Route header field to the request."."""
    d = Dialog.from_uac_response(request(), answer(rr=False))
    notify = d.create_request("NOTIFY", via=VIA, headers=[("Event", "refer")])
    assert "Route" not in notify.headers and str(notify.uri) == "sip:bob@192.0.2.4"
    assert notify.headers.get("Event") == "refer"


def test_ack_for_2xx_reuses_invite_cseq() -> None:
    """§13.2.2.4: "The sequence number of the CSeq header field MUST be the same as the INVITE being
    acknowledged, but the CSeq method MUST be ACK"; ACK does not consume a sequence number."""
    d = uac_dialog()
    ack = d.create_request("ACK", via=VIA, cseq=d.invite_seq)
    assert (ack.cseq.number, ack.cseq.method) == (314159, "ACK")
    assert d.local_seq == 314159
    with pytest.raises(LocalProtocolError):
        d.create_request("ACK", via=VIA)


def test_out_of_order_cseq_is_rejected_with_500() -> None:
    """§12.2.2: "If the remote sequence number was not empty, but the sequence number of the request is
    lower than the remote sequence number, the request is out of order and MUST be rejected with a 500"."""
    layer = DialogLayer()
    layer.add(uas_dialog())
    old = request("INFO", cseq=314158, to_tag="a6c85cf")
    assert layer.check_request(old)[1] == 500
    newer = request("INFO", cseq=314170, to_tag="a6c85cf")
    dialog, status = layer.check_request(newer)
    assert status is None and dialog is not None and dialog.remote_seq == 314170
    assert layer.check_request(request("INFO", cseq=314169, to_tag="a6c85cf"))[1] == 500


def test_unknown_dialog_gets_481_and_bye_terminates() -> None:
    """§12.2.2 / §15.1.2: a request with a To tag matching no dialog gets 481; "If the BYE does not match
    an existing dialog, the UAS core SHOULD generate a 481"; a matching BYE ends the dialog."""
    layer = DialogLayer()
    layer.add(uas_dialog())
    assert layer.check_request(request("BYE", cseq=314160, to_tag="other")) == (None, 481)
    dialog, status = layer.check_request(request("BYE", cseq=314160, to_tag="a6c85cf"))
    assert status is None and dialog is not None and dialog.state is DialogState.TERMINATED
    assert layer.dialogs == {}
    assert layer.check_request(request("BYE", cseq=314161, to_tag="a6c85cf")) == (None, 481)


def test_target_refresh_updates_remote_target() -> None:
    """§12.2.2: a target refresh request replaces the remote target with its Contact; §12.2.1.2: "When a UAC
    receives a 2xx response to a target refresh request, it MUST replace the dialog's remote target URI with
    the URI from the Contact header field in that response"."""
    uas = uas_dialog()
    reinvite = request(cseq=314160, to_tag="a6c85cf").headers.copy()
    reinvite.set("Contact", "<sip:alice@198.51.100.7>")
    assert uas.receive_request(SipRequest("INVITE", SipUri(user="bob", host="192.0.2.4"), reinvite)) is None
    assert str(uas.remote_target) == "sip:alice@198.51.100.7"
    uac = uac_dialog()
    sent = uac.create_request("INVITE", via=VIA)
    ok = make_response(sent, 200).headers.copy()
    ok.add("Contact", "<sip:bob@203.0.113.9>")
    uac.receive_response("INVITE", SipResponse(200, "OK", ok))
    assert str(uac.remote_target) == "sip:bob@203.0.113.9"


@pytest.mark.parametrize(
    ("status", "state"),
    [(481, DialogState.TERMINATED), (408, DialogState.TERMINATED), (486, DialogState.CONFIRMED)],
)
def test_481_and_408_terminate_the_dialog(status: int, state: DialogState) -> None:
    """§12.2.1.2: "If the response for a request within a dialog is a 481 (Call/Transaction Does Not Exist)
    or a 408 (Request Timeout), the UAC SHOULD terminate the dialog."."""
    d = uac_dialog()
    info = d.create_request("INFO", via=VIA)
    d.receive_response("INFO", make_response(info, status))
    assert d.state is state
    if state is DialogState.TERMINATED:
        with pytest.raises(LocalProtocolError):
            d.create_request("BYE", via=VIA)


def test_forked_early_dialogs_form_a_dialog_set() -> None:
    """§12.1.2 / §13.2.2.4: each 1xx/2xx with a distinct To tag creates its own dialog; all share Call-ID and
    local tag (the dialog set of one INVITE)."""
    layer = DialogLayer()
    inv = request()
    for tag in ("fork1", "fork2"):
        layer.add(Dialog.from_uac_response(inv, mk(inv, 180, to_tag=tag, headers=[BOB_CONTACT])))
    assert sorted(d.remote_tag for d in layer.dialog_set(inv.call_id, "1928301774")) == ["fork1", "fork2"]
    assert layer.for_response(make_response(inv, 200, tag="fork2")) is not None
    assert layer.for_response(make_response(inv, 200, tag="fork3")) is None
