"""Call scripts over the API (SQLite and PostgreSQL): saved only when valid (errors name the page), a campaign's
script on the lead card with the lead's fields filled in, answers checked, recorded on the call and the lead,
and exported per campaign as CSV; callbacks in the callee's time zone; no leaving wrap-up without a
disposition."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from conftest_api import World, issue_tokens
from sqlalchemy import select, update

from duplex.db.models import Agent, Call, Disposition, Event, Lead

SCRIPT: dict[str, Any] = {
    "start": "greet",
    "pages": {
        "greet": {
            "title": "Hello {{lead.first_name}}",
            "text": "Hello {{lead.first_name}}, this is {{agent.name}} about {{lead.custom.interest}}.",
            "questions": [{"key": "interested", "label": "Interested?", "type": "yes_no", "required": True}],
            "branches": [{"if": "interested", "equals": "yes", "goto": "order"}],
            "next": "bye",
        },
        "order": {
            "text": "Delivery details",
            "questions": [
                {"key": "panels", "label": "Panels", "type": "number", "min": 1, "max": 40, "required": True},
                {"key": "delivery_date", "label": "Delivery date", "type": "date"},
                {"key": "address", "label": "Address", "type": "text"},
            ],
            "next": "bye",
        },
        "bye": {"text": "Thank you."},
    },
}


def freeze(world: World, at: dt.datetime) -> None:
    """The app's clock at `at`, with tokens issued then (a token from the real now would be expired or not
    yet valid)."""
    world.clock.now = at
    world.headers.update(issue_tokens(world.app))


async def make_script(world: World, definition: dict[str, Any] | None = None) -> int:
    created = await world.as_(
        "sup", "POST", "/call-scripts", json={"name": "solar", "definition": definition or SCRIPT}
    )
    assert created.status_code == 201, created.text
    script_id = int(created.json()["id"])
    linked = await world.as_("sup", "PATCH", "/campaigns/1", json={"script_id": script_id})
    assert linked.status_code == 200 and linked.json()["script_id"] == script_id
    with world.app.state.sessions() as s, s.begin():
        s.execute(
            update(Lead).values(first_name="Ana", custom={"interest": "solar"}, timezone="Europe/Bucharest")
        )
    return script_id


async def test_an_invalid_script_is_refused_naming_the_page_and_field(world: World) -> None:
    bad = {"start": "greet", "pages": {"greet": {"text": "Hi {{lead.first_name}", "next": "gone"}}}
    refused = await world.as_("sup", "POST", "/call-scripts", json={"name": "broken", "definition": bad})
    assert refused.status_code == 422
    found = {(e["ctx"]["page"], e["ctx"]["field"]) for e in refused.json()["detail"]}
    assert found == {("greet", "text"), ("greet", "next")}
    assert ["body", "definition", "pages", "greet", "next"] in [e["loc"] for e in refused.json()["detail"]]
    checked = await world.as_("sup", "POST", "/call-scripts/validate", json={"definition": bad})
    assert (
        checked.status_code == 200 and checked.json()["valid"] is False and len(checked.json()["errors"]) == 2
    )
    assert (
        await world.as_("agent", "POST", "/call-scripts", json={"name": "x", "definition": SCRIPT})
    ).status_code == 403
    script_id = await make_script(world)
    patched = await world.as_("sup", "PATCH", f"/call-scripts/{script_id}", json={"definition": bad})
    assert patched.status_code == 422
    assert (await world.as_("agent", "GET", f"/call-scripts/{script_id}")).json()["definition"] == SCRIPT


async def test_the_card_fills_the_script_and_answers_land_on_call_lead_and_csv(world: World) -> None:
    await make_script(world)
    freeze(world, dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC))
    card = await world.as_("agent", "GET", "/leads/1/card")
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["time_zone"] == "Europe/Bucharest" and body["local_time"].startswith("2026-12-07T12:00")
    assert body["campaign"]["name"] == "spring" and body["attempts"] == 0
    greet = body["script"]["pages"][0]
    assert greet["title"] == "Hello Ana"
    assert greet["text"] == "Hello Ana, this is agent about solar."  # the seeded user has no full name
    assert [d["code"] for d in body["dispositions"]] == ["sale"]

    with world.app.state.sessions() as s, s.begin():
        s.execute(update(Call).where(Call.id == "c-1").values(lead_id=1))
    refused = await world.as_(
        "agent", "POST", "/leads/1/answers", json={"page": "greet", "answers": {}, "call_id": "c-1"}
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == [
        "body",
        "answers",
        "interested",
    ]
    first = await world.as_("agent", "POST", "/leads/1/answers",
                            json={"page": "greet", "answers": {"interested": "yes"}, "call_id": "c-1"})  # fmt: skip
    assert first.status_code == 200 and first.json() == {"lead_id": 1, "page": "greet", "answers": {"interested": True},
                                                         "next": "order"}  # fmt: skip
    bad = await world.as_(
        "agent", "POST", "/leads/1/answers", json={"page": "order", "answers": {"panels": 99}}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "answers", "panels"]
    order = {"panels": "12", "delivery_date": "2026-12-24", "address": "Str. Lunga 1, Cluj"}
    second = await world.as_(
        "agent", "POST", "/leads/1/answers", json={"page": "order", "answers": order, "call_id": "c-1"}
    )
    assert second.status_code == 200 and second.json()["next"] == "bye"

    lead = world.rows(Lead, Lead.id == 1)[0]
    assert lead.custom == {"interest": "solar", "interested": True, "panels": 12, "delivery_date": "2026-12-24",
                           "address": "Str. Lunga 1, Cluj"}  # fmt: skip
    events = world.rows(Event, Event.type == "script.answered")
    assert [(e.call_id, e.lead_id, e.campaign_id, e.agent_id, e.data["page"]) for e in events] == [
        ("c-1", 1, 1, 1, "greet"), ("c-1", 1, 1, 1, "order")]  # fmt: skip
    selected = await world.as_(
        "sup", "GET", "/leads", params={"filter": 'custom.address == "Str. Lunga 1, Cluj"'}
    )
    assert [lead["id"] for lead in selected.json()["items"]] == [1]  # a lead filter selects on an answer
    again = await world.as_("agent", "GET", "/leads/1/card")

    assert again.json()["answers"]["panels"] == 12

    on_call = await world.as_("agent", "GET", "/calls/c-1/answers")
    assert on_call.status_code == 200 and on_call.json() == {
        "call_id": "c-1", "lead_id": 1, "pages": ["greet", "order"],
        "answers": {"interested": True, "panels": 12, "delivery_date": "2026-12-24", "address": "Str. Lunga 1, Cluj"}}  # fmt: skip
    assert (await world.as_("agent2", "GET", "/calls/c-1/answers")).status_code == 404  # another agent's call
    assert (await world.as_("agent", "GET", "/campaigns/1/answers.csv")).status_code == 403
    export = await world.as_("sup", "GET", "/campaigns/1/answers.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert list(rows[0])[:5] == ["call_id", "lead_id", "phone", "agent_id", "answered_at"]
    assert [(r["call_id"], r["phone"], r["interested"], r["panels"], r["delivery_date"], r["address"]) for r in rows] == [
        ("c-1", "+40712345678", "yes", "12", "2026-12-24", "Str. Lunga 1, Cluj")]  # fmt: skip


async def test_answers_need_a_script_and_a_lead_of_a_campaign(world: World) -> None:
    assert (await world.as_("agent", "POST", "/leads/1/answers", json={"page": "greet"})).status_code == 409
    await make_script(world)
    unknown = await world.as_("agent", "POST", "/leads/1/answers", json={"page": "nowhere"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "page"]
    assert (
        await world.as_("agent", "POST", "/leads/1/answers", json={"page": "bye", "call_id": "c-9"})
    ).status_code == 422
    assert (await world.as_("agent", "GET", "/leads/99/card")).status_code == 404


async def test_a_callback_is_set_on_the_callee_clock_inside_the_window(world: World) -> None:
    await make_script(world)
    freeze(world, dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC))
    late = await world.as_("agent", "POST", "/leads/1/callback", json={"local": "2026-12-08T21:30"})
    assert (
        late.status_code == 422
        and "outside the calling window 09:00-20:00" in late.json()["detail"][0]["msg"]
    )
    past = await world.as_("agent", "POST", "/leads/1/callback", json={"at": "2026-12-06T10:00:00+00:00"})
    assert past.status_code == 422 and past.json()["detail"][0]["loc"] == ["body", "at"]
    both = await world.as_(
        "agent", "POST", "/leads/1/callback", json={"at": "2026-12-08T10:00:00Z", "local": "x"}
    )
    assert both.status_code == 422
    ok = await world.as_(
        "agent", "POST", "/leads/1/callback", json={"local": "2026-12-08T10:30", "personal": True}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"lead_id": 1, "due": "2026-12-08T08:30:00Z", "callee_local": "2026-12-08T10:30+02:00",
                         "time_zone": "Europe/Bucharest", "agent_id": 1}  # fmt: skip
    lead = world.rows(Lead, Lead.id == 1)[0]
    assert (lead.status.value, lead.callback_agent_id) == ("callback", 1)
    assert lead.next_attempt_at.replace(tzinfo=dt.UTC) == dt.datetime(2026, 12, 8, 8, 30, tzinfo=dt.UTC)
    event = world.rows(Event, Event.type == "lead.callback_scheduled")[0]
    assert (event.lead_id, event.agent_id, event.data["due_ms"]) == (1, 1, 1796718600000)
    anyone = await world.as_("agent", "POST", "/leads/1/callback", json={"at": "2026-12-08T09:00:00+00:00"})
    assert anyone.status_code == 200 and anyone.json()["agent_id"] is None


async def test_wrap_up_needs_a_disposition_and_a_callback_disposition_needs_its_time(world: World) -> None:
    with world.app.state.sessions() as s, s.begin():
        s.execute(update(Agent).where(Agent.id == 1).values(state="wrap_up"))
        s.execute(update(Call).where(Call.id == "c-1").values(ended_at=dt.datetime.now(dt.UTC), lead_id=1))
        s.add(
            Disposition(
                code="callback", label="Call back", campaign_id=1, schedules_callback=True, is_final=False
            )
        )
    refused = await world.as_("agent", "POST", "/agents/1/state", json={"state": "available"})
    assert refused.status_code == 409 and "set a disposition for call c-1" in refused.json()["detail"]
    assert (await world.as_("agent", "POST", "/agents/1/state", json={"state": "break"})).status_code == 200
    with world.app.state.sessions() as s, s.begin():
        s.execute(update(Agent).where(Agent.id == 1).values(state="wrap_up"))
        callback_id = s.scalar(select(Disposition.id).where(Disposition.code == "callback"))
    no_time = await world.as_("agent", "POST", "/calls/c-1/disposition", json={"disposition_id": callback_id})
    assert no_time.status_code == 422 and no_time.json()["detail"][0]["loc"] == ["body", "callback"]
    freeze(world, dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC))
    done = await world.as_("agent", "POST", "/calls/c-1/disposition", json={
        "disposition_id": callback_id, "notes": "call after lunch",
        "callback": {"local": "2026-12-08T14:00", "personal": True}})  # fmt: skip
    assert done.status_code == 200, done.text
    lead = world.rows(Lead, Lead.id == 1)[0]
    assert (lead.status.value, lead.callback_agent_id) == ("callback", 1)
    assert [e.call_id for e in world.rows(Event, Event.type == "lead.callback_scheduled")] == ["c-1"]
    available = await world.as_("agent", "POST", "/agents/1/state", json={"state": "available"})
    assert available.status_code == 200 and available.json()["state"] == "available"
