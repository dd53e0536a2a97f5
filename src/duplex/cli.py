"""The `duplex` command: serve, db upgrade, user create, demo seed, leads import/recycle, simulate, version."""

from __future__ import annotations

import json
import sys
import time
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

    def login(label: str, user: dict[str, Any]) -> str:
        return f"  {label:<11} login: {user['username']} / {user['password']}"

    def phone(user: dict[str, Any]) -> str:
        return f"SIP phone: ext {user['extension']}, user {user['sip_username']}, password {user['sip_password']}"

    click.echo(login("admin", creds["admin"]))
    click.echo(f"{login('supervisor', creds['supervisor'])}; {phone(creds['supervisor'])}")
    for agent in creds["agents"]:
        click.echo(f"{login('agent ' + agent['username'], agent)}; {phone(agent)}")
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


@main.group()
def leads() -> None:
    """Lead lists: import files, recycle exhausted lists."""


class _Progress:
    """A progress bar on a terminal (percent of the file's bytes, or of an XLSX sheet's rows, and rows/s);
    nothing when the output is not a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.started = time.monotonic()
        self.rows = 0

    def __call__(self, source: Any, counts: Any) -> None:
        self.rows = counts.imported + counts.updated + counts.skipped_duplicates + counts.rejected
        if self.bar is None:
            if not sys.stdout.isatty() or not source.total:
                return
            self.bar = click.progressbar(length=source.total, label="importing", show_percent=True,
                                         item_show_func=self._rate)  # fmt: skip
            self.bar.__enter__()
        self.bar.update(source.done() - self.bar.pos, current_item=self.rows)

    def _rate(self, rows: int | None) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return f"{self.rows} rows, {self.rows / elapsed:,.0f} rows/s"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@leads.command("import")
@_settings_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--list", "list_id", type=int, required=True, help="The lead list to import into.")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD",
              help="File column -> lead field, custom.<key>, or - to drop it (repeatable).")  # fmt: skip
@click.option("--region", help="ISO 3166 region for national numbers, e.g. RO.")
@click.option("--on-duplicate", type=click.Choice(["skip", "update"]), default="skip", show_default=True)
@click.option("--dry-run", is_flag=True, help="Validate and count, write nothing.")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every row error to this CSV (row, field, message).")  # fmt: skip
def leads_import(
    file: Path,
    list_id: int,
    mappings: tuple[str, ...],
    region: str | None,
    on_duplicate: str,
    dry_run: bool,
    errors_path: Path | None,
    **kwargs: Any,
) -> None:
    """Import a CSV or XLSX file of leads into a list, streaming (any size, bounded memory).

    The columns and rules are those of POST /api/v1/lead-lists/{id}/import; all rows are written in one
    transaction. Exits 1 when the file cannot be imported at all."""
    from duplex.api.lead_csv import CsvFileError, valid_region
    from duplex.api.lead_import import ImportOptions, OnDuplicate
    from duplex.api.lead_jobs import parse_mapping
    from duplex.lead_commands import MissingList, import_file

    if region is not None and not valid_region(region):
        raise click.BadParameter(
            f"unknown region {region!r} (ISO 3166 alpha-2, e.g. RO)", param_hint="--region"
        )
    try:
        mapping = parse_mapping(list(mappings))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map") from None
    options = ImportOptions(list_id=list_id, region=region, mapping=mapping,
                            on_duplicate=OnDuplicate(on_duplicate), dry_run=dry_run)  # fmt: skip
    progress = _Progress()
    errors_file = errors_path.open("w", newline="", encoding="utf-8") if errors_path else None
    try:
        outcome = import_file(_settings(**kwargs), file, options, progress=progress, errors_to=errors_file)
    except (CsvFileError, MissingList) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()
        if errors_file is not None:
            errors_file.close()
    counts, elapsed = outcome.counts, max(time.monotonic() - progress.started, 1e-6)
    click.echo(f"{'dry run: ' if dry_run else ''}{progress.rows} data rows in {elapsed:.1f} s "
               f"({progress.rows / elapsed:,.0f} rows/s)")  # fmt: skip
    click.echo(f"  imported {counts.imported}, updated {counts.updated}, skipped duplicates "
               f"{counts.skipped_duplicates}, rejected {counts.rejected}, flagged dnc {counts.dnc_flagged}")  # fmt: skip
    for error in outcome.first_errors:
        click.echo(f"  line {error.row}: {error.field or 'row'}: {error.message}")
    if outcome.error_count > len(outcome.first_errors):
        more = outcome.error_count - len(outcome.first_errors)
        click.echo(
            f"  ... {more} more error(s)" + (f"; all in {errors_path}" if errors_path else "; see --errors")
        )


@leads.command("recycle")
@_settings_options
@click.option("--list", "list_id", type=int, required=True, help="The lead list to recycle.")
@click.option("--status", "statuses", multiple=True, required=True,
              type=click.Choice(["new", "callback", "retry", "done", "invalid"]),
              help="Recycle leads in this status (repeatable).")  # fmt: skip
@click.option(
    "--outcome", "outcomes", multiple=True, help="Only leads whose last outcome is this (repeatable)."
)
@click.option("--after-days", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Only leads last dialed at least this many days ago.")  # fmt: skip
@click.option("--filter", "lead_filter", help='Narrow it down, e.g. custom.interest == "solar".')
@click.option("--dry-run", is_flag=True, help="Count, change nothing.")
def leads_recycle(
    list_id: int,
    statuses: tuple[str, ...],
    outcomes: tuple[str, ...],
    after_days: float,
    lead_filter: str | None,
    dry_run: bool,
    **kwargs: Any,
) -> None:
    """Reset a list's leads in the given end states to new, so the dialer takes them again."""
    from duplex.api.lead_filter import FilterError, parse_filter
    from duplex.api.lead_recycle import RecycleRule
    from duplex.dialer.types import LeadStatus
    from duplex.lead_commands import MissingList, recycle_list

    if lead_filter is not None:
        try:
            parse_filter(lead_filter)
        except FilterError as exc:
            raise click.BadParameter(str(exc), param_hint="--filter") from None
    rule = RecycleRule(statuses=frozenset(LeadStatus(s) for s in statuses), outcomes=frozenset(outcomes),
                       after_days=after_days, lead_filter=lead_filter)  # fmt: skip
    try:
        count = recycle_list(_settings(**kwargs), list_id, rule, dry_run=dry_run)
    except MissingList as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'would recycle' if dry_run else 'recycled'} {count} lead(s) of list {list_id}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
