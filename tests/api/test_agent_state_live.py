"""Agent states through the live contact center: the API changes the ACD's state machine (its rules, its
events), GET reads the live state, and the seeded agents start logged out."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from conftest_api import World

from duplex.acd import AgentState
from duplex.db.models import Agent, Event, Recording
from duplex.services.contact_center import ContactCenter
from duplex.stores.call_store import TelephonyStore
from duplex.stores.center_store import purge_recordings


@pytest.fixture
async def center(world: World) -> AsyncIterator[ContactCenter]:
    state = world.app.state
    store = TelephonyStore(state.sessions, state.record)
    center = ContactCenter(state.settings, store)
    await center.start()
    state.contact_center = center
    yield center
    await center.stop()
    await store.flush()
    store.close()


async def test_state_changes_go_through_the_acd(world: World, center: ContactCenter) -> None:
    before = await world.as_("agent", "GET", "/agents/1/state")
    assert before.status_code == 200 and before.json()["state"] == "logged_out" and before.json()["live"]
    assert (
        await world.as_("agent", "POST", "/agents/1/state", json={"state": "available"})
    ).status_code == 200
    live = (await world.as_("agent", "GET", "/agents/1/state")).json()
    assert live["state"] == "available" and live["seconds_in_state"] >= 0
    paused = await world.as_("agent", "POST", "/agents/1/state", json={"state": "aux", "reason": "lunch"})
    assert paused.status_code == 200 and paused.json()["state"] == "aux"
    assert (await world.as_("agent", "GET", "/agents/1/state")).json()["reason"] == "lunch"
    # the state machine decides: wrap-up cannot be chosen, and aux -> logged out -> aux is not allowed
    assert (await world.as_("agent", "POST", "/agents/1/state", json={"state": "wrap_up"})).status_code == 409
    assert (await world.as_("sup", "POST", "/agents/1/state", json={"state": "offline"})).status_code == 200
    assert (await world.as_("agent", "POST", "/agents/1/state", json={"state": "break"})).status_code == 409
    assert (await world.as_("agent", "GET", "/agents/2/state")).status_code == 404  # another agent's
    await center.store.flush()
    events = world.rows(Event, Event.type == "agent.state_changed")
    assert [(e.data["from"], e.data["to"]) for e in events] == [
        ("logged_out", "available"), ("available", "aux"), ("aux", "logged_out"),
    ]  # fmt: skip
    assert events[-1].data["by_user_id"] is not None  # the supervisor
    assert world.rows(Agent, Agent.id == 1)[0].state == "logged_out"


async def test_recording_control_needs_a_connected_call(world: World, center: ContactCenter) -> None:
    response = await world.as_("agent", "POST", "/calls/nope/recording", json={"action": "pause"})
    assert response.status_code == 404


def test_retention_deletes_old_files_and_rows(world: World, tmp_path: object) -> None:
    from pathlib import Path

    from duplex.db.models import Call

    directory = Path(str(tmp_path)) / "recordings"
    directory.mkdir()
    now = dt.datetime.now(dt.UTC)
    sessions = world.app.state.sessions
    with sessions() as session, session.begin():
        session.add(Call(id="c-old", direction="inbound", from_number="1", to_number="2"))
        for name, age in (("old.wav", 40), ("new.wav", 1)):
            (directory / name).write_bytes(b"RIFF")
            session.add(Recording(call_id="c-old", path=name, created_at=now - dt.timedelta(days=age)))
    assert purge_recordings(sessions, directory, now - dt.timedelta(days=30)) == 1
    assert not (directory / "old.wav").exists() and (directory / "new.wav").exists()
    paths = [r.path for r in world.rows(Recording)]
    assert "new.wav" in paths and "old.wav" not in paths


async def test_a_queue_change_through_the_api_reloads_the_acd(world: World, center: ContactCenter) -> None:
    center.follow_config(world.app.state.bus)
    queue = next(q for q in center.config.queues)
    response = await world.as_("admin", "PATCH", f"/queues/{queue.queue_id}", json={"wrapup_seconds": 42})
    assert response.status_code == 200, response.text
    for _ in range(100):
        if next(q for q in center.config.queues if q.queue_id == queue.queue_id).wrap_up_seconds == 42:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the center did not reload")


async def test_after_a_restart_no_agent_is_left_reserved_or_on_a_call(world: World) -> None:
    """A node killed mid-call left agent rows reserved/on_call; the next start logs everyone out (recorded)."""
    from sqlalchemy import update

    state = world.app.state
    with state.sessions() as session, session.begin():
        session.execute(update(Agent).where(Agent.id == 1).values(state="on_call"))
        session.execute(update(Agent).where(Agent.id == 2).values(state="reserved"))
    store = TelephonyStore(state.sessions, state.record)
    center = ContactCenter(state.settings, store)
    await center.start()
    try:
        assert {center.agent_state(agent_id)[0] for agent_id in (1, 2)} == {AgentState.LOGGED_OUT}
        await store.flush()
        restarted = world.rows(Event, Event.type == "agent.state_changed")
        assert sorted((e.agent_id, e.data["from"], e.data["reason"]) for e in restarted) == [
            (1, "on_call", "node_restart"), (2, "reserved", "node_restart"),
        ]  # fmt: skip
        assert {a.state for a in world.rows(Agent)} == {"logged_out"}
    finally:
        await center.stop()
        store.close()
