"""The `duplex` command: serve, db upgrade, user create, demo seed, simulate, version."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from duplex import __version__
from duplex.config import Settings, load_settings


def _settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Flags shared by every command that touches the database."""
    func = click.option(
        "--data-dir", type=click.Path(file_okay=False), help="Data directory [DUPLEX_DATA_DIR]."
    )(func)
    func = click.option("--database-url", help="SQLAlchemy URL [DUPLEX_DATABASE_URL].")(func)
    return func


def _settings(**kwargs: Any) -> Settings:
    return load_settings(**kwargs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Duplex: a blended inbound + outbound contact center."""


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"duplex {__version__}")


@main.command()
@_settings_options
@click.option("--host", "http_host", help="HTTP listen address [DUPLEX_HTTP_HOST, default 0.0.0.0].")
@click.option(
    "--http-port", type=int, help="HTTP port for the web UI and API [DUPLEX_HTTP_PORT, default 8080]."
)
@click.option("--sip-host", help="SIP listen address [DUPLEX_SIP_HOST, default 0.0.0.0].")
@click.option("--sip-port", type=int, help="SIP port, UDP and TCP [DUPLEX_SIP_PORT, default 5060].")
@click.option(
    "--no-sip", "no_sip", is_flag=True, help="Run without the SIP engine [DUPLEX_SIP_ENABLED=false]."
)
@click.option("--public-ip", help="Address put in SDP and Contact headers [DUPLEX_PUBLIC_IP].")
@click.option(
    "--nats-url", help="NATS JetStream URL for the event bus; empty = in-process [DUPLEX_NATS_URL]."
)
@click.option("--node-id", help="This node's name in a cluster [DUPLEX_NODE_ID, default node1].")
@click.option("--log-level", help="Logging level [DUPLEX_LOG_LEVEL, default INFO].")
def serve(no_sip: bool, **kwargs: Any) -> None:
    """Run the server: SIP (UDP+TCP), the HTTP API, the web UI and the event stream.

    Every setting can also come from duplex.toml (or the file named by DUPLEX_CONFIG) and from DUPLEX_*
    environment variables; flags win over both. Other settings: DUPLEX_SECRET_KEY, DUPLEX_SIP_REALM,
    DUPLEX_RTP_PORT_MIN/MAX, DUPLEX_TOKEN_TTL_SECONDS, DUPLEX_LOGIN_MAX_FAILURES,
    DUPLEX_LOGIN_LOCKOUT_SECONDS.
    """
    from duplex.server import run

    if no_sip:
        kwargs["sip_enabled"] = False
    run(_settings(**kwargs))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@_settings_options
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
def db_upgrade(revision: str, **kwargs: Any) -> None:
    """Create or migrate the schema to the latest revision."""
    from duplex.db.migrate import upgrade

    settings = _settings(**kwargs)
    settings.ensure_data_dir()
    upgrade(settings.effective_database_url, revision)
    click.echo(f"database at {revision}: {_redact(settings.effective_database_url)}")


@db.command("rebuild-projections")
@_settings_options
def db_rebuild_projections(**kwargs: Any) -> None:
    """Recompute the calls and call_legs tables (CDRs) from the event record."""
    from duplex.db.base import make_engine, make_session_factory
    from duplex.reports.projections import rebuild_calls

    settings = _settings(**kwargs)
    engine = make_engine(settings.effective_database_url)
    try:
        count = rebuild_calls(make_session_factory(engine))
    finally:
        engine.dispose()
    click.echo(f"rebuilt {count} calls from the event record")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@_settings_options
@click.option("--username", required=True)
@click.option("--password", help="The password (prefer --password-stdin: argv is visible to other users).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--role", type=click.Choice(["admin", "supervisor", "agent"]), required=True)
@click.option("--full-name", default="")
def user_create(
    username: str, password: str | None, password_stdin: bool, role: str, full_name: str, **kwargs: Any
) -> None:
    """Create a user who can log in to the web UI and API."""
    from duplex.auth.users import DuplicateUser, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise click.UsageError("give --password or --password-stdin")
    settings = _settings(**kwargs)
    try:
        new_id = create_user(settings, username=username, password=password, role=role, full_name=full_name)
    except DuplicateUser as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {username!r} (id {new_id})")


@main.group()
def demo() -> None:
    """The demo contact center."""


@demo.command("seed")
@_settings_options
def demo_seed(**kwargs: Any) -> None:
    """Create (or refresh) the demo center; writes <data-dir>/demo-credentials.json. Safe to run twice."""
    from duplex.demo import seed

    settings = _settings(**kwargs)
    path = seed(settings)
    creds = json.loads(path.read_text())
    click.echo(f"demo center ready; all credentials and numbers are in {path}")
    click.echo(f"  web UI and API: {creds['http']}  (API docs: {creds['http']}/docs)")
    click.echo(f"  SIP:            {creds['sip']} (UDP and TCP)")
    for role in ("admin", "supervisor"):
        click.echo(f"  {role:<11} login: {creds[role]['username']} / {creds[role]['password']}")
    for agent in creds["agents"]:
        click.echo(
            f"  agent {agent['username']:<6} login: {agent['username']} / {agent['password']}; "
            f"SIP phone: ext {agent['extension']}, user {agent['sip_username']}, password {agent['sip_password']}"
        )
    for number, description in creds["numbers"].items():
        click.echo(f"  call {number:<13} {description}")


@main.command()
@click.argument("scenario_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replications", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Replication r uses seed (SEED, r).")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write figures here."
)
@click.option(
    "--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG chart."
)
def simulate(
    scenario_file: Path, replications: int, seed: int, json_out: Path | None, plot_out: Path | None
) -> None:
    """Simulate a shift per dial mode (keys in docs/simulate.md) and compare talk time and abandons."""
    from duplex.sim.report import format_table, load_scenario, plot_summary, simulate_scenario
    from duplex.sim.scenario import ScenarioError

    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="SCENARIO_FILE") from exc
    summary = simulate_scenario(scenario, replications=replications, seed=seed)
    click.echo(format_table(summary))
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if plot_out is not None:
        plot_summary(summary, plot_out)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
