"""An app with an admin, a supervisor of team A, and two agents (one in team A, one in team B)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works the same here
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from duplex.api.app import create_app
from duplex.auth.deps import clock, secret_key
from duplex.auth.tokens import issue_token
from duplex.config import Settings
from duplex.db.base import transaction
from duplex.db.models import Agent, Role, Team, TeamSupervisor, User


@dataclass
class People:
    admin: str
    supervisor: str
    agent: str  # token of agent `agent_id` (team A)
    agent_id: int
    other_agent_id: int  # team B


def _user(session, name: str, role: Role) -> User:  # type: ignore[no-untyped-def]
    user = User(username=name, password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


def make_people(app: FastAPI) -> People:
    state = app.state
    with transaction(state.sessions) as s:
        team_a, team_b = Team(name="A"), Team(name="B")
        s.add_all([team_a, team_b])
        admin = _user(s, "admin", Role.ADMIN)
        sup = _user(s, "sup", Role.SUPERVISOR)
        s.add(TeamSupervisor(team_id=team_a.id, user_id=sup.id))
        ag1, ag2 = _user(s, "ag1", Role.AGENT), _user(s, "ag2", Role.AGENT)
        a1 = Agent(user_id=ag1.id, team_id=team_a.id, extension="101", sip_username="ag1", sip_password="p")
        a2 = Agent(user_id=ag2.id, team_id=team_b.id, extension="102", sip_username="ag2", sip_password="p")
        s.add_all([a1, a2])
        s.flush()
        tokens = {}
        for user in (admin, sup, ag1):
            tokens[user.username], _ = issue_token(
                s, secret_key=secret_key(state), user_id=user.id, now=clock(state), ttl_seconds=3600
            )
        return People(tokens["admin"], tokens["sup"], tokens["ag1"], a1.id, a2.id)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def people(app: FastAPI) -> People:
    return make_people(app)
