"""Helpers for the API tests: the seeded world, a settable clock."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from duplex.auth.deps import secret_key
from duplex.auth.passwords import hash_password
from duplex.auth.tokens import issue_token
from duplex.db.models import (
    Agent,
    Call,
    CallLeg,
    Campaign,
    Disposition,
    DncEntry,
    IvrFlow,
    IvrFlowVersion,
    Lead,
    LeadList,
    PhoneNumber,
    Queue,
    Recording,
    Role,
    Skill,
    Team,
    TeamSupervisor,
    Trunk,
    User,
)

PASSWORD = "correct-horse-battery"
RECORDING_BYTES = b"RIFF" + bytes(range(256)) * 4


class Clock:
    """Replaces the app's clock (`app.state.clock`) so expiry and lockouts can be tested without sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


def issue_tokens(app: FastAPI) -> dict[str, dict[str, str]]:
    """Bearer headers for admin, sup, agent, agent2 (users 1-4), issued directly: logins are tested in
    test_auth.py, and argon2 is slow on purpose."""
    headers = {}
    with app.state.sessions() as s, s.begin():
        for user_id, name in enumerate(("admin", "sup", "agent", "agent2"), start=1):
            token, _ = issue_token(
                s, secret_key=secret_key(app.state), user_id=user_id, now=app.state.clock(), ttl_seconds=3600
            )
            headers[name] = {"Authorization": f"Bearer {token}"}
    return headers


def seed(app: FastAPI) -> None:
    """Users 1 admin, 2 supervisor (of team 1), 3 agent (agent 1, team 1), 4 agent (agent 2, team 2),
    5-7 agent users without an agent row; one of each configuration entity; calls c-1 (agent 1) and c-2."""
    pw = password_hash()
    roles = [Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.AGENT, Role.AGENT, Role.AGENT, Role.AGENT]
    names = ["admin", "sup", "agent", "agent2", "spare1", "spare2", "spare3"]
    with app.state.sessions() as s, s.begin():
        s.add_all(User(username=n, password_hash=pw, role=r) for n, r in zip(names, roles, strict=True))
        s.flush()
        s.add_all([Team(name="A"), Team(name="B")])
        s.flush()
        s.add(TeamSupervisor(team_id=1, user_id=2))
        s.add_all(
            [
                Agent(
                    user_id=3, team_id=1, extension="101", sip_username="agent", sip_password="sip-secret-1"
                ),
                Agent(
                    user_id=4, team_id=2, extension="102", sip_username="agent2", sip_password="sip-secret-2"
                ),
            ]
        )
        s.add_all([Skill(name="billing"), Queue(name="support"), Trunk(name="carrier", host="127.0.0.1")])
        s.add(IvrFlow(name="main", versions=[IvrFlowVersion(version=1, definition={"start": "menu"})]))
        s.flush()
        s.add_all([Campaign(name="spring"), PhoneNumber(number="+40215550000", flow_id=1)])
        s.flush()
        s.add_all([LeadList(name="list", campaign_id=1), Disposition(code="sale", label="Sale")])
        s.add(DncEntry(phone="+40722000000"))
        s.flush()
        s.add(Lead(list_id=1, phone="+40712345678"))
        s.add_all(
            [
                Call(id="c-1", direction="inbound", agent_id=1, queue_id=1, campaign_id=1),
                Call(
                    id="c-2",
                    direction="outbound",
                    agent_id=2,
                    campaign_id=1,
                    ended_at=dt.datetime.now(dt.UTC),
                ),
            ]
        )
        s.flush()
        s.add(CallLeg(id="l-1", call_id="c-1", kind="caller"))
        s.add(Recording(call_id="c-1", path="2026/c-1.wav", size_bytes=len(RECORDING_BYTES)))
    target = app.state.settings.data_dir / "recordings" / "2026" / "c-1.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(RECORDING_BYTES)


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    clock: Clock
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post("/api/v1/auth/token", json={"username": username, "password": password})

    async def as_(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request as `role` ("admin", "sup", "agent", "agent2") or anonymously ("none")."""
        headers = {**self.headers.get(role, {}), **kwargs.pop("headers", {})}
        return await self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)

    def count(self, model: type[Any], *where: Any) -> int:
        with self.app.state.sessions() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where)) or 0

    def rows(self, model: type[Any], *where: Any) -> list[Any]:
        with self.app.state.sessions() as s:
            return list(s.scalars(select(model).where(*where).order_by(model.id)))
