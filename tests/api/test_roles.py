"""The role matrix: each role x each route family, read and write; plus own-data scoping."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from conftest_api import World

A, S, G = "admin", "sup", "agent"
ALL, STAFF, ADMIN = {A, S, G}, {A, S}, {A}
_n = itertools.count(10)


def uniq() -> int:
    return next(_n)


# family -> (path, roles that may read, roles that may create, body factory or None for read-only)
FAMILIES: dict[str, tuple[str, set[str], set[str], Callable[[], dict[str, Any]] | None]] = {
    "users": (
        "/users",
        ALL,
        ADMIN,
        lambda: {"username": f"u{uniq()}", "password": "password1", "role": "agent"},
    ),
    "teams": ("/teams", STAFF, ADMIN, lambda: {"name": f"t{uniq()}"}),
    "skills": ("/skills", ALL, ADMIN, lambda: {"name": f"s{uniq()}"}),
    "agents": ("/agents", ALL, STAFF, None),  # body depends on the role: see test below
    "queues": ("/queues", ALL, STAFF, lambda: {"name": f"q{uniq()}"}),
    "ivr-flows": (
        "/ivr-flows",
        STAFF,
        ADMIN,
        lambda: {"name": f"f{uniq()}", "definition": {"start": "x", "nodes": {"x": {"type": "hangup"}}}},
    ),
    "phone-numbers": ("/phone-numbers", STAFF, ADMIN, lambda: {"number": f"+4021555{uniq():04d}"}),
    "trunks": (
        "/trunks",
        ADMIN,
        ADMIN,
        lambda: {"name": f"tr{uniq()}", "host": "127.0.0.1", "password": "pw"},
    ),
    "campaigns": ("/campaigns", ALL, STAFF, lambda: {"name": f"c{uniq()}"}),
    "lead-lists": ("/lead-lists", STAFF, STAFF, lambda: {"name": f"l{uniq()}"}),
    "leads": ("/leads", STAFF, STAFF, lambda: {"list_id": 1, "phone": f"+4071234{uniq():04d}"}),
    "dispositions": ("/dispositions", ALL, STAFF, lambda: {"code": f"d{uniq()}", "label": "x"}),
    "dnc": ("/dnc", STAFF, STAFF, lambda: {"phone": f"+4072200{uniq():04d}"}),
    "consent": ("/consent", STAFF, STAFF, lambda: {"phone": f"+4072300{uniq():04d}"}),
    "calls": ("/calls", ALL, set(), None),
    "recordings": ("/recordings", ALL, set(), None),
    "scorecards": ("/scorecards", STAFF, STAFF, lambda: {"name": f"sc{uniq()}", "criteria": [{"name": "x"}]}),
    "evaluations": ("/evaluations", ALL, set(), None),
    "audit-log": ("/audit-log", ADMIN, set(), None),
    "api-keys": ("/api-keys", STAFF, STAFF, lambda: {"name": f"k{uniq()}"}),
}


def agent_body(role: str) -> dict[str, Any]:
    user_id = {A: 5, S: 6, G: 7}[role]
    return {
        "user_id": user_id,
        "team_id": 1,
        "extension": f"2{user_id:02d}",
        "sip_username": f"sip{user_id}",
        "sip_password": "sip-password",
    }


async def test_role_matrix(world: World) -> None:
    """Every family, every role: list (GET) and create (POST). All mismatches are reported together."""
    mismatches = []
    for family, (path, readers, writers, body) in sorted(FAMILIES.items()):
        for role in ("none", A, S, G):
            got = (await world.as_(role, "GET", path)).status_code
            want = 401 if role == "none" else 200 if role in readers else 403
            if got != want:
                mismatches.append((family, "read", role, got, want))
            if not writers:
                continue
            payload = (
                agent_body(role if role != "none" else A) if family == "agents" else body() if body else {}
            )
            response = await world.as_(role, "POST", path, json=payload)
            want = 401 if role == "none" else 201 if role in writers else 403
            if response.status_code != want:
                mismatches.append((family, "write", role, response.status_code, want, response.text[:200]))
    assert mismatches == []


@pytest.mark.parametrize("path", ["/calls/c-1", "/recordings/1", "/audit-log/1"])
async def test_read_only_families_have_no_writes(world: World, path: str) -> None:
    for method in ("PATCH", "DELETE"):
        assert (await world.as_(A, method, path, json={})).status_code == 405


async def test_scoped_reads(world: World) -> None:
    users = (await world.as_(G, "GET", "/users")).json()
    assert [u["username"] for u in users["items"]] == ["agent"]
    assert (await world.as_(G, "GET", "/users/1")).status_code == 404
    agents = (await world.as_(G, "GET", "/agents")).json()
    assert [a["id"] for a in agents["items"]] == [1]
    assert (await world.as_(G, "GET", "/agents/2")).status_code == 404
    calls = (await world.as_(G, "GET", "/calls")).json()
    assert [c["id"] for c in calls["items"]] == ["c-1"]
    assert (await world.as_(G, "GET", "/calls/c-2")).status_code == 404
    # the supervisor leads team 1: agent 1 and its call c-1 only (test_team_scope.py has the details)
    assert [c["id"] for c in (await world.as_(S, "GET", "/calls")).json()["items"]] == ["c-1"]
    assert [a["id"] for a in (await world.as_(S, "GET", "/agents")).json()["items"]] == [1]
    assert (await world.as_(S, "GET", "/agents/2")).status_code == 404
    assert (await world.as_(S, "GET", "/calls/c-2")).status_code == 404


async def test_self_service_and_team_limits(world: World) -> None:
    assert (await world.as_(G, "PATCH", "/users/3", json={"full_name": "Ana"})).status_code == 200
    assert (await world.as_(G, "PATCH", "/users/3", json={"role": "admin"})).status_code == 403
    assert (await world.as_(G, "PATCH", "/agents/1", json={"wrapup_seconds": 1})).status_code == 403
    assert (await world.as_(S, "PATCH", "/agents/1", json={"wrapup_seconds": 5})).status_code == 200
    # another team's agent is out of the supervisor's scope: 404, like an agent reading another agent
    assert (await world.as_(S, "PATCH", "/agents/2", json={"wrapup_seconds": 5})).status_code == 404
    assert (await world.as_(S, "PATCH", "/agents/1", json={"team_id": 2})).status_code == 403
    assert (await world.as_(S, "DELETE", "/agents/2")).status_code == 404
    assert (await world.as_(A, "PATCH", "/agents/2", json={"team_id": 1})).status_code == 200


async def test_agent_state_only_own(world: World) -> None:
    own = await world.as_(G, "POST", "/agents/1/state", json={"state": "available"})
    assert own.status_code == 200 and own.json()["state"] == "available"
    assert (await world.as_(G, "POST", "/agents/2/state", json={"state": "break"})).status_code == 404
    assert (await world.as_(S, "POST", "/agents/2/state", json={"state": "break"})).status_code == 404
    assert (await world.as_(S, "POST", "/agents/1/state", json={"state": "break"})).status_code == 200
    bad = await world.as_(G, "POST", "/agents/1/state", json={"state": "asleep"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "state"]
    from duplex.db.models import Event

    events = world.rows(Event, Event.type == "agent.state_changed")
    assert [(e.agent_id, e.data["from"], e.data["to"]) for e in events] == [
        (1, "offline", "available"),
        (1, "available", "break"),
    ]


async def test_disposition_on_own_calls_only(world: World) -> None:
    ok = await world.as_(
        G, "POST", "/calls/c-1/disposition", json={"disposition_id": 1, "notes": "n", "revenue": 9.5}
    )
    assert ok.status_code == 200 and ok.json()["disposition_id"] == 1
    assert (
        await world.as_(G, "POST", "/calls/c-2/disposition", json={"disposition_id": 1})
    ).status_code == 404
    missing = await world.as_(A, "POST", "/calls/c-2/disposition", json={"disposition_id": 99})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "disposition_id"]
    from duplex.db.models import Event

    (event,) = world.rows(Event, Event.type == "disposition.set")
    assert (event.call_id, event.agent_id, event.campaign_id, event.data["code"]) == ("c-1", 1, 1, "sale")
