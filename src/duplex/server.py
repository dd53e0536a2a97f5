"""`duplex serve`: the asyncio shell that runs the HTTP API and the SIP engine in one process.

SIGTERM (systemd, `docker stop`, Kubernetes) and SIGINT stop gracefully: the SIP engine hangs up live calls
(BYE, CDRs closed with `shutdown`), its events are flushed, then the HTTP side shuts down (the event bus
still up for the last events) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn

from duplex.api.app import create_app
from duplex.config import Settings
from duplex.services.calls.conference import Conferences
from duplex.services.calls.monitor import CallMonitoring
from duplex.services.campaigns.service import CampaignService
from duplex.services.node import Node, build_node
from duplex.stores.call_store import TelephonyStore
from duplex.stores.campaign_store import CampaignStore

log = logging.getLogger("duplex")
STOP_TIMEOUT = 20.0  # seconds for the SIP engine to hang up, flush and close


class _GracefulServer(uvicorn.Server):
    """uvicorn's server, for a process that has more to stop than HTTP.

    uvicorn re-raises the SIGTERM/SIGINT it captured once `serve()` returns, which ends the process (status
    143) before anything after it runs. Here a signal only asks to stop, and `before_shutdown` runs before
    the HTTP shutdown (the lifespan closes the event bus and the database pool the engine still needs)."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals go to the main thread only
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:  # a second signal during the rest of the shutdown gets the default action
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: Any = None) -> None:
        await self.before_shutdown()
        await super().shutdown(sockets=sockets)


def https_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS options for ``http_certfile`` (none: plain HTTP)."""
    if not settings.http_certfile:
        return {}
    return {
        "ssl_certfile": settings.http_certfile,
        "ssl_keyfile": settings.http_keyfile or settings.http_certfile,
    }


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        **https_options(settings),
    )
    sip: Node | None = None
    stopping: asyncio.Task[None] | None = None

    async def stop_sip() -> None:
        nonlocal stopping
        if sip is not None:
            if stopping is None:  # once, whoever asks first
                stopping = asyncio.ensure_future(_stop_sip(sip, app.state.campaigns))
            await stopping

    server = _GracefulServer(config, stop_sip)
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
        await stop_sip()


async def _stop_sip(node: Node, campaigns: CampaignService) -> None:
    sip = node.switch
    log.info("stopping the SIP engine: hanging up %d calls", len(sip.calls))
    try:
        await asyncio.wait_for(campaigns.close(), STOP_TIMEOUT)  # no new calls while the switch stops
        await node.center.stop()
        # bounded: with the database down the last events cannot be flushed, and the process must still end
        # before the supervisor's kill (Kubernetes waits 30 s by default)
        await asyncio.wait_for(sip.stop(), STOP_TIMEOUT)
    except TimeoutError:
        log.error("the SIP engine did not stop within %.0f s; events not yet recorded are lost", STOP_TIMEOUT)
    finally:
        sip.store.close()


async def _start_sip(app: Any, settings: Settings) -> Node:
    """Start the SIP switch on settings.sip_port (UDP and TCP), then the contact center, and publish the
    switch's status for /api/v1/health and the center for the agent-state and recording API. The switch
    comes with its INVITE router and applications from `duplex.services.node`."""
    settings.ensure_data_dir()
    store = TelephonyStore(app.state.sessions, app.state.record)
    node = build_node(settings, store)
    engine = node.switch
    port = await engine.start()
    await node.center.start()
    node.center.follow_config(app.state.bus)
    app.state.sip_engine = engine
    app.state.contact_center = node.center
    app.state.conferences = Conferences(engine)  # an agent's consultation joined into the customer's call
    app.state.monitoring = CallMonitoring(engine, app.state.conferences)  # supervisors listen, whisper, barge
    app.state.sip_status = engine.status
    app.state.campaigns = CampaignService(engine, CampaignStore(app.state.sessions), node.center)
    log.info("SIP listening on %s:%d (UDP and TCP)", settings.sip_host, port)
    return node


def run(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is optional
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(settings))
