"""The ASGI application factory.

Route modules each expose `router` and are listed in ROUTER_MODULES; each is mounted under /api/v1 (or at
the root when the module sets `MOUNT_AT_ROOT = True`, e.g. /metrics). Shared objects live on `app.state`:
settings, engine, sessions (session factory), record (EventRecord), bus (EventBus), webhooks
(WebhookDispatcher, started and stopped with the app).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from duplex import __version__
from duplex.api.validation import validation_error_response
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.events.bus import EventBus, InProcessBus
from duplex.events.record import EventRecord
from duplex.reports.live import LiveProjection
from duplex.webhooks import WebhookDispatcher

API_PREFIX = "/api/v1"

# Each developer adds their module here; order does not matter.
ROUTER_MODULES: list[str] = [
    "duplex.api.auth",
    "duplex.api.identity",
    "duplex.api.routing_config",
    "duplex.api.outbound",
    "duplex.api.manual_dial",  # before campaign_runtime: /campaigns/{id}/{action} would take manual-dial
    "duplex.api.campaign_runtime",  # after outbound: its /campaigns/{id}/status comes first
    "duplex.api.calls",
    "duplex.api.call_scripts",
    "duplex.api.lead_desk",
    "duplex.api.health",
    "duplex.api.metrics",
    "duplex.api.contacts",
    "duplex.api.screen_pop",
    "duplex.web.routes",
    "duplex.api.events_ws",
    "duplex.api.webhooks",
    "duplex.api.softphone",
    "duplex.api.reports",
    "duplex.api.quality",
    "duplex.api.monitor",
    "duplex.api.conference",
]


def make_bus(settings: Settings) -> EventBus:
    if settings.nats_url:
        from duplex.events.nats_bus import NatsBus  # type: ignore[import-not-found,unused-ignore]

        bus: EventBus = NatsBus(settings.nats_url, node_id=settings.node_id)
        return bus
    return InProcessBus()


def create_app(settings: Settings, *, bus: EventBus | None = None) -> FastAPI:
    settings.ensure_data_dir()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    bus = bus if bus is not None else make_bus(settings)
    record = EventRecord(sessions, node_id=settings.node_id, bus=bus, projectors=(LiveProjection(),))
    webhooks = WebhookDispatcher(sessions, bus)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        await webhooks.start()
        try:
            yield
        finally:
            await webhooks.close()
            await bus.close()
            engine.dispose()

    app = FastAPI(
        title="Duplex",
        version=__version__,
        description="Blended inbound + outbound contact center API.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.bus = bus
    app.state.record = record
    app.state.webhooks = webhooks
    for name in ROUTER_MODULES:
        module = importlib.import_module(name)
        prefix = "" if getattr(module, "MOUNT_AT_ROOT", False) else API_PREFIX
        app.include_router(module.router, prefix=prefix)
    return app
