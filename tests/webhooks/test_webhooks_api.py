"""/api/v1/webhooks: admin-only CRUD, the secret shown once, the delivery log, and the test ping against a
real receiver; the app's own dispatcher delivering an event recorded through the API."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from duplex.api.app import create_app
from duplex.auth.deps import clock, secret_key
from duplex.auth.tokens import issue_token
from duplex.config import Settings
from duplex.db.base import transaction
from duplex.db.models import Role, User

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works the same here
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

API = "/api/v1/webhooks"


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    app.state.webhooks.base_delay = 0.05
    app.state.webhooks.scan_interval = 0.2
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(app: FastAPI) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with transaction(app.state.sessions) as s:
        for role in Role:
            user = User(username=f"u-{role.value}", password_hash="x", role=role)
            s.add(user)
            s.flush()
            token, _ = issue_token(
                s, secret_key=secret_key(app.state), user_id=user.id, now=clock(app.state), ttl_seconds=600
            )
            out[role.value] = {"Authorization": f"Bearer {token}"}
    return out


def test_crud_is_admin_only_and_the_secret_is_shown_once(
    client: TestClient, tokens: Any, receiver: Any
) -> None:
    admin = tokens["admin"]
    body = {"name": "crm", "url": receiver.url, "event_types": ["call.*", "disposition.set"]}
    for role in ("supervisor", "agent"):
        assert client.post(API, json=body, headers=tokens[role]).status_code == 403
        assert client.get(API, headers=tokens[role]).status_code == 403
    assert client.get(API).status_code == 401
    created = client.post(API, json=body, headers=admin)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert len(hook["secret"]) >= 32 and hook["event_types"] == ["call.*", "disposition.set"]
    got = client.get(f"{API}/{hook['id']}", headers=admin).json()
    assert "secret" not in got and got["url"] == receiver.url
    listed = client.get(API, headers=admin).json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    given = client.post(API, json={**body, "secret": receiver.secret}, headers=admin).json()
    assert given["secret"] == receiver.secret
    patched = client.patch(f"{API}/{hook['id']}", json={"enabled": False, "max_attempts": 3}, headers=admin)
    assert patched.status_code == 200 and (patched.json()["enabled"], patched.json()["max_attempts"]) == (
        False,
        3,
    )
    assert client.delete(f"{API}/{hook['id']}", headers=admin).status_code == 204
    assert client.get(f"{API}/{hook['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("event_types", ["call.nope"]), ("url", "not a url"), ("max_attempts", 0), ("secret", "short")],
)
def test_bad_input_names_the_field(client: TestClient, tokens: Any, field: str, value: Any) -> None:
    body = {"url": "http://127.0.0.1:9/x", field: value}
    r = client.post(API, json=body, headers=tokens["admin"])
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", field]


def test_ping_is_signed_and_reports_the_answer(client: TestClient, tokens: Any, receiver: Any) -> None:
    admin = tokens["admin"]
    body = {"url": receiver.url, "secret": receiver.secret, "event_types": ["csat.*"]}
    hook = client.post(API, json=body, headers=admin).json()
    r = client.post(f"{API}/{hook['id']}/test", headers=admin)
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["status"] == 200
    [ping] = receiver.requests
    assert ping.signature_ok and ping.headers["x-duplex-event"] == "ping"
    assert ping.json["type"] == "ping" and ping.json["data"] == {"webhook_id": hook["id"]}
    wrong = client.post(API, json={"url": receiver.url, "event_types": ["csat.*"]}, headers=admin).json()
    r = client.post(f"{API}/{wrong['id']}/test", headers=admin)
    assert r.json()["ok"] is False and r.json()["status"] == 401
    assert client.post(f"{API}/999/test", headers=admin).status_code == 404


def test_event_recorded_through_the_api_is_delivered_and_logged(
    client: TestClient, tokens: Any, receiver: Any
) -> None:
    admin = tokens["admin"]
    receiver.fail_first = 1
    body = {"url": receiver.url, "secret": receiver.secret, "event_types": ["csat.*"]}
    hook = client.post(API, json=body, headers=admin).json()
    ev = client.post("/api/v1/events", json={"type": "csat.recorded", "data": {"score": 4}}, headers=admin)
    assert ev.status_code == 201
    deadline = time.monotonic() + 10
    while True:
        log = client.get(f"{API}/{hook['id']}/deliveries", headers=admin).json()
        if log["items"] and log["items"][0]["state"] == "delivered":
            break
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    [row] = log["items"]
    assert row["event_id"] == ev.json()["id"] and row["attempts"] == 2 and row["last_status"] == 200
    assert row["delivered_at"] is not None
    assert [r.json["data"] for r in receiver.requests] == [{"score": 4}, {"score": 4}]
    only_failed = client.get(f"{API}/{hook['id']}/deliveries", params={"state": "failed"}, headers=admin)
    assert only_failed.json()["total"] == 0
    assert client.get(f"{API}/{hook['id']}/deliveries", headers=tokens["supervisor"]).status_code == 403
