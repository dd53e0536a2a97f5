"""Typed events: the catalogue, the check of a payload against its type where it is recorded (both emit
forms), the JSON a payload becomes, and the catalogue's import face (no database, no event loop)."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Event
from duplex.events import EVENT_TYPES, PAYLOADS, InvalidEventPayload, UnknownEventType, payload_of
from duplex.events.record import EventRecord
from duplex.events.types import (
    AgentStateChanged,
    CallBridged,
    CallCreated,
    CallEnded,
    CallQuality,
    CallTransferred,
    CsatRecorded,
    QueueLeft,
    TrunkStatusChanged,
)
from duplex.stores.call_store import TelephonyStore
from duplex.telephony.quality import FarEndReport, LegQuality

# what the telephony engine sends today (src/duplex/telephony), as the name + dict form
ENGINE_DATA: list[tuple[str, dict[str, Any]]] = [
    ("call.created", {"direction": "inbound", "from": "sipp", "to": "1001", "tracking_source": None,
                      "phone_number_id": 2}),
    ("call.created", {"direction": "internal", "from": "alice", "to": "+4420", "tracking_source": "ads",
                      "phone_number_id": None, "trunk_id": 1}),
    ("call.ringing", {"status": 183}),
    ("call.answered", {}),
    ("call.bridged", {"legs": ["a", "b"]}),
    ("call.held", {"by": "remote"}),
    ("call.transferred", {"target": "2002", "kind": "blind", "method": "REFER"}),
    ("call.transferred", {"target": "2002", "uri": "sip:2002@x", "kind": "blind", "method": "REFER"}),
    ("call.transferred", {"target": "sip:2002@x", "kind": "attended", "method": "Replaces",
                          "replaced_leg_id": "l1"}),
    ("call.ended", {"reason": "caller_hangup", "hangup_by": "remote", "leg_kind": "caller", "sip_status": None,
                    "answered": True}),
    ("leg.created", {"kind": "caller", "remote_uri": "<sip:sipp@127.0.0.1>;tag=1", "direction": "inbound",
                     "trunk_id": None, "sip_call_id": "x@y"}),
    ("leg.answered", {"codec": None}),
    ("leg.ended", {"reason": "remote_bye", "hangup_by": "remote", "sip_status": 200}),
    ("leg.left", {"to_call_id": "c2"}),
    ("leg.moved", {"from_call_id": "c1"}),
    ("dtmf.received", {"digit": "5", "source": "rfc4733"}),
    ("recording.started", {"path": "/rec/c1.wav"}),
    ("recording.saved", {"path": "/rec/c1.wav", "duration_ms": 5000, "recording_id": 3}),
    ("sip.registered", {"aor": "sip:alice@x", "contact": "sip:alice@1.2.3.4", "source": "udp:1.2.3.4:5060"}),
    ("sip.unregistered", {"aor": "sip:alice@x", "contact": "sip:alice@1.2.3.4", "reason": "expired"}),
    ("trunk.status_changed", {"trunk_id": 1, "name": "demo", "old": "unknown", "new": "up", "status_code": 200,
                              "reason": "OK", "retry_in": None, "expires_in": 3600.0}),
]  # fmt: skip


@pytest.fixture
def record(db_url: str) -> Iterator[EventRecord]:
    engine = make_engine(db_url)
    yield EventRecord(make_session_factory(engine), node_id="n1", projectors=())
    engine.dispose()


def recorded(record: EventRecord) -> list[Event]:
    with record.sessions() as s:
        return list(s.scalars(select(Event).order_by(Event.id)))


# -- the catalogue ----------------------------------------------------------------------------------------------
def test_every_type_is_a_documented_frozen_keyword_only_dataclass() -> None:
    for name, cls in PAYLOADS.items():
        assert cls.__dataclass_params__.frozen and "__slots__" in vars(cls), name  # type: ignore[attr-defined]
        assert all(f.kw_only for f in dataclasses.fields(cls)), name  # type: ignore[arg-type]
        assert cls.event_type == name and cls.__doc__ and EVENT_TYPES[name], name


def test_the_contact_center_names_replace_the_placeholders() -> None:
    wanted = {"ivr.node_entered", "queue.entered", "agent.offered", "agent.accepted", "agent.rejected",
              "agent.no_answer", "queue.left", "agent.state_changed", "lead.dialed", "lead.skipped",
              "call.outcome", "campaign.pacing", "dnc.added", "consent.recorded", "csat.recorded",
              "disposition.set", "recording.saved"}  # fmt: skip
    assert wanted <= PAYLOADS.keys()
    assert not {"ivr.node", "agent.answered", "agent.missed"} & PAYLOADS.keys()
    reasons = dataclasses.fields(QueueLeft)[0]
    assert reasons.name == "reason"
    for reason in ("answered", "abandoned", "overflow", "timeout", "callback"):
        assert QueueLeft(reason=reason).to_data() == {"reason": reason}  # type: ignore[arg-type]


# -- the check: unknown field, missing required field, wrong type ------------------------------------------
@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"score": 4, "stars": 5}, "stars", "unknown field (fields: score, source)"),
        ({"source": "crm"}, "score", "missing required field"),
        ({"score": "4"}, "score", "expected int, got str '4'"),
        ({"score": True}, "score", "expected int, got bool True"),
        ({"score": 4.0}, "score", "expected int, got float 4.0"),
        ({"score": 4, "source": 7}, "source", "expected str or null, got int 7"),
    ],
)
def test_a_payload_that_does_not_match_its_type_is_refused_naming_type_and_field(
    data: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidEventPayload) as refused:
        payload_of("csat.recorded", data)
    assert (refused.value.event_type, refused.value.field, refused.value.problem) == (
        "csat.recorded",
        field,
        problem,
    )
    assert str(refused.value) == f"csat.recorded payload, field {field!r}: {problem}"


def test_the_check_covers_literals_lists_json_names_and_numbers() -> None:
    with pytest.raises(InvalidEventPayload, match="field 'reason': expected one of 'answered', .*'callback'"):
        payload_of("queue.left", {"reason": "bored"})
    with pytest.raises(InvalidEventPayload, match="field 'legs': expected a list of str, got tuple"):
        CallBridged(legs=("a", 2))  # type: ignore[arg-type]
    with pytest.raises(InvalidEventPayload, match="field 'legs': expected a list of str, got list"):
        CallBridged(legs=["a", "b"])  # type: ignore[arg-type]  # a typed payload keeps tuples
    with pytest.raises(InvalidEventPayload, match="agent.state_changed payload, field 'from': missing"):
        payload_of("agent.state_changed", {"to": "available", "reason": None, "by_user_id": None})
    with pytest.raises(InvalidEventPayload, match="field 'retry_in': expected float or null, got bool"):
        payload_of("trunk.status_changed", dict(ENGINE_DATA[-1][1], retry_in=False))
    whole_seconds = dict(ENGINE_DATA[-1][1], expires_in=3600)  # JSON does not tell 3600 from 3600.0
    assert payload_of("trunk.status_changed", whole_seconds) == TrunkStatusChanged(**whole_seconds)
    with pytest.raises(UnknownEventType):
        payload_of("call.exploded", {})


def test_a_typed_payload_is_checked_when_it_is_built() -> None:
    with pytest.raises(InvalidEventPayload, match="call.created payload, field 'direction'"):
        CallCreated(direction="sideways", from_="1", to="2", tracking_source=None, phone_number_id=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'to'"):
        CallCreated(direction="inbound", from_="1", tracking_source=None, phone_number_id=None)  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CsatRecorded(score=4).score = 5  # type: ignore[misc]


# -- the JSON ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event_type", "data"), ENGINE_DATA, ids=[f"{t}-{i}" for i, (t, _) in enumerate(ENGINE_DATA)]
)
def test_what_the_engine_sends_is_accepted_and_recorded_unchanged(
    event_type: str, data: dict[str, Any]
) -> None:
    payload = payload_of(event_type, data)
    assert payload.to_data() == data
    assert json.loads(json.dumps(type(payload).from_data(data).to_data())) == data


def test_call_quality_of_the_telephony_quality_module_matches_its_type() -> None:
    far = FarEndReport(fraction_lost=0.01, packets_lost=2, loss_ratio=0.004, jitter_ms=1.25, reports=3)
    quality = LegQuality(codec="PCMA", packets_expected=500, packets_received=498, packets_lost=2, loss_ratio=0.004,
                         jitter_ms=0.5, late=1, packets_sent=500, rtt_ms=12.0, mos_received=4.3, far_end=far,
                         mos_sent=4.2)  # fmt: skip
    data = quality.event_data()
    assert payload_of("call.quality", data).to_data() == data
    assert CallQuality(**data).to_data() == data  # no field needs a JSON name


def test_typed_payloads_become_the_json_consumers_already_read() -> None:
    """The engine's dict form and the typed form give the same `data`; optional fields stay out while unset,
    required ones are always there (null when their type allows it)."""
    created = CallCreated(
        direction="inbound", from_="sipp", to="1001", tracking_source=None, phone_number_id=2
    )
    assert created.to_data() == ENGINE_DATA[0][1]
    assert CallTransferred(target="2002", kind="blind", method="REFER").to_data() == ENGINE_DATA[6][1]
    ended = CallEnded(
        reason="caller_hangup", answered=True, hangup_by="remote", leg_kind="caller", sip_status=None
    )
    assert ended.to_data() == ENGINE_DATA[9][1]
    assert json.dumps(CallBridged(legs=("a", "b")).to_data()) == '{"legs": ["a", "b"]}'
    assert AgentStateChanged(from_=None, to="available", reason=None, by_user_id=3).to_data() == {
        "from": None, "to": "available", "reason": None, "by_user_id": 3
    }  # fmt: skip
    assert CsatRecorded(score=4).to_data() == {"score": 4}


# -- where it is recorded: both forms, refused before anything is written -----------------------------------
def test_both_emit_forms_record_the_same_event(record: EventRecord) -> None:
    typed = record.emit(CsatRecorded(score=4, source="ivr_survey"), call_id="c1")
    named = record.emit("csat.recorded", call_id="c1", data={"score": 4, "source": "ivr_survey"})
    assert typed.data == named.data == {"score": 4, "source": "ivr_survey"}
    assert [(e.type, e.call_id, e.data) for e in recorded(record)] == [
        ("csat.recorded", "c1", typed.data)
    ] * 2
    with pytest.raises(TypeError, match="give a typed payload or data, not both"):
        record.emit(CsatRecorded(score=4), data={"score": 5})


def test_the_record_refuses_a_bad_payload_before_writing(record: EventRecord) -> None:
    with pytest.raises(
        InvalidEventPayload, match="csat.recorded payload, field 'score': missing required field"
    ):
        record.emit("csat.recorded", call_id="c1", data={})
    with pytest.raises(InvalidEventPayload, match="field 'score'"), record.sessions() as s, s.begin():
        record.append_many(s, [(CsatRecorded(score=4), {}), ("csat.recorded", {"data": {"score": "4"}})])
    assert recorded(record) == []
    assert record.emit(CsatRecorded(score=1)).seq == 1  # no sequence number was used up


async def test_the_telephony_store_refuses_a_bad_payload_and_records_the_rest(
    record: EventRecord, caplog: pytest.LogCaptureFixture
) -> None:
    store = TelephonyStore(record.sessions, record)
    try:
        with caplog.at_level(logging.ERROR, logger="duplex.stores.call_store"):
            store.emit("dtmf.received", call_id="c1", data={"digit": "5", "source": "rfc4733"})
            store.emit("dtmf.received", call_id="c1", data={"digit": 5, "source": "rfc4733"})
            store.emit(CsatRecorded(score=5), call_id="c1")  # type: ignore[arg-type]  # typed, through the store
            await store.flush()
    finally:
        store.close()
    assert [(e.type, e.data) for e in recorded(record)] == [
        ("dtmf.received", {"digit": "5", "source": "rfc4733"}),
        ("csat.recorded", {"score": 5}),
    ]
    assert store.errors == 1
    assert "dtmf.received payload, field 'digit': expected str, got int 5" in caplog.text


# -- the import face -------------------------------------------------------------------------------------------
def loaded_by(module: str, roots: tuple[str, ...] = ("asyncio", "sqlalchemy")) -> list[str]:
    """The modules under `roots` a fresh interpreter has loaded after importing `module`."""
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r} or m in {roots!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def test_the_catalogue_loads_neither_a_database_nor_an_event_loop() -> None:
    assert loaded_by("duplex.events") == []
    assert loaded_by("duplex.events.types") == []
    # the same check sees them where they are (the record writes to the database)
    assert {"asyncio", "sqlalchemy"} <= set(loaded_by("duplex.events.record"))


def test_events_do_not_import_reports() -> None:
    """Reports build on events (the record is given its projectors), never the reverse."""
    for module in ("duplex.events.record", "duplex.events.bus", "duplex.events.filters"):
        assert loaded_by(module, ("duplex.reports",)) == [], module
    assert loaded_by("duplex.reports.live", ("duplex.reports",)) == ["duplex.reports"]


def test_the_catalogue_exports_every_payload_class() -> None:
    from duplex.events import types

    assert {cls.__name__ for cls in PAYLOADS.values()} <= set(types.__all__)
    assert types.__all__ == sorted(types.__all__) and all(hasattr(types, name) for name in types.__all__)
