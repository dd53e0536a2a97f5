"""Searching recordings by their calls, page by page, as each role may (SQLite and PostgreSQL); every
playback leaves an audit row and a recording.accessed event.

Seeded (conftest_api.seed): recording 1 of c-1 (agent 1, queue 1, campaign 1); added here: recordings of
calls with other agents, numbers, dispositions, lengths and start times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest_api import RECORDING_BYTES, World

from duplex.db.models import AuditLog, Call, Event, Recording

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def add_recorded_calls(world: World) -> None:
    """Recordings 2..5: r2 agent 1 +40711111111 -> +40215550000 at 09:00, 30 s, disposition 1;
    r3 agent 2 +40722222222 -> +40215550000 at 10:00, 300 s; r4 agent 1 outbound to +40733333333 on
    campaign 1 at 11:00, 90 s; r5 no agent, caller "100%" at 12:00, 5 s."""
    calls = [
        ("r2", "inbound", 1, 1, None, "+40711111111", "+40215550000", 0, 1, 30_000),
        ("r3", "inbound", 2, 1, None, "+40722222222", "+40215550000", 1, None, 300_000),
        ("r4", "outbound", 1, None, 1, "+40215550000", "+40733333333", 2, None, 90_000),
        ("r5", "inbound", None, 1, None, "100%", "+40215550000", 3, None, 5_000),
    ]
    with world.app.state.sessions() as s, s.begin():
        for cid, direction, agent, queue, campaign, frm, to, hour, disposition, _ms in calls:
            s.add(Call(id=cid, direction=direction, agent_id=agent, queue_id=queue, campaign_id=campaign,
                       from_number=frm, to_number=to, started_at=START + dt.timedelta(hours=hour),
                       disposition_id=disposition))  # fmt: skip
        s.flush()
        for cid, *_, ms in calls:
            s.add(Recording(call_id=cid, path=f"2026/{cid}.wav", duration_ms=ms))


async def ids(world: World, role: str = "admin", **params: Any) -> list[int]:
    r = await world.as_(role, "GET", "/recordings", params=params)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def test_filters_each_narrow_the_search(world: World) -> None:
    add_recorded_calls(world)
    assert await ids(world) == [1, 2, 3, 4, 5]
    assert await ids(world, agent_id=1) == [1, 2, 4]
    assert await ids(world, queue_id=1, agent_id=1) == [1, 2]
    assert await ids(world, campaign_id=1) == [1, 4]  # c-1 is on campaign 1 too
    assert await ids(world, disposition_id=1) == [2]
    assert await ids(world, number="0733333") == [4]  # the called number
    assert await ids(world, number="+4072222") == [3]  # the caller
    assert await ids(world, number="100%") == [5]  # % is a character, not a wildcard
    assert await ids(world, number="%") == [5]
    assert await ids(world, min_duration_s=90) == [3, 4]
    window = {"since": START.isoformat(), "until": (START + dt.timedelta(hours=2)).isoformat()}
    assert await ids(world, **window) == [2, 3]
    listed = (await world.as_("admin", "GET", "/recordings", params={"agent_id": 2})).json()["items"][0]
    assert listed["call"]["from_number"] == "+40722222222" and listed["call"]["agent_id"] == 2


async def test_since_counts_from_the_call_start(world: World) -> None:
    add_recorded_calls(world)
    # c-1 started when the world was seeded (now), after every call added here
    assert await ids(world, since=(START + dt.timedelta(hours=1)).isoformat()) == [1, 3, 4, 5]


async def test_paging_and_bad_parameters(world: World) -> None:
    add_recorded_calls(world)
    page = (await world.as_("admin", "GET", "/recordings", params={"limit": 2, "offset": 2})).json()
    assert ([r["id"] for r in page["items"]], page["total"], page["offset"]) == ([3, 4], 5, 2)
    for params, field in (({"min_duration_s": -1}, "min_duration_s"), ({"limit": 0}, "limit"),
                          ({"since": "yesterday"}, "since"), ({"agent_id": "x"}, "agent_id")):  # fmt: skip
        r = await world.as_("admin", "GET", "/recordings", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field], (params, r.text)


async def test_roles_see_the_recordings_of_the_calls_they_see(world: World) -> None:
    add_recorded_calls(world)
    assert await ids(world, "agent") == [1, 2, 4]  # agent 1's calls
    assert await ids(world, "agent2") == [3]
    assert await ids(world, "agent", agent_id=2) == []
    assert await ids(world, "sup") == [1, 2, 4]  # agent 1 is in team 1; queue 1 is no team's, so not r5
    assert (await world.as_("agent", "GET", "/recordings/3")).status_code == 404
    assert (await world.as_("agent", "GET", "/recordings/3/audio")).status_code == 404
    assert (await world.as_("none", "GET", "/recordings")).status_code == 401


async def test_every_playback_is_audited(world: World) -> None:
    for role in ("sup", "agent", "sup"):
        audio = await world.as_(role, "GET", "/recordings/1/audio")
        assert audio.status_code == 200 and audio.content == RECORDING_BYTES
    assert (await world.as_("agent2", "GET", "/recordings/1/audio")).status_code == 404
    rows = world.rows(AuditLog, AuditLog.action == "recording.read")
    assert [(r.user_id, r.target_id, r.detail["how"]) for r in rows] == [(2, "1", "audio"), (3, "1", "audio"),
                                                                         (2, "1", "audio")]  # fmt: skip
    events = world.rows(Event, Event.type == "recording.accessed")
    assert [(e.call_id, e.data["user_id"], e.data["how"]) for e in events] == [
        ("c-1", 2, "audio"), ("c-1", 3, "audio"), ("c-1", 2, "audio")]  # fmt: skip
