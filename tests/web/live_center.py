"""What the browser tests share besides fixtures: the running center and signing in through the login page."""

from __future__ import annotations

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
