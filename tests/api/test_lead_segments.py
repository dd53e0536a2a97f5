"""Lead selection by the filter language (GET /leads?filter=, a campaign's saved lead_filter) and recycling
of exhausted lists, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest_api import World

from duplex.api.lead_filter import All, Comparison, FilterError, Negation, matches, parse_filter
from duplex.db.models import Campaign, DncEntry, Event, Lead

A, S, G = "admin", "sup", "agent"
DAY = dt.timedelta(days=1)


def add_leads(world: World) -> None:
    """Leads 2-7 of list 1 next to the seeded lead 1 (+40712345678, status new, no custom fields)."""
    now = world.clock.now
    rows: list[dict[str, Any]] = [
        dict(phone="+40712345001", priority=5, status="done", last_outcome="no_answer",
             last_attempt_at=now - 4 * DAY, attempts=3, custom={"interest": "solar", "home owner": "yes"}),
        dict(phone="+40712345002", priority=9, status="retry", last_outcome="busy",
             last_attempt_at=now - 1 * DAY, attempts=2, custom={"interest": "wind"}),
        dict(phone="+40712345003", priority=1, status="done", last_outcome="sale",
             last_attempt_at=now - 9 * DAY, attempts=1, custom={"interest": "solar"}, email="c@example.com"),
        dict(phone="+40722000000", priority=7, status="done", last_outcome="no_answer",
             last_attempt_at=now - 9 * DAY, attempts=3, custom={"interest": "solar"}),  # on the DNC list
        dict(phone="+40712345005", priority=-2, status="dnc", last_outcome="no_answer",
             last_attempt_at=now - 9 * DAY, attempts=3, custom={}),
        dict(phone="+40712345006", priority=3, status="retry", last_outcome="no_answer",
             last_attempt_at=now - 5 * DAY, attempts=2, custom={"interest": ""}, timezone="Europe/Bucharest"),
    ]  # fmt: skip
    with world.app.state.sessions() as s, s.begin():
        s.add_all(Lead(list_id=1, **row) for row in rows)


FILTERS = [
    'custom.interest == "solar"',
    'custom.interest != "solar"',
    'not custom.interest == "solar"',
    "custom.interest == None",
    'custom["home owner"] == "yes" or priority >= 9',
    "3 <= priority < 8",
    'status in ("retry", "done") and attempts >= 2',
    'status not in ("done",)',
    'last_outcome == "no_answer" and not (priority > 5)',
    "email != None",
    'email == "" and timezone != "Europe/Bucharest"',
    "list_id == 1 and priority != 0",
]


async def test_filters_select_in_sql_what_they_match_in_memory(world: World) -> None:
    add_leads(world)
    leads = world.rows(Lead)
    for text in FILTERS:
        response = await world.as_(S, "GET", "/leads", params={"filter": text, "limit": 100})
        assert response.status_code == 200, (text, response.text)
        got = [item["phone"] for item in response.json()["items"]]
        assert got == [lead.phone for lead in leads if matches(parse_filter(text), lead)], text
    solar = await world.as_(S, "GET", "/leads", params={"filter": FILTERS[0], "list_id": 1})
    assert [i["phone"] for i in solar.json()["items"]] == ["+40712345001", "+40712345003", "+40722000000"]
    rest = await world.as_(S, "GET", "/leads", params={"filter": FILTERS[1]})
    assert [i["phone"] for i in rest.json()["items"]] == ["+40712345678", "+40712345002", "+40712345005",
                                                           "+40712345006"]  # fmt: skip
    assert solar.json()["items"][0]["last_outcome"] == "no_answer"


BAD_FILTERS = [
    ("", "at column 1: the filter is empty"),
    ("priority >=", "at column 1: syntax error: invalid syntax"),
    ("priority == 'a", "at column 13: syntax error: unterminated string literal"),
    ("priority >= '5'", "at column 13: priority compares with integers"),
    ("custom.age > 30", "at column 14: custom.age is text: use ==, !=, in or not in"),
    ("custom.interest == 5", "at column 20: custom.interest compares with strings"),
    ("status == 'sold'", "at column 11: unknown status 'sold'"),
    ("colour == 'red'", "at column 11: unknown field 'colour'"),
    ("priority", "at column 1: expected a comparison such as priority >= 5, got 'priority'"),
    ("priority in 5", "at column 13: 'in' needs a list"),
    ("__import__('os').system('x') == 1", "at column 1: a comparison needs a field"),
    ("priority > None", "at column 12: None compares with == or != only"),
    ("(" * 300 + "priority == 1" + ")" * 300, "at column 201: syntax error: too many nested parentheses"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILTERS, ids=range(len(BAD_FILTERS)))
def test_bad_filters_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert str(caught.value).startswith(message), str(caught.value)


def test_filter_tree() -> None:
    assert parse_filter("1 <= priority <= 5 and not custom['x y'] == 'z'") == All((
        All((Comparison(field="priority", op=">=", value=1), Comparison(field="priority", op="<=", value=5))),
        Negation(Comparison(field="x y", op="==", value="z", custom=True)),
    ))  # fmt: skip


async def test_bad_filter_on_leads_is_a_422(world: World) -> None:
    response = await world.as_(S, "GET", "/leads", params={"filter": "colour == 'red'"})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["query", "filter"] and "unknown field 'colour'" in detail["msg"]


async def test_campaign_saves_a_validated_lead_filter(world: World) -> None:
    text = 'custom.interest == "solar" and priority >= 5'
    created = await world.as_(A, "POST", "/campaigns", json={"name": "solar push", "lead_filter": text})
    assert created.status_code == 201, created.text
    assert created.json()["lead_filter"] == text
    (campaign,) = world.rows(Campaign, Campaign.name == "solar push")
    assert campaign.lead_filter == text
    bad = await world.as_(A, "PATCH", f"/campaigns/{campaign.id}", json={"lead_filter": "priority >= 'x'"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "lead_filter"
    assert "priority compares with integers" in bad.json()["detail"][0]["msg"]
    cleared = await world.as_(A, "PATCH", f"/campaigns/{campaign.id}", json={"lead_filter": None})
    assert cleared.status_code == 200 and cleared.json()["lead_filter"] is None


async def test_recycle_resets_chosen_end_states_after_n_days(world: World) -> None:
    add_leads(world)
    body = {"statuses": ["done", "retry"], "outcomes": ["no_answer", "busy"], "after_days": 3}
    dry = await world.as_(S, "POST", "/lead-lists/1/recycle", json={**body, "dry_run": True})
    assert dry.status_code == 200 and dry.json() == {"list_id": 1, "recycled": 2, "dry_run": True}
    assert world.count(Lead, Lead.status == "new") == 1

    response = await world.as_(S, "POST", "/lead-lists/1/recycle", json=body)
    assert response.json() == {"list_id": 1, "recycled": 2, "dry_run": False}
    leads = {lead.phone: lead for lead in world.rows(Lead)}
    # 001 (no_answer, 4 days) and 006 (no_answer, 5 days) are back; 002 was dialed a day ago, 003 was a
    # sale, the DNC-listed number and the dnc lead stay as they were.
    assert sorted(p for p, lead in leads.items() if lead.status == "new") == [
        "+40712345001", "+40712345006", "+40712345678"
    ]  # fmt: skip
    again = leads["+40712345001"]
    assert (again.attempts, again.next_attempt_at, again.last_outcome) == (0, None, "no_answer")
    assert again.last_attempt_at is not None  # the history the 72-hour rule looks at is kept
    assert leads["+40722000000"].status == "done" and leads["+40712345002"].status == "retry"
    (event,) = world.rows(Event, Event.type == "lead.recycled")
    assert (
        event.campaign_id == 1 and event.data["recycled"] == 2 and event.data["outcomes"] == body["outcomes"]
    )

    narrowed = await world.as_(S, "POST", "/lead-lists/1/recycle",
                               json={"statuses": ["done"], "filter": 'custom.interest == "solar"'})  # fmt: skip
    assert narrowed.json()["recycled"] == 1  # 003 (the sale); the DNC-listed solar lead never
    with world.app.state.sessions() as s, s.begin():  # an expired DNC entry no longer holds a lead back
        s.query(DncEntry).update({"expires_at": world.clock.now - DAY})
    assert (await world.as_(S, "POST", "/lead-lists/1/recycle", json={"statuses": ["done"]})).json()[
        "recycled"
    ] == 1


async def test_recycle_refuses_what_must_not_be_redialed(world: World) -> None:
    for body, loc in [
        ({"statuses": ["dnc"]}, "statuses"),
        ({"statuses": ["retry", "dialing"]}, "statuses"),
        ({"statuses": []}, "statuses"),
        ({"statuses": ["done"], "after_days": -1}, "after_days"),
        ({"statuses": ["done"], "filter": "custom.x > 1"}, "filter"),
        ({"statuses": ["done"], "when": "now"}, "when"),
    ]:
        response = await world.as_(S, "POST", "/lead-lists/1/recycle", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"][:2] == ["body", loc], response.json()
    assert (
        await world.as_(G, "POST", "/lead-lists/1/recycle", json={"statuses": ["done"]})
    ).status_code == 403
    missing = await world.as_(S, "POST", "/lead-lists/9/recycle", json={"statuses": ["done"]})
    assert missing.status_code == 404
    assert world.count(Event, Event.type == "lead.recycled") == 0
