"""POST/GET/PATCH/DELETE /calls/{id}/monitor without a SIP engine: who may ask, which calls they may ask
about, and the refusals (the live path, with real phones, is tests/interop/test_monitor.py)."""

from __future__ import annotations

from conftest_api import World

from duplex.db.models import AuditLog


async def test_agents_may_not_monitor_and_nobody_anonymous(world: World) -> None:
    for role, status in (("agent", 403), ("agent2", 403), ("none", 401)):
        answer = await world.as_(role, "POST", "/calls/c-1/monitor", json={"mode": "listen"})
        assert answer.status_code == status, (role, answer.text)
    assert (await world.as_("agent", "DELETE", "/calls/c-1/monitor")).status_code == 403


async def test_unknown_calls_and_calls_of_other_teams_are_404(world: World) -> None:
    assert (
        await world.as_("admin", "POST", "/calls/nope/monitor", json={"mode": "listen"})
    ).status_code == 404
    # c-2 belongs to agent 2 of team B: the supervisor of team A cannot see it
    assert (await world.as_("sup", "POST", "/calls/c-2/monitor", json={"mode": "barge"})).status_code == 404
    assert (await world.as_("sup", "PATCH", "/calls/c-2/monitor", json={"mode": "barge"})).status_code == 404


async def test_ended_calls_and_a_node_without_a_sip_engine_are_409(world: World) -> None:
    ended = await world.as_("admin", "POST", "/calls/c-2/monitor", json={"mode": "listen"})
    assert ended.status_code == 409 and "not live" in ended.json()["detail"]
    live = await world.as_("sup", "POST", "/calls/c-1/monitor", json={"mode": "whisper"})
    assert live.status_code == 409, live.text  # the row says live, but no switch runs in this process
    assert world.count(AuditLog, AuditLog.action.like("call.monitor%")) == 0  # refusals change nothing


async def test_the_mode_is_validated(world: World) -> None:
    answer = await world.as_("admin", "POST", "/calls/c-1/monitor", json={"mode": "shout"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "mode"]
