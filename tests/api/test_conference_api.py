"""POST/GET /calls/{id}/conference without a SIP engine: who may ask, which calls they may ask about and the
refusals (the live path with real phones is tests/interop/test_conference.py, from the desktop
tests/web/test_softphone.py)."""

from __future__ import annotations

from conftest_api import World

from duplex.db.models import AuditLog

BODY = {"consultation": "consult-call"}


async def test_nobody_anonymous_and_the_body_names_the_consultation(world: World) -> None:
    assert (await world.as_("none", "POST", "/calls/c-1/conference", json=BODY)).status_code == 401
    missing = await world.as_("admin", "POST", "/calls/c-1/conference", json={})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "consultation"]
    empty = await world.as_("admin", "POST", "/calls/c-1/conference", json={"consultation": ""})
    assert empty.status_code == 422


async def test_unknown_calls_and_calls_of_other_teams_are_404(world: World) -> None:
    for role in ("admin", "agent"):
        answer = await world.as_(role, "POST", "/calls/nope/conference", json=BODY)
        assert answer.status_code == 404, (role, answer.text)
    # c-2 belongs to agent 2 of team B: the supervisor of team A cannot see it
    assert (await world.as_("sup", "POST", "/calls/c-2/conference", json=BODY)).status_code == 404


async def test_ended_calls_and_a_node_without_a_sip_engine_are_409(world: World) -> None:
    ended = await world.as_("admin", "POST", "/calls/c-2/conference", json=BODY)
    assert ended.status_code == 409 and "not live" in ended.json()["detail"]
    for role in ("sup", "agent"):
        live = await world.as_(role, "POST", "/calls/c-1/conference", json=BODY)
        assert live.status_code == 409, live.text  # the row says live, but no switch runs in this process
    assert (await world.as_("agent", "GET", "/calls/c-1/conference")).status_code == 409
    assert world.count(AuditLog, AuditLog.action == "call.conference") == 0  # refusals change nothing
