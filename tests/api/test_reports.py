"""The reports API, the wallboard and staffing over the real app, per role (SQLite and PostgreSQL).

The hand-built day of tests/reports/kpi_events.py is recorded through an EventRecord (so the CDR rows are
projected too); the seeded world has queue 1, campaign 1, agents 1 (team 1) and 2 (team 2)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import sys
from pathlib import Path

import pytest
from conftest_api import World
from sqlalchemy import update

from duplex.db.models import Campaign, Disposition, Queue, QueueMember
from duplex.events.record import EventRecord
from duplex.events.types import EventEnvelope

sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))
from kpi_events import DAY, SALE, campaign_day, ev, inbound_day  # noqa: E402

FROM_TO = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}


def _record(world: World, events: list[EventEnvelope]) -> None:
    now = [0]
    record = EventRecord(world.app.state.sessions, node_id="kpi-test", clock_ms=lambda: now[0],
                         projectors=world.app.state.record.projectors)  # fmt: skip
    with world.app.state.sessions() as s, s.begin():
        for e in sorted(events, key=lambda e: e.ts_ms):
            now[0] = e.ts_ms
            record.append(s, e.type, call_id=e.call_id, agent_id=e.agent_id, queue_id=e.queue_id,
                          campaign_id=e.campaign_id, lead_id=e.lead_id, data=e.data)  # fmt: skip


@pytest.fixture
async def day(world: World) -> World:
    with world.app.state.sessions() as s, s.begin():
        s.add(Disposition(id=SALE, code="won", label="Won", is_success=True))
        s.execute(update(Campaign).values(cost_per_minute=0.5))
        s.add(QueueMember(queue_id=1, agent_id=1))
    outbound = [dataclasses.replace(e, campaign_id=1 if e.campaign_id else None) for e in campaign_day()]
    pacing = ev(900, "campaign.pacing", campaign=1, mode="predictive", lines_per_agent=1.5)
    _record(world, [*inbound_day(), *outbound, pacing])
    return world


async def test_queue_report_as_admin_json_and_csv(day: World) -> None:
    r = await day.as_("admin", "GET", "/reports/queues", params=FROM_TO)
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    assert (row["queue_id"], row["entered"], row["answered"], row["waiting"]) == (1, 6, 3, 1)
    assert (row["service_level"], row["abandon_rate"], row["short_abandoned"]) == (0.5, 0.25, 1)
    assert row["avg_handle_s"] == pytest.approx(115)
    r = await day.as_("admin", "GET", "/reports/queues", params={**FROM_TO, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    [line] = list(csv.DictReader(io.StringIO(r.text)))
    assert (line["queue_id"], line["entered"], line["service_level"]) == ("1", "6", "0.5")


async def test_campaign_and_source_reports_read_costs_and_success_from_the_configuration(day: World) -> None:
    [c] = (await day.as_("admin", "GET", "/reports/campaigns", params=FROM_TO)).json()["rows"]
    assert (c["campaign_id"], c["dialed"], c["abandon_rate"], c["conversions"]) == (1, 4, 0.5, 1)
    assert c["cost"] == pytest.approx(155 / 60 * 0.5)
    sources = (await day.as_("admin", "GET", "/reports/sources", params=FROM_TO)).json()["rows"]
    google = next(s for s in sources if s["tracking_source"] == "google")
    assert (google["calls"], google["revenue"]) == (2, 100.0)


async def test_supervisor_sees_their_teams_queues_and_agents(day: World) -> None:
    r = await day.as_("sup", "GET", "/reports/queues", params=FROM_TO)
    assert (r.status_code, r.json()["rows"]) == (200, [])  # queue 1 belongs to no team of theirs
    with day.app.state.sessions() as s, s.begin():
        s.execute(update(Queue).where(Queue.id == 1).values(team_id=1))
    [row] = (await day.as_("sup", "GET", "/reports/queues", params=FROM_TO)).json()["rows"]
    assert row["entered"] == 6
    agents = (await day.as_("sup", "GET", "/reports/agents", params=FROM_TO)).json()["rows"]
    assert [a["agent_id"] for a in agents] == [1]  # agent 2 is in team 2
    assert agents[0]["occupancy"] == (120 + 30) / (3000 - 600)


async def test_agent_sees_only_their_own_row_and_no_other_report(day: World) -> None:
    rows = (await day.as_("agent", "GET", "/reports/agents", params=FROM_TO)).json()["rows"]
    assert [a["agent_id"] for a in rows] == [1]
    for path in ("/reports/queues", "/reports/campaigns", "/reports/sources", "/wallboard"):
        assert (await day.as_("agent", "GET", path, params=FROM_TO)).status_code == 403
    assert (await day.as_("none", "GET", "/reports/agents")).status_code == 401


async def test_range_is_checked(day: World) -> None:
    r = await day.as_(
        "admin", "GET", "/reports/queues", params={"from": FROM_TO["to"], "to": FROM_TO["from"]}
    )
    assert r.status_code == 422
    r = await day.as_("admin", "GET", "/reports/queues", params={"from": "2026-01-01T00:00:00Z", **FROM_TO} | {
        "from": "2026-01-01T00:00:00Z"})  # fmt: skip
    assert r.status_code == 422


async def test_wallboard_snapshot(day: World) -> None:
    day.clock.now = dt.datetime.fromtimestamp(DAY / 1000 + 6000, dt.UTC)
    r = await day.as_("admin", "GET", "/wallboard")
    assert r.status_code == 200, r.text
    [q] = r.json()["queues"]
    assert (q["waiting"], q["longest_wait_s"]) == (1, 6000 - 500)  # e since 500 s
    # a (10 s), b (30 s), d abandoned; c was a short abandon; f has not come yet
    assert (q["service_level_today"], q["abandon_rate_today"]) == (1 / 3, 1 / 3)
    assert q["agents_by_state"] == {"offline": 1}  # agent 1 went offline at 3000
    [c] = r.json()["campaigns"]
    assert (c["dial_level"], c["abandon_rate_24h"], c["abandon_rate_30d"], c["connects_today"]) == (
        1.5,
        0.5,
        0.5,
        3,
    )


async def test_staffing_endpoint(day: World) -> None:
    params = {"calls_per_hour": 200, "aht": 180, "service_level": 0.8, "target_seconds": 20}
    r = await day.as_("sup", "GET", "/reports/staffing", params=params)
    assert (r.status_code, r.json()["agents"]) == (200, 14)
    r = await day.as_(
        "admin", "GET", "/reports/staffing", params={"aht": 180, "day": "2026-03-09", "weeks": 1}
    )
    intervals = r.json()["intervals"]
    # a, b, c, d, e arrived in 00:00-00:30 of the Monday before (queue-less: inbound call.created)
    assert (len(intervals), intervals[0]["expected_calls"], intervals[47]["expected_calls"]) == (48, 5, 1)
    assert (await day.as_("admin", "GET", "/reports/staffing", params={"aht": 180})).status_code == 422
    assert (await day.as_("agent", "GET", "/reports/staffing", params=params)).status_code == 403


async def test_wallboard_polls_see_new_events_and_share_a_snapshot_for_two_seconds(day: World) -> None:
    day.clock.now = dt.datetime.fromtimestamp(DAY / 1000 + 6000, dt.UTC)
    first = (await day.as_("admin", "GET", "/wallboard")).json()
    _record(day, [ev(6000, "queue.entered", "n", queue=1)])
    again = (await day.as_("admin", "GET", "/wallboard")).json()
    assert again == first  # within 2 s: the same snapshot
    day.clock.advance(3)
    later = (await day.as_("admin", "GET", "/wallboard")).json()
    assert (later["queues"][0]["waiting"], later["queues"][0]["longest_wait_s"]) == (2, 6003 - 500)
    sup = (await day.as_("sup", "GET", "/wallboard")).json()
    assert sup["queues"] == []  # queue 1 is not of their teams


async def test_supervisor_wallboard_shows_every_campaigns_dial_level(day: World) -> None:
    day.clock.now = dt.datetime.fromtimestamp(DAY / 1000 + 6000, dt.UTC)
    [c] = (await day.as_("sup", "GET", "/wallboard")).json()["campaigns"]
    # campaign.pacing has no call or agent: a supervisor's scope must not drop it
    assert (c["campaign_id"], c["dial_level"]) == (1, 1.5)
