"""A seeded contact center behind the real app, reached through httpx's ASGI transport, on SQLite and
PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from conftest_api import Clock, World, issue_tokens, seed

from duplex.api.app import create_app
from duplex.config import Settings


@pytest.fixture
def make_world(settings: Settings) -> Callable[..., Any]:
    async def make(**overrides: Any) -> AsyncIterator[World]:
        app = create_app(settings.model_copy(update=overrides))
        clock = Clock()
        app.state.clock = clock
        seed(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            world = World(app=app, client=client, clock=clock)
            world.headers.update(issue_tokens(app))
            yield world
        app.state.engine.dispose()

    return make


@pytest.fixture
async def world(make_world: Callable[..., Any]) -> AsyncIterator[World]:
    async for w in make_world():
        yield w
