"""The screen pop of a call over the API (SQLite and PostgreSQL): what it shows, derived from the recorded
events and the tables; who may read it; notes on a call; a lead made from the caller.

The calls are recorded through an EventRecord with a set clock (so the CDR rows are projected and the times
are known); the seeded world has queue 1 (team-less), campaign 1 "spring", agent 1 (user "agent", team 1),
agent 2 (user "agent2", team 2), phone number 1 (+40215550000), lead 1 (+40712345678 in list 1 "list")."""

from __future__ import annotations

from typing import Any

import pytest
from conftest_api import World

from duplex.db.models import Event, Lead
from duplex.events.record import EventRecord

T0 = 1_780_000_000_000  # ms: the calls below happen around then

Step = tuple[int, str, dict[str, Any], dict[str, Any]]  # (ms after T0, type, envelope ids, data)


def _ended(reason: str = "caller_hangup") -> dict[str, Any]:
    return {
        "reason": reason,
        "answered": True,
        "hangup_by": "remote",
        "leg_kind": "caller",
        "sip_status": None,
    }


def _created(src: str, dst: str, direction: str = "inbound", source: str | None = None) -> dict[str, Any]:
    return {"direction": direction, "from": src, "to": dst, "tracking_source": source, "phone_number_id": 1}


CALLS: dict[str, list[Step]] = {
    # earlier: the same caller, written the national way, answered by agent 2, sale with a note
    "prev-1": [
        (0, "call.created", {}, _created("0712345678", "+40215550000", source="newspaper")),
        (1000, "queue.entered", {"queue_id": 1}, {}),
        (3000, "agent.accepted", {"queue_id": 1, "agent_id": 2}, {}),
        (
            60_000,
            "disposition.set",
            {"agent_id": 2},
            {"disposition_id": 1, "code": "sale", "notes": "bought plan", "revenue": 10.0, "by_user_id": 4},
        ),
        (61_000, "call.note_added", {"agent_id": 2}, {"text": "asked about invoices", "by_user_id": 4}),
        (62_000, "call.ended", {}, _ended()),
    ],
    # later: the campaign called the lead
    "prev-2": [
        (100_000, "call.created", {}, _created("duplex", "+40712345678", direction="outbound")),
        (
            100_000,
            "lead.dialed",
            {"lead_id": 1, "campaign_id": 1},
            {"phone": "+40712345678", "attempt": 1, "mode": "progressive"},
        ),
        (130_000, "call.ended", {}, _ended("agent_hangup")),
    ],
    # somebody else
    "other": [
        (150_000, "call.created", {}, _created("+40799999999", "+40215550000")),
        (151_000, "call.ended", {}, _ended()),
    ],
    # now: menu 2, an account number, a lookup, 45 s in queue 1, answered by agent 1
    "pop-1": [
        (200_000, "call.created", {}, _created("+40712345678", "+40215550000", source="google-ads")),
        (200_100, "ivr.entered", {}, {"flow_id": 1, "version": 1}),
        (200_100, "ivr.node_entered", {}, {"flow_id": 1, "node": "start", "node_type": "answer"}),
        (200_200, "ivr.node_entered", {}, {"flow_id": 1, "node": "menu", "node_type": "menu"}),
        (203_000, "dtmf.received", {}, {"digit": "2", "source": "rfc4733"}),
        (203_000, "ivr.node_entered", {}, {"flow_id": 1, "node": "account", "node_type": "input"}),
        (205_000, "dtmf.received", {}, {"digit": "4", "source": "rfc4733"}),
        (205_500, "dtmf.received", {}, {"digit": "2", "source": "rfc4733"}),
        (
            206_000,
            "ivr.variable_set",
            {},
            {"flow_id": 1, "node": "account", "variable": "account", "value": "42"},
        ),
        (206_000, "ivr.node_entered", {}, {"flow_id": 1, "node": "crm", "node_type": "lookup"}),
        (206_500, "ivr.variable_set", {}, {"flow_id": 1, "node": "crm", "variable": "tier", "value": "gold"}),
        (206_500, "ivr.node_entered", {}, {"flow_id": 1, "node": "support", "node_type": "queue"}),
        (207_000, "queue.entered", {"queue_id": 1}, {"priority": 0, "position": 1}),
        (250_000, "agent.offered", {"queue_id": 1, "agent_id": 1}, {"strategy": "longest_idle"}),
        (252_000, "agent.accepted", {"queue_id": 1, "agent_id": 1}, {"ring_ms": 2000}),
        (252_000, "queue.left", {"queue_id": 1}, {"reason": "answered", "waited_ms": 45_000}),
        (252_100, "call.bridged", {"agent_id": 1}, {"legs": ["a", "b"]}),
    ],
    # ringing at agent 1 right now: offered, not yet accepted
    "ringing-1": [
        (300_000, "call.created", {}, _created("+40799999998", "+40215550000")),
        (300_500, "queue.entered", {"queue_id": 1}, {}),
        (301_000, "agent.offered", {"queue_id": 1, "agent_id": 1}, {}),
    ],
    "anon-1": [
        (310_000, "call.created", {}, _created("anonymous", "+40215550000")),
        (311_000, "agent.accepted", {"queue_id": 1, "agent_id": 1}, {}),
    ],
    # a PIN keyed at a sensitive input, recorded as the flow records it: masks only
    "secret-1": [
        (320_000, "call.created", {}, _created("+40799999997", "+40215550000")),
        (320_100, "ivr.node_entered", {}, {"flow_id": 1, "node": "pin", "node_type": "input"}),
        *[(320_200 + i, "dtmf.received", {}, {"digit": "•", "source": "rfc4733"}) for i in range(4)],
        (
            321_000,
            "ivr.variable_set",
            {},
            {"flow_id": 1, "node": "pin", "variable": "pin", "value": "••••", "sensitive": True},
        ),
        (322_000, "agent.accepted", {"queue_id": 1, "agent_id": 1}, {}),
    ],
}


def _record(world: World, calls: dict[str, list[Step]]) -> None:
    clock = [0]
    record = EventRecord(world.app.state.sessions, node_id="pop-test", clock_ms=lambda: clock[0],
                         projectors=world.app.state.record.projectors)  # fmt: skip
    steps = sorted(
        (at, call_id, type_, ids, data) for call_id, s in calls.items() for at, type_, ids, data in s
    )
    with world.app.state.sessions() as s, s.begin():
        for at, call_id, type_, ids, data in steps:
            clock[0] = T0 + at
            record.append(s, type_, call_id=call_id, data=data, **ids)


@pytest.fixture
async def calls(world: World) -> World:
    _record(world, CALLS)
    return world


async def test_the_pop_shows_the_caller_their_history_the_ivr_and_the_wait(calls: World) -> None:
    answer = await calls.as_("agent", "GET", "/calls/pop-1/screen-pop")
    assert answer.status_code == 200, answer.text
    pop = answer.json()
    assert pop["caller"] == {"number": "+40712345678", "e164": "+40712345678", "callee": False}
    assert pop["call"]["to_number"] == "+40215550000" and pop["call"]["tracking_source"] == "google-ads"
    assert pop["call"]["queue_name"] == "support" and pop["call"]["agent_id"] == 1
    assert [(lead["id"], lead["list_name"]) for lead in pop["leads"]] == [(1, "list")]
    assert pop["contacts"] == []
    assert [c["id"] for c in pop["history"]] == ["prev-2", "prev-1"]  # newest first; "other" is not theirs
    prev2, prev1 = pop["history"]
    assert (prev2["direction"], prev2["campaign_name"]) == ("outbound", "spring")
    assert (prev1["queue_name"], prev1["agent_id"], prev1["disposition_code"]) == ("support", 2, "sale")
    assert prev1["disposition_notes"] == "bought plan" and prev1["tracking_source"] == "newspaper"
    assert [n["text"] for n in prev1["notes"]] == ["asked about invoices"] and prev1["notes"][0][
        "by_name"
    ] == "agent2"
    assert prev1["talk_seconds"] == 59
    ivr = pop["ivr"]
    assert [s["node"] for s in ivr["path"]] == ["start", "menu", "account", "crm", "support"]
    assert ivr["path"][0]["flow_name"] == "main"
    assert [(i["variable"], i["value"], i["node_type"]) for i in ivr["inputs"]] == [
        ("account", "42", "input"), ("tier", "gold", "lookup")]  # fmt: skip
    assert [(k["digit"], k["node"]) for k in ivr["key_presses"]] == [
        ("2", "menu"),
        ("4", "account"),
        ("2", "account"),
    ]
    assert pop["waited_ms"] == 45_000
    assert [(w["queue_name"], w["outcome"], w["agent_id"]) for w in pop["queue_waits"]] == [
        ("support", "answered", 1)
    ]
    assert [ll["name"] for ll in pop["lead_lists"]] == ["list"]


async def test_who_may_read_a_pop(calls: World) -> None:
    expected = {
        ("admin", "pop-1"): 200, ("sup", "pop-1"): 200, ("agent", "pop-1"): 200, ("agent2", "pop-1"): 404,
        ("none", "pop-1"): 401, ("agent", "ringing-1"): 200, ("agent2", "ringing-1"): 404,
        ("agent2", "prev-1"): 200, ("agent", "prev-1"): 404, ("sup", "prev-1"): 404, ("admin", "nope"): 404,
    }  # fmt: skip
    got = {(who, call): (await calls.as_(who, "GET", f"/calls/{call}/screen-pop")).status_code
           for who, call in expected}  # fmt: skip
    assert got == expected


async def test_a_national_caller_matches_in_the_region_of_the_number_dialled(calls: World) -> None:
    await calls.as_("agent", "POST", "/contacts", json={"name": "Ana", "phones": ["+40712345678"]})
    pop = (await calls.as_("agent2", "GET", "/calls/prev-1/screen-pop")).json()
    assert pop["caller"] == {"number": "0712345678", "e164": "+40712345678", "callee": False}
    assert [c["name"] for c in pop["contacts"]] == ["Ana"]
    assert [c["id"] for c in pop["history"]] == ["pop-1", "prev-2"]


async def test_notes_are_events_shown_in_the_pop_and_the_history(calls: World) -> None:
    saved = await calls.as_("agent", "POST", "/calls/pop-1/notes", json={"text": "  wants a refund  "})
    assert saved.status_code == 201, saved.text
    assert saved.json()["text"] == "wants a refund" and saved.json()["by_user_id"] == 3
    [event] = calls.rows(Event, Event.type == "call.note_added", Event.call_id == "pop-1")
    assert (event.agent_id, event.queue_id, event.data) == (1, 1, {"text": "wants a refund", "by_user_id": 3})
    listed = await calls.as_("sup", "GET", "/calls/pop-1/notes")
    assert [n["text"] for n in listed.json()] == ["wants a refund"]
    pop = (await calls.as_("agent", "GET", "/calls/pop-1/screen-pop")).json()
    assert [n["text"] for n in pop["notes"]] == ["wants a refund"]
    earlier = (await calls.as_("agent2", "GET", "/calls/prev-1/screen-pop")).json()
    assert [n["text"] for n in earlier["history"][0]["notes"]] == ["wants a refund"]
    for body, loc in (({"text": "   "}, ["body", "text"]), ({"text": ""}, ["body", "text"]),
                      ({"text": "x" * 4001}, ["body", "text"]), ({"note": "x"}, ["body", "note"])):  # fmt: skip
        bad = await calls.as_("agent", "POST", "/calls/pop-1/notes", json=body)
        assert bad.status_code == 422 and loc in [d["loc"] for d in bad.json()["detail"]], bad.text
    assert (await calls.as_("agent2", "POST", "/calls/pop-1/notes", json={"text": "x"})).status_code == 404


async def test_an_agent_turns_the_caller_into_a_lead(calls: World) -> None:
    duplicate = await calls.as_("agent", "POST", "/calls/pop-1/lead", json={"list_id": 1})
    assert duplicate.status_code == 409  # the list has this number already
    other = await calls.as_("admin", "POST", "/lead-lists", json={"name": "inbound callers"})
    made = await calls.as_(
        "agent",
        "POST",
        "/calls/pop-1/lead",
        json={"list_id": other.json()["id"], "first_name": "Ana", "custom": {"tier": "gold"}},
    )
    assert made.status_code == 201, made.text
    assert (made.json()["phone"], made.json()["list_name"], made.json()["status"]) == (
        "+40712345678", "inbound callers", "new")  # fmt: skip
    [event] = calls.rows(Event, Event.type == "lead.created", Event.call_id == "pop-1")
    assert event.lead_id == made.json()["id"] and event.data["phone"] == "+40712345678"
    assert calls.count(Lead) == 2
    missing = await calls.as_("agent", "POST", "/calls/pop-1/lead", json={"list_id": 999})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "list_id"]
    anonymous = await calls.as_("agent", "POST", "/calls/anon-1/lead", json={"list_id": 1})
    assert anonymous.status_code == 422 and anonymous.json()["detail"][0]["loc"] == ["path", "call_id"]
    assert (await calls.as_("agent2", "POST", "/calls/pop-1/lead", json={"list_id": 1})).status_code == 404


async def test_a_sensitive_input_shows_its_mask_and_says_it_is_one(calls: World) -> None:
    answer = await calls.as_("agent", "GET", "/calls/secret-1/screen-pop")
    assert answer.status_code == 200, answer.text
    ivr = answer.json()["ivr"]
    assert [(i["variable"], i["value"], i["sensitive"]) for i in ivr["inputs"]] == [("pin", "••••", True)]
    assert [(k["digit"], k["node"]) for k in ivr["key_presses"]] == [("•", "pin")] * 4
    pop = (await calls.as_("agent", "GET", "/calls/pop-1/screen-pop")).json()
    assert [i["sensitive"] for i in pop["ivr"]["inputs"]] == [False, False]


def _leg(kind: str, direction: str) -> dict[str, Any]:
    return {"kind": kind, "remote_uri": "", "direction": direction, "trunk_id": None, "sip_call_id": ""}


async def test_a_call_the_agent_placed_pops_the_callee(calls: World) -> None:
    """Agent 1's phone dials the lead's number (through a trunk): the pop is the callee's, with their history,
    and the call is in the history of the callee's later pops."""
    _record(calls, {"placed-1": [
        (400_000, "call.created", {}, _created("agent", "+40712345678", direction="internal")),
        (400_000, "leg.created", {"agent_id": 1}, _leg("agent", "inbound")),  # the agent's phone INVITEd us
        (400_100, "leg.created", {}, _leg("outbound", "outbound")),
        (405_000, "call.bridged", {"agent_id": 1}, {"legs": ["a", "b"]}),
    ]})  # fmt: skip
    answer = await calls.as_("agent", "GET", "/calls/placed-1/screen-pop")
    assert answer.status_code == 200, answer.text
    pop = answer.json()
    assert pop["caller"] == {"number": "+40712345678", "e164": "+40712345678", "callee": True}
    assert [lead["id"] for lead in pop["leads"]] == [1]
    assert [c["id"] for c in pop["history"]] == ["pop-1", "prev-2", "prev-1"]
    assert (await calls.as_("agent2", "GET", "/calls/placed-1/screen-pop")).status_code == 404
    later = (await calls.as_("agent", "GET", "/calls/pop-1/screen-pop")).json()
    assert [c["id"] for c in later["history"]] == ["placed-1", "prev-2", "prev-1"]
