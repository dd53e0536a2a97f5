"""The `duplex` command and the demo seed, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from duplex import __version__
from duplex.auth.passwords import verify_password
from duplex.cli import main
from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Agent, AgentSkill, Lead, PhoneNumber, Queue, QueueMember, User
from duplex.demo import seed


def _count(settings: Settings, model: type) -> int:
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as s:
        n = s.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return int(n or 0)


def test_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"duplex {__version__}"


def test_serve_help_documents_every_common_flag() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--http-port",
        "--sip-port",
        "--public-ip",
        "--database-url",
        "--data-dir",
        "--nats-url",
        "--no-sip",
    ):
        assert flag in result.output
    assert "DUPLEX_SECRET_KEY" in result.output


def test_user_create_with_password_stdin_then_duplicate_is_refused(settings: Settings) -> None:
    args = [
        "user",
        "create",
        "--database-url",
        settings.effective_database_url,
        "--data-dir",
        str(settings.data_dir),
    ]
    runner = CliRunner()
    ok = runner.invoke(
        main, [*args, "--username", "root", "--role", "admin", "--password-stdin"], input="s3cret\n"
    )
    assert ok.exit_code == 0, ok.output
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as s:
        user = s.scalars(select(User).filter_by(username="root")).one()
        assert user.role == "admin"
        assert verify_password(user.password_hash, "s3cret")
        assert not verify_password(user.password_hash, "wrong")
    engine.dispose()
    again = runner.invoke(main, [*args, "--username", "root", "--role", "agent", "--password", "x"])
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_user_create_needs_a_password(settings: Settings) -> None:
    result = CliRunner().invoke(
        main,
        [
            "user",
            "create",
            "--database-url",
            settings.effective_database_url,
            "--username",
            "u",
            "--role",
            "agent",
        ],
    )
    assert result.exit_code == 2
    assert "--password" in result.output


def test_demo_seed_is_idempotent_and_writes_credentials(settings: Settings) -> None:
    path = seed(settings)
    first = json.loads(path.read_text())
    counts = {m: _count(settings, m) for m in (User, Agent, AgentSkill, Queue, PhoneNumber, Lead)}
    # admin, supervisor and four agents; five phones (agent rows): the agents' and the supervisor's
    assert counts[User] == 6 and counts[Agent] == 5 and counts[PhoneNumber] >= 6
    assert [a["username"] for a in first["agents"]] == ["alice", "bob", "carol", "dave"]

    second = json.loads(seed(settings).read_text())
    assert second == first  # same passwords, numbers and logins
    assert {m: _count(settings, m) for m in counts} == counts

    assert {"1000", "1001", "1002"} <= set(first["numbers"])
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as s:
        admin = s.scalars(select(User).filter_by(username="admin")).one()
        assert verify_password(admin.password_hash, first["admin"]["password"])
        alice = s.scalars(select(Agent).filter_by(sip_username="alice")).one()
        agent_json = next(a for a in first["agents"] if a["username"] == "alice")
        assert alice.sip_password == agent_json["sip_password"] != agent_json["password"]
        # the supervisor's phone (what the console's softphone registers, the phone a monitored call rings)
        # is theirs alone: an extension and a SIP account, but no team, queue or skill
        phone = s.scalars(select(Agent).join(User).where(User.username == "supervisor")).one()
        sup = first["supervisor"]
        assert (phone.extension, phone.sip_username, phone.sip_password) == (
            sup["extension"], sup["sip_username"], sup["sip_password"])  # fmt: skip
        assert sup["sip_password"] != sup["password"]
        assert phone.team_id is None and not phone.skills
        assert s.scalar(select(func.count()).select_from(QueueMember).filter_by(agent_id=phone.id)) == 0
    engine.dispose()
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"


def test_demo_seed_cli_prints_logins(settings: Settings) -> None:
    result = CliRunner().invoke(
        main,
        [
            "demo",
            "seed",
            "--database-url",
            settings.effective_database_url,
            "--data-dir",
            str(settings.data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    creds = json.loads((settings.data_dir / "demo-credentials.json").read_text())
    assert f"admin / {creds['admin']['password']}" in result.output
    sup = creds["supervisor"]
    assert f"supervisor / {sup['password']}; SIP phone: ext {sup['extension']}, user supervisor" in (
        result.output
    )
    assert "call 1001" in result.output


def test_rebuild_projections_recreates_call_rows_from_events(settings: Settings) -> None:
    from sqlalchemy import delete

    from duplex.db.models import Call
    from duplex.events.record import EventRecord
    from duplex.events.types import CallCreated, CallEnded
    from duplex.reports import LiveProjection

    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    record = EventRecord(sessions, projectors=[LiveProjection()])
    created = CallCreated(
        direction="inbound", from_="+40700", to="1001", tracking_source=None, phone_number_id=None
    )
    record.emit(created, call_id="cdr-1")
    ended = CallEnded(
        reason="caller_hangup", answered=False, hangup_by="remote", leg_kind="caller", sip_status=None
    )
    record.emit(ended, call_id="cdr-1")
    with sessions() as s, s.begin():
        before = s.get(Call, "cdr-1")
        assert before is not None
        expected = (before.direction, before.from_number, before.state, before.end_reason)
        s.execute(delete(Call))
    engine.dispose()

    result = CliRunner().invoke(
        main, ["db", "rebuild-projections", "--database-url", settings.effective_database_url]
    )
    assert result.exit_code == 0, result.output
    assert "rebuilt 1 calls" in result.output
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as s:
        after = s.get(Call, "cdr-1")
        assert after is not None
        assert (after.direction, after.from_number, after.state, after.end_reason) == expected
        assert expected == ("inbound", "+40700", "ended", "caller_hangup")
    engine.dispose()
