"""What the browser tests share besides fixtures: the running center and signing in through the login page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Locator, Page
from sqlalchemy import create_engine, update

from duplex.api.app import create_app
from duplex.config import Settings
from duplex.db.migrate import upgrade
from duplex.db.models import Trunk
from duplex.demo import seed
from duplex.server import _start_sip, _stop_sip, https_options
from interop.peers import free_even_port, free_port


@dataclass
class LiveCenter:
    base_url: str
    credentials: dict[str, Any]
    artifacts: Path
    data_dir: Path | None = None  # the server's data directory (recordings live under it)
    database_url: str = ""  # the server's database, for arranging rows no API writes (recordings)

    def password(self, username: str) -> str:
        if username in ("admin", "supervisor"):
            return str(self.credentials[username]["password"])
        agent = next(a for a in self.credentials["agents"] if a["username"] == username)
        return str(agent["password"])

    def client(self, username: str = "admin") -> httpx.Client:
        """An API client signed in as `username`, for arranging data and checking what the browser did."""
        # a test's HTTPS center has a self-signed certificate
        client = httpx.Client(base_url=f"{self.base_url}/api/v1", timeout=20, verify=False)
        answer = client.post("/auth/token", json={"username": username, "password": self.password(username)})
        answer.raise_for_status()
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        return client


def sign_in(page: Page, center: LiveCenter, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(center.password(username))
    page.get_by_role("button", name="Sign in").click()
    page.locator("#live-status[data-status='live']").wait_for()


def snap(page: Page, center: LiveCenter, name: str, *, of: Locator | None = None) -> None:
    """A screenshot of the current screen (or of the element `of`) in the test artifacts; with
    DUPLEX_DOCS_SCREENSHOTS=<folder> also there (how the pictures in docs/screenshots are refreshed)."""
    page.evaluate("window.scrollTo(0, 0)")
    shoot = of.screenshot if of is not None else page.screenshot
    shoot(path=str(center.artifacts / f"{name}.png"))
    docs = os.environ.get("DUPLEX_DOCS_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shoot(path=str(Path(docs) / f"{name}.png"))


@dataclass
class SipCenter(LiveCenter):
    """A `LiveCenter` whose SIP engine runs too: its ports, and a way to reach the running node."""

    sip_port: int = 0
    carrier_port: int = 0  # where the demo trunk sends calls (a sipp carrier in the tests that need one)
    app: Any = None
    node: Any = None
    loop: asyncio.AbstractEventLoop | None = None

    def registered(self, user: str) -> bool:
        engine = self.app.state.sip_engine
        return bool(engine.registrations.lookup(user, engine.now()))

    def carrier_ips(self, ips: list[str]) -> None:
        """Set the demo trunk's source IPs and reload the switch's directory. A sipp caller and the browser both
        come from 127.0.0.1: with the IP listed the caller is the carrier (it may call an agent), without it
        the browser is an agent phone (challenged, then it may call out through the trunk)."""
        demo_trunk(self.database_url, allowed_ips=ips)
        self.reload_directory()

    def reload_directory(self) -> None:
        """Make the switch read agents, numbers and trunks again (after a test changed their rows)."""
        assert self.loop is not None
        reload = self.node.switch.refresh_directory(force=True)
        asyncio.run_coroutine_threadsafe(reload, self.loop).result(10)


def demo_trunk(database_url: str, **values: Any) -> None:
    """Change the demo trunk's row (the switch reads it at start, or at `SipCenter.reload_directory`)."""
    engine = create_engine(database_url)
    with engine.begin() as db:
        db.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(**values))
    engine.dispose()


@contextlib.contextmanager
def sip_center(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    carrier_port: int = 0,
    host: str = "127.0.0.1",
    **options: Any,
) -> Iterator[SipCenter]:
    """The app with its SIP engine (UDP and WebSocket on free ports, in the server's loop) on a seeded SQLite
    database in a new folder `<name>-center`, its test artifacts in `<name>-artifacts`. With `carrier_port` the demo trunk sends its calls to 127.0.0.1 at that port (where a
    test runs a sipp carrier); `SipCenter.carrier_ips` says who may call in as the carrier. `host` is the
    address it serves HTTP, SIP and media on and publishes (`public_ip`). `options` are more settings
    (``media_backend="rtpengine"``...)."""
    root, artifacts = tmp_path_factory.mktemp(f"{name}-center"), tmp_path_factory.mktemp(f"{name}-artifacts")
    url = f"sqlite:///{root / 'duplex.db'}"
    upgrade(url)
    rtp = free_even_port()
    settings = Settings(data_dir=root / "data", database_url=url, secret_key="web-test-secret", http_port=0,
                        sip_enabled=True, sip_host=host, sip_port=free_port(), sip_ws_enabled=True,
                        sip_ws_port=free_port(socket.SOCK_STREAM), public_ip=host,
                        rtp_port_min=rtp, rtp_port_max=rtp + 200, **options)  # fmt: skip
    credentials = json.loads(seed(settings).read_text())
    if carrier_port:
        demo_trunk(url, port=carrier_port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", **https_options(settings))
    )
    scheme = "https" if settings.http_certfile else "http"
    center = SipCenter(base_url=f"{scheme}://{host}:{port}", credentials=credentials, artifacts=artifacts,
                       data_dir=settings.data_dir, database_url=url, sip_port=settings.sip_port,
                       carrier_port=carrier_port, app=app)  # fmt: skip

    async def serve() -> None:
        center.node, center.loop = await _start_sip(app, settings), asyncio.get_running_loop()
        try:
            await server.serve(sockets=[sock])
        finally:
            await _stop_sip(
                center.node, app.state.campaigns
            )  # campaigns, contact center, switch; closes the store

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield center
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
