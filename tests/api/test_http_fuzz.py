"""Property-based fuzzing of the whole HTTP API over its OpenAPI schema (see openapi_fuzz.py), as admin and
unauthenticated, on SQLite and PostgreSQL: no request gets a 5xx, and afterwards the server still serves.
Seeded and bounded; bench/fuzz_http.py runs many more against a real server."""

from __future__ import annotations

import functools
import json

import pytest
from conftest_api import PASSWORD, World, password_hash
from openapi_fuzz import HttpRequest, generate

from duplex.auth.deps import secret_key
from duplex.auth.tokens import issue_token
from duplex.db.models import Role, User

SEED = 20261207
COUNT = 300


@functools.cache
def fuzz_requests(openapi_text: str) -> tuple[HttpRequest, ...]:
    """Generated once per test session: the schema is the same on both databases."""
    return tuple(generate(json.loads(openapi_text), COUNT, random_seed=SEED))


async def send_all(world: World, role: str) -> list[str]:
    """Every generated request as `role` ("admin") or with only what the generator put ("none");
    the description of each that got a 5xx or raised."""
    failures = []
    for request in fuzz_requests(json.dumps(world.app.openapi(), sort_keys=True)):
        headers = {**request.headers, **world.headers.get(role, {})}
        try:
            response = await world.client.request(
                request.method, request.path, params=request.params, headers=headers, content=request.content
            )
        except Exception as exc:  # an exception out of the app: the server would answer 500
            failures.append(f"{type(exc).__name__}: {exc} <- {request.describe()}")
            continue
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {response.text[:200]} <- {request.describe()}")
    return failures


async def assert_still_serving(world: World) -> None:
    assert (await world.client.get("/api/v1/health")).status_code == 200
    with world.app.state.sessions() as s, s.begin():
        user = User(username="after-fuzz", password_hash=password_hash(), role=Role.ADMIN)
        s.add(user)
        s.flush()
        token, _ = issue_token(
            s, secret_key=secret_key(world.app.state), user_id=user.id, now=world.clock(), ttl_seconds=60
        )
    users = await world.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert users.status_code == 200, users.text
    login = await world.login("after-fuzz", PASSWORD)
    assert login.status_code == 200, login.text


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", ["admin", "none"])
async def test_fuzzed_requests_get_no_5xx_and_the_server_keeps_serving(world: World, role: str) -> None:
    failures = await send_all(world, role)
    assert not failures, "\n".join(failures[:20])
    await assert_still_serving(world)
