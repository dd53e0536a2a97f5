"""`duplex serve`: the asyncio shell that runs the HTTP API and the SIP engine in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

from duplex.api.app import create_app
from duplex.config import Settings
from duplex.services.calls.switch import Switch
from duplex.services.campaigns.service import CampaignService
from duplex.services.node import build_switch
from duplex.stores.call_store import TelephonyStore
from duplex.stores.campaign_store import CampaignStore

log = logging.getLogger("duplex")


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    sip = await _start_sip(app, settings) if settings.sip_enabled else None
    shown = "localhost" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
    log.info(
        "web UI http://%s:%d/  API docs http://%s:%d/docs",
        shown,
        settings.http_port,
        shown,
        settings.http_port,
    )
    try:
        await server.serve()
    finally:
        if sip is not None:
            await app.state.campaigns.close()
            await sip.stop()
            sip.store.close()


async def _start_sip(app: Any, settings: Settings) -> Switch:
    """Start the SIP switch on settings.sip_port (UDP and TCP) and publish its status for /api/v1/health.
    The switch comes with its INVITE router and applications from `duplex.services.node`."""
    settings.ensure_data_dir()
    store = TelephonyStore(app.state.sessions, app.state.record)
    engine = build_switch(settings, store)
    port = await engine.start()
    app.state.sip_engine = engine
    app.state.sip_status = engine.status
    app.state.campaigns = CampaignService(engine, CampaignStore(app.state.sessions))
    log.info("SIP listening on %s:%d (UDP and TCP)", settings.sip_host, port)
    return engine


def run(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is optional
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(settings))
