"""Login, throttling, token expiry and logout, API keys, health and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest_api import World

from duplex.db.models import ApiKey, AuditLog, AuthToken


async def test_login_json_and_form_and_me(world: World) -> None:
    response = await world.login("sup")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "supervisor" and body["expires_at"]
    form = await world.client.post(
        "/api/v1/auth/token", data={"username": "sup", "password": "correct-horse-battery"}
    )
    assert form.status_code == 200
    me = await world.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json() | {"user_id": 0} == {
        "user_id": 0,
        "username": "sup",
        "role": "supervisor",
        "full_name": "",
        "api_key_id": None,
        "team_ids": [1],
        "agent_id": None,
    }
    stored = [t.token_hash for t in world.rows(AuthToken)]
    assert body["access_token"] not in stored and len(stored[0]) == 64


async def test_login_bad_input_is_422_naming_the_field(world: World) -> None:
    missing = await world.client.post("/api/v1/auth/token", json={"username": "sup"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "password"]
    garbage = await world.client.post(
        "/api/v1/auth/token", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 422


async def test_throttling_locks_then_expires(make_world: Callable[..., Any]) -> None:
    async for world in make_world(login_max_failures=3, login_lockout_seconds=60):
        unknown = await world.login("nobody", "x")
        wrong = await world.login("sup", "wrong-password")
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() == wrong.json() == {"detail": "invalid username or password"}
        await world.login("sup", "wrong-password")
        assert (await world.login("sup", "wrong-password")).status_code == 401  # the 3rd failure locks
        locked = await world.login("sup")  # even the right password
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) == 60
        assert (await world.login("agent")).status_code == 200  # other users are not affected
        world.clock.advance(30)
        assert int((await world.login("sup")).headers["retry-after"]) == 30
        world.clock.advance(31)
        assert (await world.login("sup")).status_code == 200


async def test_token_expiry_and_logout(world: World) -> None:
    token = (await world.login("agent")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await world.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await world.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await world.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    token = (await world.login("agent")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    world.clock.advance(world.app.state.settings.token_ttl_seconds - 1)
    assert (await world.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    world.clock.advance(2)
    expired = await world.client.get("/api/v1/auth/me", headers=headers)
    assert expired.status_code == 401 and expired.headers["www-authenticate"] == "Bearer"
    assert (
        await world.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nonsense"})
    ).status_code == 401


async def test_api_keys(world: World) -> None:
    created = await world.as_("sup", "POST", "/api-keys", json={"name": "crm"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("dpx_") and created.json()["prefix"] in key
    (row,) = world.rows(ApiKey)
    assert key not in row.key_hash and row.last_used_at is None
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        me = await world.client.get("/api/v1/auth/me", headers=headers)
        assert (
            me.status_code == 200 and me.json()["role"] == "supervisor" and me.json()["api_key_id"] == row.id
        )
    assert world.rows(ApiKey)[0].last_used_at is not None
    listed = (await world.as_("sup", "GET", "/api-keys")).json()
    assert listed["total"] == 1 and "key" not in listed["items"][0]
    assert (await world.as_("admin", "GET", "/api-keys")).json()["total"] == 1
    other = await world.as_("sup", "POST", "/api-keys", json={"name": "x", "user_id": 1})
    assert other.status_code == 403
    assert (await world.as_("agent", "POST", "/api-keys", json={"name": "x"})).status_code == 403
    assert (await world.as_("sup", "DELETE", f"/api-keys/{row.id}")).status_code == 204
    assert (await world.client.get("/api/v1/auth/me", headers={"X-API-Key": key})).status_code == 401
    forged = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    assert (await world.client.get("/api/v1/auth/me", headers={"X-API-Key": forged})).status_code == 401
    actions = [a.action for a in world.rows(AuditLog)]
    assert actions == ["api_key.create", "api_key.revoke"]


async def test_health_and_metrics(world: World) -> None:
    health = await world.client.get("/api/v1/health")
    assert health.status_code == 200
    body = health.json()
    assert body["database"]["ok"] is True and body["sip"] == "disabled" and body["version"]
    world.app.state.sip_status = {"udp": "listening", "port": 5060}
    assert (await world.client.get("/api/v1/health")).json()["sip"] == {"udp": "listening", "port": 5060}
    await world.as_("agent", "POST", "/agents/1/state", json={"state": "available"})
    metrics = (await world.client.get("/metrics")).text
    assert 'duplex_agents{state="available"} 1.0' in metrics
    assert 'duplex_agents{state="offline"} 1.0' in metrics
    assert 'duplex_calls_in_progress{direction="inbound"} 1.0' in metrics
    assert 'route="/api/v1/agents/{agent_id}/state",status="200"' in metrics
    assert "duplex_http_request_duration_seconds_bucket" in metrics
