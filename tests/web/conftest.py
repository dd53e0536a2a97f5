"""The browser tier: the real app served by uvicorn on 127.0.0.1 (a free port), the demo center seeded into
SQLite, and Debian's Chromium driven by Playwright. One server per test module keeps the suite quick; each
test signs in through the login page like a user would.

The database parity of the API is covered by tests/api on SQLite and PostgreSQL; these tests check what the
browser does with it, so they run on SQLite only.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from live_center import LiveCenter
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from duplex.api.app import create_app
from duplex.config import Settings
from duplex.db.migrate import upgrade
from duplex.demo import seed
from duplex.web.routes import vendor_bundle_built

CHROMIUM = "/usr/bin/chromium"

# expect() waits for what a user would see; 5 s (its default) is short when the suite runs on every core
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCenter]:
    root = tmp_path_factory.mktemp("web-center")
    url = f"sqlite:///{root / 'duplex.db'}"
    upgrade(url)
    settings = Settings(
        data_dir=root / "data", database_url=url, sip_enabled=False, secret_key="web-test-secret", http_port=0
    )
    credentials = json.loads(seed(settings).read_text())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    artifacts = Path(os.environ.get("DUPLEX_WEB_ARTIFACTS") or tmp_path_factory.mktemp("web-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        yield LiveCenter(base_url=f"http://127.0.0.1:{port}", credentials=credentials, artifacts=artifacts,
                         data_dir=settings.data_dir, database_url=url)  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/test-deps.sh (apt-get install chromium)"
    assert vendor_bundle_built(), "the browser bundle is missing: run make web-assets (npm ci + esbuild)"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, center: LiveCenter, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (own storage) with its console errors collected; a screenshot of the last
    screen is saved as a test artifact, pass or fail."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=center.base_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.screenshot(path=str(center.artifacts / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
