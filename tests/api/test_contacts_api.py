"""CRM contacts over the API (SQLite and PostgreSQL): E.164 numbers, 422s that name the field, who may
delete, the lookup of a number in contacts and leads, and the events each write records."""

from __future__ import annotations

from conftest_api import World

from duplex.db.models import ContactPhone, Event


async def test_an_agent_saves_a_contact_with_national_and_international_numbers(world: World) -> None:
    body = {"name": "Ana Pop", "company": "Pop SRL", "email": "ana@pop.ro", "region": "RO",
            "phones": ["0721 000 001", "+40 21 555 0100", "0721000001"], "notes": "VIP",
            "custom": {"account": "42", "tier": "gold"}}  # fmt: skip
    created = await world.as_("agent", "POST", "/contacts", json=body)
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["phones"] == ["+40721000001", "+40215550100"]  # E.164, the duplicate dropped
    assert contact["custom"] == {"account": "42", "tier": "gold"}
    assert contact["created_by_user_id"] == 3
    [event] = world.rows(Event, Event.type == "contact.created")
    assert event.data == {"id": contact["id"], "name": "Ana Pop", "phones": ["+40721000001", "+40215550100"]}
    found = await world.as_("agent2", "GET", "/contacts", params={"phone": "+40721000001"})
    assert [c["id"] for c in found.json()["items"]] == [contact["id"]]
    by_text = await world.as_("agent", "GET", "/contacts", params={"q": "pop srl"})
    assert [c["id"] for c in by_text.json()["items"]] == [contact["id"]]

    changed = await world.as_(
        "agent", "PATCH", f"/contacts/{contact['id']}", json={"phones": ["+40215550100"]}
    )
    assert changed.status_code == 200 and changed.json()["phones"] == ["+40215550100"]
    assert [p.phone for p in world.rows(ContactPhone)] == ["+40215550100"]
    [update] = world.rows(Event, Event.type == "contact.updated")
    assert update.data["phones"] == ["+40215550100"]


async def test_bad_input_is_a_422_naming_the_field(world: World) -> None:
    cases = [
        ({"name": "x", "phones": ["+40721000001", "not a number"]}, ["body", "phones", 1]),
        ({"name": "x", "phones": ["0721000001"]}, ["body", "phones", 0]),  # national without a region
        ({"name": "x", "email": "nobody"}, ["body", "email"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "x", "custom": ["a"]}, ["body", "custom"]),
        ({"name": "x", "colour": "red"}, ["body", "colour"]),
        ({"name": "x", "phones": ["+40721000001"] * 11}, ["body", "phones"]),
    ]
    for body, loc in cases:
        answer = await world.as_("agent", "POST", "/contacts", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert loc in [d["loc"] for d in answer.json()["detail"]], (body, answer.json())
    assert world.count(ContactPhone) == 0
    bad_filter = await world.as_("agent", "GET", "/contacts", params={"phone": "nonsense"})
    assert bad_filter.status_code == 422 and bad_filter.json()["detail"][0]["loc"] == ["query", "phone"]


async def test_agents_may_not_delete_contacts_supervisors_may(world: World) -> None:
    contact = (await world.as_("agent", "POST", "/contacts", json={"name": "Bob"})).json()
    assert (await world.as_("agent", "DELETE", f"/contacts/{contact['id']}")).status_code == 403
    assert (await world.as_("none", "GET", "/contacts")).status_code == 401
    assert (await world.as_("sup", "DELETE", f"/contacts/{contact['id']}")).status_code == 204
    assert (await world.as_("admin", "GET", f"/contacts/{contact['id']}")).status_code == 404
    assert [e.data for e in world.rows(Event, Event.type == "contact.deleted")] == [{"id": contact["id"]}]


async def test_lookup_finds_contacts_and_for_staff_leads_by_number(world: World) -> None:
    await world.as_("admin", "POST", "/contacts", json={"name": "Lead Person", "phones": ["+40712345678"]})
    staff = await world.as_("sup", "GET", "/contacts/lookup", params={"phone": "0712345678", "region": "RO"})
    assert staff.status_code == 200, staff.text
    assert staff.json()["phone"] == "+40712345678"
    assert [c["name"] for c in staff.json()["contacts"]] == ["Lead Person"]
    assert [(lead["phone"], lead["list_name"]) for lead in staff.json()["leads"]] == [
        ("+40712345678", "list")
    ]
    agent = await world.as_("agent", "GET", "/contacts/lookup", params={"phone": "+40712345678"})
    assert [c["name"] for c in agent.json()["contacts"]] == ["Lead Person"] and agent.json()["leads"] == []
    bad = await world.as_("agent", "GET", "/contacts/lookup", params={"phone": "12"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "phone"]
