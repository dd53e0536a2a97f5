"""Lead import: the streaming import of a generated 1,000,000-row CSV into SQLite and PostgreSQL (rows/s and
peak RSS), and, side by side on a size the whole-file import can hold, the whole-file import as it was before
streaming (its code read from git at --baseline-rev) against the streaming one.

    .venv/bin/python bench/lead_import.py [--rows 1000000] [--baseline-rows 100000] [--db sqlite,postgres]
        [--write docs/benchmarks.md]

Each run is a fresh child process on a fresh database (PostgreSQL: a database created for it on the server of
DUPLEX_TEST_DATABASE_URL and dropped after), so its peak RSS (getrusage ru_maxrss) is its own. The file: RO
mobile numbers in national format read with --region RO, names, an email, a priority and a custom
`interest` column; 1% of the rows have a broken number and 1% repeat an earlier number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import types
import uuid
from pathlib import Path
from typing import Any

from _markdown import update_section

SECTION = "## Lead import (bench/lead_import.py)"
BASELINE_REV = "ae29378"  # the last commit with the whole-file import (lead_csv.parse_leads on bytes)
PG_ADMIN_URL = os.environ.get("DUPLEX_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as out:
        out.write("phone,first_name,last_name,email,priority,interest\n")
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01:
                phone = f"07{rng.randrange(10**6)}"  # too short: a rejected row
            elif roll < 0.02 and i:
                phone = f"07{rng.randrange(i) % 10**8:08d}"  # an earlier row's number (most of the time)
            else:
                phone = f"07{i % 10**8:08d}"
            interest = rng.choice(("solar", "wind", "heat pump", ""))
            out.write(f"{phone},Name{i},Surname{i},n{i}@example.com,{rng.randrange(10)},{interest}\n")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _old_modules(rev: str) -> tuple[Any, Any]:
    """The whole-file parser and writer as they were at `rev`, loaded from git without touching the tree."""
    loaded = []
    for name in ("lead_csv", "lead_import"):
        source = subprocess.run(["git", "show", f"{rev}:src/duplex/api/{name}.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        module = types.ModuleType(f"baseline_{name}")
        sys.modules[module.__name__] = module  # dataclasses look their module up there
        exec(compile(source, f"{rev}:{name}.py", "exec"), module.__dict__)  # noqa: S102 - our own history
        loaded.append(module)
    return loaded[0], loaded[1]


def child(kind: str, url: str, path: Path, rev: str) -> dict[str, Any]:
    """One import into list 1 of the database at `url`; prints its figures as JSON."""
    import phonenumbers

    from duplex.api.lead_csv import zone_of
    from duplex.api.lead_import import ImportOptions, run_import
    from duplex.api.lead_source import csv_source
    from duplex.db.base import make_engine, make_session_factory, utcnow
    from duplex.db.models import Lead, LeadList

    old_csv, old_import = _old_modules(rev) if kind == "whole-file" else (None, None)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        s.add(LeadList(name="bench"))
    zone_of(phonenumbers.parse("+40712345678"))  # phonenumbers loads its tables once: not the import's growth
    before = _rss_mb()
    started = time.perf_counter()
    with sessions() as session, session.begin():
        if old_csv is not None:
            parsed = old_csv.parse_leads(path.read_bytes(), region="RO", max_rows=10**9)
            counts = old_import.write_leads(session, list_id=1, rows=parsed.rows,
                                            on_duplicate=old_import.OnDuplicate.SKIP, now=utcnow())  # fmt: skip
            rejected = parsed.rejected
        else:
            with path.open("rb") as stream:
                counts = run_import(session, csv_source(stream), ImportOptions(list_id=1, region="RO"),
                                    now=utcnow(), on_errors=lambda errors: None)  # fmt: skip
            rejected = counts.rejected
    seconds = time.perf_counter() - started
    with sessions() as s:
        stored = s.query(Lead).count()
    engine.dispose()
    rows = counts.imported + counts.updated + counts.skipped_duplicates + rejected
    return {"kind": kind, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "stored": stored,
            "imported": counts.imported, "duplicates": counts.skipped_duplicates, "rejected": rejected,
            "rss_before_mb": before, "peak_rss_mb": _rss_mb()}  # fmt: skip


def _database(db: str, workdir: Path) -> tuple[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from duplex.db.base import make_engine
    from duplex.db.migrate import upgrade

    if db == "sqlite":
        url = f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
        upgrade(url)
        return url, lambda: None
    name = f"bench_leads_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def run(sql: str) -> None:
        with admin.connect() as conn:
            conn.execute(text(sql))

    run(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url, lambda: (run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'), admin.dispose())


def measure(kind: str, db: str, path: Path, workdir: Path, rev: str) -> dict[str, Any]:
    url, drop = _database(db, workdir)
    try:
        out = subprocess.run([sys.executable, __file__, "--child", kind, url, str(path), rev],
                             stdout=subprocess.PIPE, text=True).stdout  # fmt: skip
    finally:
        drop()
    if not out.strip():
        raise SystemExit(f"the {kind} import on {db} failed")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["db"] = db
    print(json.dumps(result), file=sys.stderr)
    return result


def render(results: list[dict[str, Any]], args: argparse.Namespace, load: str) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/lead_import.py --rows {args.rows} --baseline-rows {args.baseline_rows}"
        f" --db {args.db}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores shared with other work, load "
        f"{load}). Peak RSS is the child process's whole-life maximum (Python, SQLAlchemy, phonenumbers'"
        " tables included); `delta` is the growth during the import.",
        "",
        "| db | import | data rows | seconds | rows/s | peak RSS MB | delta MB | rows/s ratio | delta ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = {(r["db"], r["rows"]): r for r in results if r["kind"] == "whole-file"}
    for r in results:
        ref = base.get((r["db"], r["rows"]))
        delta = r["peak_rss_mb"] - r["rss_before_mb"]
        ratio = (
            f"{r['rows_per_s'] / ref['rows_per_s']:.2f}"
            if ref and ref is not r
            else "1 (baseline)"
            if ref
            else "-"
        )
        ref_delta = ref["peak_rss_mb"] - ref["rss_before_mb"] if ref else 0
        delta_ratio = (
            f"{delta / ref_delta:.2f}" if ref and ref is not r and ref_delta > 0 else "1" if ref else "-"
        )
        lines.append(
            f"| {r['db']} | {r['kind']} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} | "
            f"{r['peak_rss_mb']:.0f} | {delta:.0f} | {ratio} | {delta_ratio} |"
        )
    lines.append("")
    lines.append(
        "Every run counts imported + skipped duplicates + rejected = data rows; the whole-file baseline is the "
        f"code at {args.baseline_rev}, which holds the file, every parsed row and every number set in memory "
        "(its API limit was 20 MB / 200 000 rows)."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, url, path, rev = sys.argv[2:6]
        print(json.dumps(child(kind, url, Path(path), rev)))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument(
        "--write", type=Path, help="replace this section of a markdown file (docs/benchmarks.md)"
    )
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        small, large = workdir / "small.csv", workdir / "large.csv"
        generate(small, args.baseline_rows)
        generate(large, args.rows)
        for db in args.db.split(","):
            results.append(measure("whole-file", db, small, workdir, args.baseline_rev))
            results.append(measure("streaming", db, small, workdir, args.baseline_rev))
            results.append(measure("streaming", db, large, workdir, args.baseline_rev))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = render(results, args, load)
    print(text)
    if args.write:
        update_section(args.write, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
