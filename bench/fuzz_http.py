"""HTTP fuzz benchmark: many hostile requests against a real `duplex serve` (no SIP) on a fresh demo center.

Requests come from the generator of the test suite (tests/api/openapi_fuzz.py): schemathesis writes a pool
of requests over every operation of the server's own /openapi.json, valid and invalid by the schema; each
request sent is a pool entry with one value (picked by a seeded random.Random) made hostile - NaN,
Infinity, 1e999, integers past 64 bits, NUL, a lone surrogate - in a body field, a query or a path
parameter, or none; half are sent as admin, half with only what the generator put (unauthenticated).

Reports the status histogram, every 5xx with its request, transport errors, the server's RSS before and
after (and after a pause), and whether the server still answers /health and an authenticated request.

    .venv/bin/python bench/fuzz_http.py --db sqlite --requests 20000
    .venv/bin/python bench/fuzz_http.py --db postgres --requests 20000
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/fuzz_http.py ...   # another checkout's server, as a baseline

Prints a markdown section; docs/benchmarks.md has the runs side by side with a baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "api"))  # the request generator the test suite uses
from openapi_fuzz import HttpRequest, Template, hostile, templates  # noqa: E402

PG_ADMIN_URL = os.environ.get("DUPLEX_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HEADING = "## HTTP API under hostile requests"  # + ", <db> (bench/fuzz_http.py)"


@dataclass
class Results:
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[tuple[str, HttpRequest]] = field(default_factory=list)  # (answer, request)
    transport_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def database(kind: str) -> Iterator[list[str]]:
    """Extra `duplex` flags for the database: SQLite in the data dir, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield []
        return
    from sqlalchemy import create_engine, make_url, text

    name = f"duplex_fuzz_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [
            "--database-url",
            make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False),
        ]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def server(tmp: Path, db_flags: list[str]) -> Iterator[tuple[str, subprocess.Popen[bytes], dict[str, Any]]]:
    """`duplex serve --no-sip` on a migrated demo center; yields its base URL, process and credentials."""
    duplex = str(ROOT / ".venv" / "bin" / "duplex")
    data = ["--data-dir", str(tmp / "data")]
    subprocess.run([duplex, "db", "upgrade", *data, *db_flags], check=True, capture_output=True)
    subprocess.run([duplex, "demo", "seed", *data, *db_flags], check=True, capture_output=True)
    creds = json.loads((tmp / "data" / "demo-credentials.json").read_text())
    port = free_port()
    log = open(tmp / "duplex.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [duplex, "serve", *data, *db_flags, "--no-sip", "--host", "127.0.0.1", "--http-port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, DUPLEX_LOG_LEVEL="WARNING"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, proc, creds
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def send(client: httpx.AsyncClient, request: HttpRequest, token: str | None, results: Results) -> None:
    headers = {**request.headers, **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        response = await client.request(
            request.method, request.path, params=request.params, headers=headers, content=request.content
        )
    except httpx.HTTPError as exc:
        results.transport_errors[type(exc).__name__] += 1
        return
    results.statuses[response.status_code] += 1
    if response.status_code >= 500:
        results.server_errors.append((f"{response.status_code} {response.text[:200]}", request))


async def run(url: str, pool: list[Template], token: str, args: argparse.Namespace) -> Results:
    rng = random.Random(args.seed)
    planned = [(hostile(rng.choice(pool), rng.choice), rng.random() < 0.5) for _ in range(args.requests)]
    results = Results()
    queue: asyncio.Queue[tuple[HttpRequest, bool]] = asyncio.Queue()
    for item in planned:
        queue.put_nowait(item)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                request, as_admin = queue.get_nowait()
                await send(client, request, token if as_admin else None, results)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    results.seconds = time.perf_counter() - started
    return results


def still_serving(url: str, token: str) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return {
            "/api/v1/health": client.get("/api/v1/health").status_code,
            "/openapi.json": client.get("/openapi.json").status_code,
            "/api/v1/auth/me (admin)": client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
            ).status_code,
        }


def heading(db: str) -> str:
    return f"{HEADING}, {'SQLite' if db == 'sqlite' else 'PostgreSQL'} (bench/fuzz_http.py)"


def markdown(args: argparse.Namespace, res: Results, pool: int, rss: tuple[float, float, float]) -> str:
    total = sum(res.statuses.values())
    hist = ", ".join(f"{code}: {n}" for code, n in sorted(res.statuses.items()))
    errors = "\n".join(f"  - `{a} <- {r.describe()[:300]}`" for a, r in res.server_errors[:10]) or "  - none"
    return (
        f"{heading(args.db)}\n\n"
        f"Run {dt.date.today().isoformat()} on {args.db}: `.venv/bin/python bench/fuzz_http.py --db {args.db} "
        f"--requests {args.requests} --pool {args.pool} --seed {args.seed} --concurrency {args.concurrency}`.\n"
        f"{pool} schemathesis requests over every operation of /openapi.json, each sent request one of them "
        f"with at most one hostile value (NaN, Infinity, 1e999, 2^63, NUL, lone surrogate); half as admin, "
        f"half unauthenticated; `duplex serve --no-sip` on a fresh demo center.\n\n"
        f"| requests | seconds | req/s | 5xx | transport errors | RSS before / after / after 5 s (MB) |\n"
        f"|---|---|---|---|---|---|\n"
        f"| {total} | {res.seconds:.0f} | {total / res.seconds:.0f} | {len(res.server_errors)} "
        f"| {sum(res.transport_errors.values())} | {rss[0]:.0f} / {rss[1]:.0f} / {rss[2]:.0f} "
        f"(ratio after/before {rss[2] / rss[0]:.2f}) |\n\n"
        f"Status histogram: {hist}.\n\n5xx:\n{errors}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--pool", type=int, default=1000, help="schemathesis requests to draw from")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(args.db) as flags,
        server(Path(tmp), flags) as (url, proc, creds),
    ):
        admin = creds["admin"]
        login = httpx.post(
            url + "/api/v1/auth/token", json={"username": admin["username"], "password": admin["password"]}
        )
        token = login.json()["access_token"]
        openapi = httpx.get(url + "/openapi.json").json()
        t0 = time.perf_counter()
        pool = templates(openapi, args.pool, random_seed=args.seed)
        print(f"pool: {len(pool)} requests in {time.perf_counter() - t0:.0f} s", flush=True)
        before = rss_mb(proc.pid)
        results = asyncio.run(run(url, pool, token, args))
        after = rss_mb(proc.pid)
        time.sleep(5)
        settled = rss_mb(proc.pid)
        alive = proc.poll() is None
        checks = still_serving(url, token) if alive else {}
    section = markdown(args, results, len(pool), (before, after, settled))
    print(section)
    print(f"server alive: {alive}; checks: {checks}; transport errors: {dict(results.transport_errors)}")
    if results.server_errors:  # every 5xx request in full, to replay it
        out = ROOT / "bench" / "out" / f"fuzz_http-{args.db}-5xx.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as f:
            for answer, r in results.server_errors:
                content = r.content.decode("latin-1") if r.content is not None else None
                f.write(json.dumps({"answer": answer, **asdict(r), "content": content}) + "\n")
        print(f"5xx requests in full: {out}")
    if results.server_errors or not alive or any(code >= 500 for code in checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
