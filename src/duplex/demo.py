"""The demo contact center: users, agents with SIP phones, skills, tiered queues, an IVR, demo numbers,
a trunk to a local test carrier and a small outbound campaign.

Seeding is idempotent: rows are found by their unique key and refreshed, never duplicated, and the
generated passwords are kept in `<data_dir>/demo-credentials.json` so a second run keeps them.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.acd.types import RoutingStrategy
from duplex.auth.passwords import hash_password, verify_password
from duplex.callscript.demo import demo_script
from duplex.config import Settings
from duplex.db.base import Base, make_engine, make_session_factory, transaction
from duplex.db.models import (
    Agent,
    AgentSkill,
    CallScript,
    Campaign,
    Disposition,
    DncEntry,
    IvrFlow,
    IvrFlowVersion,
    Lead,
    LeadList,
    PhoneNumber,
    Queue,
    QueueMember,
    QueueSkill,
    Role,
    Scorecard,
    Skill,
    Team,
    TeamSupervisor,
    Trunk,
    User,
)
from duplex.dialer.types import CampaignStatus, DialMode
from duplex.ivr import demo_flow

M = TypeVar("M", bound=Base)

# The demo scorecard's criteria (what the scoring form on the recordings page shows).
DEMO_SCORECARD = [
    {"name": "Greeting", "description": "Greets, gives their name", "weight": 1, "max_score": 5, "auto_fail": False},
    {"name": "Understanding", "description": "Finds out what the caller needs", "weight": 2, "max_score": 5,
     "auto_fail": False},
    {"name": "Solution", "description": "Solves it, or says what happens next", "weight": 3, "max_score": 5,
     "auto_fail": False},
    {"name": "Compliance", "description": "Recording notice; no card data read back", "weight": 2, "max_score": 1,
     "auto_fail": True},
]  # fmt: skip

AGENTS = [
    # username, full name, extension, skills {name: proficiency}
    ("alice", "Alice Agent", "2001", {"sales": 90, "support": 40, "english": 100, "romanian": 80}),
    ("bob", "Bob Agent", "2002", {"support": 85, "english": 90}),
    ("carol", "Carol Agent", "2003", {"support": 95, "billing": 80, "english": 80, "portuguese": 90}),
    ("dave", "Dave Agent", "2004", {"sales": 70, "english": 70, "italian": 100}),
]
# The supervisor's phone: no queue, team or skill (the supervisor takes no queue's calls), but an agent row, the
# phone a monitored call rings (`duplex.api.monitor`), registered by the console's softphone (`api/softphone.py`).
SUPERVISOR_EXTENSION = "2100"
# Who answers which queue (the ACD also checks each agent's skill against the queue's minimum).
QUEUE_MEMBERS = {
    "alice": ("sales", "support-l1"),
    "bob": ("support-l1", "support-l2"),
    "carol": ("support-l1", "support-l2"),
    "dave": ("sales",),
}
SKILLS = [
    "sales",
    "support",
    "billing",
    "english",
    "romanian",
    "portuguese",
    "italian",
    "hungarian",
    "russian",
]

# Menu "1 sales, 2 support, 3 request a callback" with a language choice and opening hours (duplex.ivr format).
DEMO_IVR: dict[str, Any] = demo_flow()


def _upsert(session: Session, model: type[M], key: dict[str, Any], **values: Any) -> M:
    row = session.scalars(select(model).filter_by(**key)).one_or_none()
    if row is None:
        row = model(**key, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return row


def _password(stored: dict[str, Any], key: str) -> str:
    value = stored.get(key)
    return value if isinstance(value, str) and value else secrets.token_urlsafe(9)


def _user(session: Session, username: str, password: str, role: Role, full_name: str) -> User:
    user = session.scalars(select(User).filter_by(username=username)).one_or_none()
    if user is None:
        user = User(username=username, password_hash=hash_password(password), role=role, full_name=full_name)
        session.add(user)
    elif not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
    user.role, user.full_name, user.is_active = role, full_name, True
    session.flush()
    return user


def _phone(settings: Settings, extension: str, sip_username: str, sip_password: str) -> dict[str, Any]:
    """What a phone (a desk phone or the console's softphone) of a demo user registers with."""
    return {"extension": extension, "sip_username": sip_username, "sip_password": sip_password,
            "sip_domain": settings.public_ip, "sip_port": settings.sip_port}  # fmt: skip


def seed(settings: Settings) -> Path:
    """Create or refresh the demo center; returns the path of the credentials file."""
    data_dir = settings.ensure_data_dir()
    cred_path = data_dir / "demo-credentials.json"
    stored: dict[str, Any] = json.loads(cred_path.read_text()) if cred_path.exists() else {}
    old_pw: dict[str, Any] = stored.get("passwords", {})
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            creds = _seed(session, settings, old_pw)
    finally:
        engine.dispose()
    cred_path.write_text(json.dumps(creds, indent=2) + "\n")
    cred_path.chmod(0o600)
    return cred_path


def _seed(session: Session, settings: Settings, old_pw: dict[str, Any]) -> dict[str, Any]:
    passwords = {name: _password(old_pw, name) for name in ("admin", "supervisor")}
    passwords |= {name: _password(old_pw, name) for name, *_ in AGENTS}
    phones = [name for name, *_ in AGENTS] + ["supervisor"]
    sip_passwords = {name: _password(old_pw, f"sip:{name}") for name in phones}

    admin = _user(session, "admin", passwords["admin"], Role.ADMIN, "Demo Administrator")
    supervisor = _user(session, "supervisor", passwords["supervisor"], Role.SUPERVISOR, "Demo Supervisor")
    team = _upsert(session, Team, {"name": "Demo team"}, description="All demo agents")
    _upsert(session, TeamSupervisor, {"team_id": team.id, "user_id": supervisor.id})
    _upsert(session, Agent, {"user_id": supervisor.id}, team_id=None, extension=SUPERVISOR_EXTENSION,
            sip_username="supervisor", sip_password=sip_passwords["supervisor"])  # fmt: skip
    skills = {name: _upsert(session, Skill, {"name": name}) for name in SKILLS}

    agents_out = []
    for username, full_name, ext, agent_skills in AGENTS:
        user = _user(session, username, passwords[username], Role.AGENT, full_name)
        agent = _upsert(
            session,
            Agent,
            {"user_id": user.id},
            team_id=team.id,
            extension=ext,
            sip_username=username,
            sip_password=sip_passwords[username],
        )
        for skill_name, level in agent_skills.items():
            _upsert(
                session,
                AgentSkill,
                {"agent_id": agent.id, "skill_id": skills[skill_name].id},
                proficiency=level,
            )
        agents_out.append(
            {"username": username, "password": passwords[username],
             **_phone(settings, ext, username, sip_passwords[username]), "skills": agent_skills}
        )  # fmt: skip

    l2 = _upsert(
        session,
        Queue,
        {"name": "support-l2"},
        description="Second-line support",
        strategy=RoutingStrategy.SKILLS_BASED,
        recording_policy="all",
    )
    _upsert(session, QueueSkill, {"queue_id": l2.id, "skill_id": skills["support"].id}, min_proficiency=80)
    l1 = _upsert(
        session,
        Queue,
        {"name": "support-l1"},
        description="First-line support; escalates to support-l2 after 2 minutes",
        strategy=RoutingStrategy.SKILLS_BASED,
        overflow_queue_id=l2.id,
        escalate_after_seconds=120,
        team_id=team.id,
        recording_policy="all",
    )
    _upsert(session, QueueSkill, {"queue_id": l1.id, "skill_id": skills["support"].id}, min_proficiency=30)
    sales = _upsert(
        session,
        Queue,
        {"name": "sales"},
        description="Sales line",
        strategy=RoutingStrategy.LONGEST_IDLE,
        priority=1,
        recording_policy="all",
    )
    _upsert(session, QueueSkill, {"queue_id": sales.id, "skill_id": skills["sales"].id}, min_proficiency=1)
    queues = {"sales": sales, "support-l1": l1, "support-l2": l2}
    agent_rows = {row.sip_username: row for row in session.scalars(select(Agent))}
    for username, queue_names in QUEUE_MEMBERS.items():
        for name in queue_names:
            _upsert(session, QueueMember, {"queue_id": queues[name].id, "agent_id": agent_rows[username].id})

    flow = _upsert(session, IvrFlow, {"name": "demo-main-menu"}, description="The demo IVR on 1000")
    latest = session.scalars(
        select(IvrFlowVersion).filter_by(flow_id=flow.id).order_by(IvrFlowVersion.version.desc()).limit(1)
    ).one_or_none()
    if latest is None or latest.definition != DEMO_IVR:  # versions never change: a new demo flow is a new one
        latest = IvrFlowVersion(
            flow_id=flow.id,
            version=latest.version + 1 if latest is not None else 1,
            definition=DEMO_IVR,
            created_by=admin.id,
        )
        session.add(latest)
    flow.published_version = latest.version

    trunk = _upsert(
        session,
        Trunk,
        {"name": "demo-carrier"},
        host="127.0.0.1",
        port=5070,
        caller_id="+40215550100",
        allowed_ips=["127.0.0.1"],
        max_cps=10.0,
        max_channels=60,
    )
    numbers: list[tuple[str, str, dict[str, Any]]] = [
        ("1000", "Demo IVR main menu", {"flow_id": flow.id}),
        ("1001", "Echo test: answers, beeps, echoes your audio back", {"application": "echo"}),
        ("1002", "TTS greeting, then records a message", {"application": "voicemail-demo"}),
        ("+40215550100", "Main number (Google Ads)", {"flow_id": flow.id, "tracking_source": "google-ads"}),
        ("+40215550101", "Main number (newspaper ad)", {"flow_id": flow.id, "tracking_source": "newspaper"}),
        ("+40215550102", "Sales direct line", {"queue_id": sales.id, "tracking_source": "website"}),
    ]
    for number, description, extra in numbers:
        _upsert(session, PhoneNumber, {"number": number}, description=description, trunk_id=trunk.id, **extra)

    script = _upsert(session, CallScript, {"name": "demo-renewals-script"}, definition=demo_script(),
                     description="Renewal offer: greeting, offer or reason, close")  # fmt: skip
    campaign = _upsert(
        session,
        Campaign,
        {"name": "demo-renewals"},
        kind="telemarketing",
        dial_mode=DialMode.PROGRESSIVE,
        status=CampaignStatus.DRAFT,
        queue_id=sales.id,
        trunk_id=trunk.id,
        caller_id="+40215550100",
        script="Hello {first_name}, this is {agent} from Duplex about renewing your plan...",
        script_id=script.id,
    )
    for code, label, success, final, callback, dnc in [
        ("SALE", "Sale", True, True, False, False),
        ("CALLBACK", "Call back later", False, False, True, False),
        ("NOT_INTERESTED", "Not interested", False, True, False, False),
        ("WRONG_NUMBER", "Wrong number", False, True, False, False),
        ("DNC", "Do not call again", False, True, False, True),
    ]:
        _upsert(
            session,
            Disposition,
            {"campaign_id": campaign.id, "code": code},
            label=label,
            is_success=success,
            is_final=final,
            schedules_callback=callback,
            marks_dnc=dnc,
        )
    leads = _upsert(session, LeadList, {"name": "demo-leads", "campaign_id": campaign.id}, source="demo seed")
    for i, (phone, first, tz) in enumerate(
        [
            ("+40721000001", "Ana", "Europe/Bucharest"),
            ("+351912000002", "João", "Europe/Lisbon"),
            ("+393471000003", "Giulia", "Europe/Rome"),
            ("+36301000004", "Bence", "Europe/Budapest"),
            ("+79161000005", "Olga", "Europe/Moscow"),
        ]
    ):
        _upsert(
            session,
            Lead,
            {"list_id": leads.id, "phone": phone},
            first_name=first,
            timezone=tz,
            priority=5 - i,
        )
    _upsert(
        session, DncEntry, {"phone": "+40721999999"}, source="internal", reason="demo: asked not to be called"
    )
    _upsert(session, Scorecard, {"name": "Demo call quality"}, description="Scored by supervisors from recordings",
            criteria=DEMO_SCORECARD)  # fmt: skip

    return {
        "http": f"http://localhost:{settings.http_port}",
        "sip": f"sip:{settings.public_ip}:{settings.sip_port}",
        "admin": {"username": "admin", "password": passwords["admin"]},
        "supervisor": {
            "username": "supervisor",
            "password": passwords["supervisor"],
            **_phone(settings, SUPERVISOR_EXTENSION, "supervisor", sip_passwords["supervisor"]),
        },
        "agents": agents_out,
        "numbers": {number: description for number, description, _ in numbers},
        "trunk": {"name": "demo-carrier", "host": "127.0.0.1", "port": 5070},
        # Kept so a re-seed keeps every password; this file is mode 0600.
        "passwords": passwords | {f"sip:{name}": pw for name, pw in sip_passwords.items()},
    }
