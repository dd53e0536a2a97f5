"""Bad input is a 422 naming the field, never a 500, on SQLite and PostgreSQL: non-JSON numbers, lone
surrogates, NUL characters, integers past the 64-bit columns, undecodable bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest_api import World

from duplex.api.validation import INT64_MAX, INT64_MIN, json_safe, strict_json
from duplex.db.models import Skill

TOO_BIG = INT64_MAX + 1
JSON = {"Content-Type": "application/json"}


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
async def test_non_json_numbers_in_a_body_are_422_naming_the_field(world: World, number: str) -> None:
    body = f'{{"disposition_id": 1, "revenue": {number}}}'
    response = await world.as_("admin", "POST", "/calls/c-1/disposition", content=body, headers=JSON)
    assert locs(response) == [["body", "revenue"]]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e999"])
async def test_non_json_numbers_at_login_are_422_without_a_token(world: World, number: str) -> None:
    body = f'{{"username": "admin", "password": {number}}}'
    response = await world.client.post("/api/v1/auth/token", content=body, headers=JSON)
    assert locs(response) == [["body", "password"]]


async def test_a_lone_surrogate_is_422_naming_the_field(world: World) -> None:
    login = await world.client.post(
        "/api/v1/auth/token", content='{"username": "\\ud800", "password": "x"}', headers=JSON
    )
    assert locs(login) == [["body", "username"]]
    create = await world.as_("admin", "POST", "/skills", content='{"name": "a\\udfffb"}', headers=JSON)
    assert locs(create) == [["body", "name"]]
    key = await world.as_("admin", "POST", "/skills", content='{"\\ud800": 1}', headers=JSON)
    assert key.status_code == 422


@pytest.mark.parametrize("value", [TOO_BIG, INT64_MIN - 1, 10**30])
async def test_integers_past_64_bits_in_a_body_are_422(world: World, value: int) -> None:
    response = await world.as_("admin", "POST", "/agents", json={"user_id": value, "extension": "150"})
    assert locs(response) == [["body", "user_id"]]


async def test_integers_past_64_bits_in_path_and_query_are_422(world: World) -> None:
    assert locs(await world.as_("admin", "GET", f"/skills/{TOO_BIG}")) == [["path", "item_id"]]
    assert locs(await world.as_("admin", "DELETE", f"/webhooks/{TOO_BIG}")) == [["path", "webhook_id"]]
    assert locs(await world.as_("admin", "GET", f"/calls?agent_id={TOO_BIG}")) == [["query", "agent_id"]]
    assert locs(await world.as_("admin", "GET", f"/skills?offset={TOO_BIG}")) == [["query", "offset"]]
    assert locs(await world.as_("admin", "GET", f"/events?from_ts_ms={-TOO_BIG - 1}")) == [
        ["query", "from_ts_ms"]
    ]
    # The largest 64-bit id is a valid id that does not exist.
    assert (await world.as_("admin", "GET", f"/skills/{INT64_MAX}")).status_code == 404


async def test_nul_characters_are_422_naming_the_field(world: World) -> None:
    create = await world.as_("admin", "POST", "/skills", json={"name": "bad\x00name"})
    assert locs(create) == [["body", "name"]]
    assert locs(await world.as_("admin", "GET", "/calls/c%00")) == [["path", "item_id"]]
    assert locs(await world.as_("admin", "GET", "/dnc/check?phone=%2B4072%00")) == [["query", "phone"]]
    form = await world.client.post("/api/v1/auth/token", data={"username": "ad\x00min", "password": "x"})
    assert locs(form) == [["body", "username"]]
    assert locs(await world.client.get("/static/a%00b")) == [["path", "name"]]
    assert world.count(Skill) == 1


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_a_time_outside_the_utc_range_is_422_naming_the_field(world: World, when: str) -> None:
    response = await world.as_("admin", "POST", "/dnc", json={"phone": "+40722000001", "expires_at": when})
    assert locs(response) == [["body", "expires_at"]]


async def test_null_for_a_validated_field_in_a_partial_update_is_422(world: World) -> None:
    # The trunk's host validator used to receive the None and raise AttributeError (found by the fuzzer).
    response = await world.as_("admin", "PATCH", "/trunks/1", json={"host": None, "max_channels": 3})
    assert locs(response) == [["body", "host"]]
    assert (await world.as_("admin", "PATCH", "/trunks/1", json={"host": " 127.0.0.2 "})).status_code == 200


async def test_a_body_that_is_not_utf8_is_4xx(world: World) -> None:
    for content_type in ("application/json", "text/plain"):
        response = await world.as_(
            "admin",
            "POST",
            "/skills",
            content=b'{"name": "\xff\xfe"}',
            headers={"Content-Type": content_type},
        )
        assert 400 <= response.status_code < 500, response.text


async def test_deeply_nested_json_is_422(world: World) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = await world.as_("admin", "POST", "/skills", content=body, headers=JSON)
    assert response.status_code == 422


def test_strict_json_accepts_ordinary_documents() -> None:
    document = {"a": [1, 2.5, -(2**63), 2**63 - 1, "é\u2603", None, True], "b": {"c": ""}}
    assert strict_json(json.dumps(document).encode()) == document


def test_json_safe_encodes_what_json_cannot() -> None:
    safe = json_safe({"loc": ("body", 0), "input": [float("nan"), float("-inf"), "\ud800", b"\xff", object]})
    assert safe["loc"] == ["body", 0]
    assert safe["input"][:4] == ["nan", "-inf", "\\ud800", "\\xff"]
    assert isinstance(safe["input"][4], str)
