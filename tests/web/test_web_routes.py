"""The console's files as the server hands them out: module scripts with a JavaScript type (browsers refuse
others), the page itself, and nothing outside the static folder."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from duplex.api.app import create_app
from duplex.config import Settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    app.state.engine.dispose()


async def test_page_and_module_scripts_are_served_with_their_types(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/app.js">' in page.text
    script = await client.get("/static/js/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    style = await client.get("/static/duplex.css")
    assert style.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/routes.py",
        "/static/js/%2e%2e/%2e%2e/routes.py",
        "/static/..%2froutes.py",
        "/static/nope.js",
    ],
)
async def test_nothing_outside_the_static_folder_is_served(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 404
    assert "MOUNT_AT_ROOT" not in answer.text


def message_keys(block: str) -> set[str]:
    return set(re.findall(r'"([a-z_.\-]+)":', block))


async def test_every_message_key_exists_in_english_and_romanian(client: httpx.AsyncClient) -> None:
    catalogue = (await client.get("/static/js/messages.js")).text
    english = catalogue[catalogue.index("const en = {") : catalogue.index("const ro = {")]
    romanian = catalogue[catalogue.index("const ro = {") : catalogue.index("export const MESSAGES")]
    assert message_keys(english) == message_keys(romanian)
    assert len(message_keys(english)) > 150
