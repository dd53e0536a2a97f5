"""Event data from SIP headers that is not valid UTF-8 (decoded with surrogateescape), lone surrogates and NUL
are recorded escaped, never dropped, on SQLite and PostgreSQL, together with the CDR rows projected from them."""

from __future__ import annotations

from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Call, CallLeg, Event
from duplex.events.bus import InProcessBus
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection

LATIN1_USER = b"Jos\xe9".decode("utf-8", "surrogateescape")  # what the SIP parser makes of a Latin-1 byte


def test_storable_escapes_only_what_cannot_be_stored() -> None:
    from duplex.events.storable import storable  # imported here: the record test also runs on older code

    assert storable(LATIN1_USER) == "Jos\\xe9"
    assert storable({"a": ["x\x00y", "\ud800", ("é",)], "n": 5, "ok": "plain"}) == {
        "a": ["x\\x00y", "\\ud800", ["é"]],
        "n": 5,
        "ok": "plain",
    }


def test_call_and_leg_rows_survive_non_utf8_header_text(db_url: str) -> None:
    record = EventRecord(
        make_session_factory(make_engine(db_url)),
        node_id="n1",
        bus=InProcessBus(),
        projectors=[LiveProjection()],
    )
    record.emit(
        "call.created",
        call_id="c-8bit",
        data={
            "direction": "inbound",
            "from": LATIN1_USER,
            "to": "1001",
            "tracking_source": None,
            "phone_number_id": None,
        },
    )
    display = b'"Ren\xe9 \xff" <sip:rene@192.0.2.1>;tag=a'.decode("utf-8", "surrogateescape")
    record.emit(
        "leg.created",
        call_id="c-8bit",
        leg_id="l-8bit",
        data={
            "kind": "caller",
            "remote_uri": display,
            "direction": "inbound",
            "trunk_id": None,
            "sip_call_id": "c-8bit",
        },
    )
    record.emit(
        "call.ended",
        call_id="c-8bit",
        data={
            "reason": "nul\x00in\ud800text",
            "answered": False,
            "hangup_by": None,
            "leg_kind": None,
            "sip_status": None,
        },
    )
    with record.sessions() as session:
        call = session.get(Call, "c-8bit")
        leg = session.get(CallLeg, "l-8bit")
        types = list(session.scalars(select(Event.type).where(Event.call_id == "c-8bit").order_by(Event.id)))
    assert types == ["call.created", "leg.created", "call.ended"]
    assert call is not None and call.from_number == "Jos\\xe9"
    assert leg is not None and leg.remote_uri == '"Ren\\xe9 \\xff" <sip:rene@192.0.2.1>;tag=a'
