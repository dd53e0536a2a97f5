"""Supervisor team scoping on reads: a supervisor of team A sees team A's agents, their calls, calls in team
A's queues and the recordings of those calls; team B's rows are 404, as if they did not exist."""

from __future__ import annotations

from conftest_api import World

from duplex.db.models import Call, CallLeg, Queue, Recording, TeamSupervisor, User
from duplex.db.models.identity import Role

A, S, G = "admin", "sup", "agent"


def add_team_b_rows(world: World) -> None:
    """Seed: sup (user 2) supervises team 1 (A); agent 1 is in team A, agent 2 in team B; c-1 is agent 1's
    call (queue 1 has no team), c-2 agent 2's, recording 1 belongs to c-1. Add: queues of each team, calls
    that reach a team only through their queue or only through a leg, and a recording of c-2."""
    with world.app.state.sessions() as s, s.begin():
        s.add_all([Queue(name="qa", team_id=1), Queue(name="qb", team_id=2)])  # ids 2, 3
        s.flush()
        s.add_all(
            [
                Call(id="c-qa", direction="inbound", queue_id=2),  # team A's queue, no agent yet
                Call(id="c-qb", direction="inbound", queue_id=3),  # team B's queue
                Call(id="c-leg", direction="inbound", agent_id=2, queue_id=3),  # B's, but agent 1 had a leg
                Call(id="c-none", direction="outbound"),  # no agent, no queue
            ]
        )
        s.flush()
        s.add(CallLeg(id="l-leg", call_id="c-leg", kind="agent", agent_id=1))
        s.add(Recording(call_id="c-2", path="2026/c-2.wav"))  # id 2
        s.add(Recording(call_id="c-qb", path="2026/c-qb.wav"))  # id 3


async def test_supervisor_reads_only_own_teams_agents(world: World) -> None:
    listed = (await world.as_(S, "GET", "/agents")).json()
    assert [a["id"] for a in listed["items"]] == [1] and listed["total"] == 1
    assert (await world.as_(S, "GET", "/agents/1")).status_code == 200
    assert (await world.as_(S, "GET", "/agents/2")).status_code == 404
    assert (await world.as_(S, "GET", "/agents?team_id=2")).json()["total"] == 0
    assert (await world.as_(A, "GET", "/agents")).json()["total"] == 2


async def test_supervisor_reads_only_own_teams_calls(world: World) -> None:
    add_team_b_rows(world)
    listed = (await world.as_(S, "GET", "/calls?limit=100")).json()
    assert sorted(c["id"] for c in listed["items"]) == ["c-1", "c-leg", "c-qa"]
    assert listed["total"] == 3
    for hidden in ("c-2", "c-qb", "c-none"):
        assert (await world.as_(S, "GET", f"/calls/{hidden}")).status_code == 404, hidden
    for visible in ("c-1", "c-leg", "c-qa"):
        assert (await world.as_(S, "GET", f"/calls/{visible}")).status_code == 200, visible
    assert (await world.as_(A, "GET", "/calls")).json()["total"] == 6
    # agents are unchanged: only the calls whose agent they are (not c-leg, where agent 1 had only a leg)
    mine = (await world.as_(G, "GET", "/calls")).json()
    assert [c["id"] for c in mine["items"]] == ["c-1"]


async def test_supervisor_cannot_act_on_other_teams_rows(world: World) -> None:
    disposition = await world.as_(S, "POST", "/calls/c-2/disposition", json={"disposition_id": 1})
    assert disposition.status_code == 404
    assert (await world.as_(S, "POST", "/agents/2/state", json={"state": "break"})).status_code == 404
    assert (await world.as_(S, "PATCH", "/agents/2", json={"wrapup_seconds": 5})).status_code == 404
    ok = await world.as_(S, "POST", "/calls/c-1/disposition", json={"disposition_id": 1})
    assert ok.status_code == 200


async def test_supervisor_reads_only_own_teams_recordings(world: World) -> None:
    add_team_b_rows(world)
    listed = (await world.as_(S, "GET", "/recordings")).json()
    assert [(r["id"], r["call_id"]) for r in listed["items"]] == [(1, "c-1")]
    assert (await world.as_(S, "GET", "/recordings/1")).status_code == 200
    for hidden in (2, 3):
        assert (await world.as_(S, "GET", f"/recordings/{hidden}")).status_code == 404
        assert (await world.as_(S, "GET", f"/recordings/{hidden}/audio")).status_code == 404
    assert (await world.as_(S, "GET", "/recordings/1/audio")).status_code == 200
    assert (await world.as_(A, "GET", "/recordings")).json()["total"] == 3


async def test_supervisor_of_both_teams_and_of_none(world: World) -> None:
    add_team_b_rows(world)
    with world.app.state.sessions() as s, s.begin():
        s.add(TeamSupervisor(team_id=2, user_id=2))
    assert (await world.as_(S, "GET", "/agents")).json()["total"] == 2
    assert (await world.as_(S, "GET", "/calls")).json()["total"] == 5  # all but c-none
    assert (await world.as_(S, "GET", "/recordings")).json()["total"] == 3
    with world.app.state.sessions() as s, s.begin():
        s.query(TeamSupervisor).delete()
    assert (await world.as_(S, "GET", "/agents")).json()["total"] == 0
    assert (await world.as_(S, "GET", "/calls")).json()["total"] == 0
    assert (await world.as_(S, "GET", "/recordings")).json()["total"] == 0


async def test_queues_and_campaigns_stay_readable_by_every_supervisor(world: World) -> None:
    add_team_b_rows(world)
    with world.app.state.sessions() as s, s.begin():
        s.query(TeamSupervisor).delete()
        assert s.get(User, 2).role is Role.SUPERVISOR  # type: ignore[union-attr]
    assert (await world.as_(S, "GET", "/queues")).json()["total"] == 3
    assert (await world.as_(S, "GET", "/queues/3")).status_code == 200
    assert (await world.as_(S, "GET", "/campaigns/1")).status_code == 200
