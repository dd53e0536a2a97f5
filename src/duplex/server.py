"""`duplex serve`: the asyncio shell that runs the HTTP API and the SIP engine in one process."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from duplex.api.app import create_app
from duplex.config import Settings

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
    shown = "localhost" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
    log.info(
        "web UI http://%s:%d/  API docs http://%s:%d/docs",
        shown,
        settings.http_port,
        shown,
        settings.http_port,
    )
    await server.serve()


def run(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is optional
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(settings))
