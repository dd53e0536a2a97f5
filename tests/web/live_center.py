"""What the browser tests share besides fixtures: the running center and signing in through the login page."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page


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
        client = httpx.Client(base_url=f"{self.base_url}/api/v1", timeout=20)
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


def snap(page: Page, center: LiveCenter, name: str) -> None:
    """A screenshot of the current screen in the test artifacts; with DUPLEX_DOCS_SCREENSHOTS=<folder> also
    there (how the pictures in docs/screenshots are refreshed)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(center.artifacts / f"{name}.png"))
    docs = os.environ.get("DUPLEX_DOCS_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(docs) / f"{name}.png"))
