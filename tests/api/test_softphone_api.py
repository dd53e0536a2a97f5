"""GET /softphone: a user with an agent row (an agent, or a supervisor given a phone) reads its own SIP account
(for the browser softphone), nobody else does."""

from __future__ import annotations

from conftest_api import World

from duplex.db.models import Agent


async def test_an_agent_gets_its_own_sip_account_and_no_other_role_gets_one(world: World) -> None:
    answer = await world.as_("agent", "GET", "/softphone")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    mine = world.rows(Agent, Agent.user_id == 3)[0]
    assert (body["agent_id"], body["sip_username"], body["sip_password"]) == (
        mine.id, mine.sip_username, mine.sip_password,
    )  # fmt: skip
    other = await world.as_("agent2", "GET", "/softphone")
    assert other.json()["sip_username"] != body["sip_username"]
    for role, status in (("admin", 403), ("sup", 403), ("none", 401)):
        assert (await world.as_(role, "GET", "/softphone")).status_code == status, role


async def test_the_websocket_port_is_the_one_sip_listens_on(world: World) -> None:
    world.app.state.sip_status = {"ws": 41234}
    body = (await world.as_("agent", "GET", "/softphone")).json()
    assert (body["ws_port"], body["ws_scheme"]) == (41234, "ws")


async def test_a_supervisor_given_an_agent_row_gets_that_phone_for_monitoring(world: World) -> None:
    created = await world.as_("admin", "POST", "/agents", json={
        "user_id": 2, "extension": "190", "sip_username": "sup-phone", "sip_password": "sup-secret-1"})  # fmt: skip
    assert created.status_code == 201, created.text
    body = (await world.as_("sup", "GET", "/softphone")).json()
    assert (body["sip_username"], body["sip_password"], body["extension"]) == (
        "sup-phone",
        "sup-secret-1",
        "190",
    )
    assert (await world.as_("admin", "GET", "/softphone")).status_code == 403  # the admin still has none
