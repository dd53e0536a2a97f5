"""What the agent desktop's screen pop costs over a large call record.

Fills a fresh database with `--calls` calls (`--events` IVR events each), half inbound to four numbers, half
outbound to customers; one caller has `--history` inbound calls, the rest are random numbers, then times GET /api/v1/calls/{id}/screen-pop of that caller's newest call
through the real app (best of `--repeat`: p50 and p90 of the requests), first with the indexes on
calls.from_number and calls.to_number, then without them (the baseline: the history lookup scans calls).

    .venv/bin/python bench/screen_pop.py --db sqlite postgres --calls 200000 --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).parent))
from _markdown import update_section  # noqa: E402
from event_record import database  # noqa: E402

from duplex.api.app import create_app  # noqa: E402
from duplex.auth.deps import secret_key  # noqa: E402
from duplex.auth.tokens import issue_token  # noqa: E402
from duplex.config import Settings  # noqa: E402
from duplex.db.base import make_engine  # noqa: E402
from duplex.db.models import Call, Event, Queue, Role, User  # noqa: E402

CALLER = "+40721000001"
DIDS = ["+40215550100", "+40215550101", "+40215550102", "1000"]
T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
HEADING = "## Screen pop over a large call record (bench/screen_pop.py)"


def fill(url: str, calls: int, events: int, history: int, seed: int) -> str:
    """The calls and their events; returns the id of the caller's newest call."""
    rng = random.Random(seed)
    app = create_app(Settings(database_url=url, sip_enabled=False, secret_key="bench", http_port=0))
    mine = set(rng.sample(range(calls), history))
    target = ""
    call_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    seq = 0
    with app.state.engine.begin() as conn:
        conn.execute(insert(User), [{"username": "admin", "password_hash": "x", "role": Role.ADMIN}])
        conn.execute(insert(Queue), [{"name": "support"}])
        for n in range(calls):
            call_id = f"bench-{n:08d}"
            other = f"+4072{rng.randrange(10**7):07d}"
            outbound = n not in mine and n % 2 == 1  # half the traffic is the dialer's, to customers
            caller, called = (
                ("duplex", other) if outbound else (CALLER if n in mine else other, rng.choice(DIDS))
            )
            target = call_id if n in mine else target
            call_rows.append({"id": call_id, "direction": "outbound" if outbound else "inbound", "state": "ended",
                              "from_number": caller, "to_number": called, "started_at": T0 + dt.timedelta(seconds=n),
                              "queue_id": 1, "transfers": 0, "disposition_notes": "", "data": {}})  # fmt: skip
            for k in range(events):
                seq += 1
                event_rows.append({"node_id": "bench", "seq": seq, "type": "ivr.node_entered", "ts_ms": seq,
                                   "call_id": call_id, "data": {"flow_id": 1, "node": f"n{k}", "node_type": "menu"}})  # fmt: skip
            if len(event_rows) >= 50_000 or n == calls - 1:
                conn.execute(insert(Call), call_rows)
                if event_rows:
                    conn.execute(insert(Event), event_rows)
                call_rows, event_rows = [], []
    app.state.engine.dispose()
    return target


def time_pops(url: str, call_id: str, repeat: int) -> dict[str, float]:
    from starlette.testclient import TestClient  # here: its import warns about httpx

    app = create_app(Settings(database_url=url, sip_enabled=False, secret_key="bench", http_port=0))
    with app.state.sessions() as s, s.begin():
        token, _ = issue_token(s, secret_key=secret_key(app.state), user_id=1, now=dt.datetime.now(dt.UTC),
                               ttl_seconds=3600)  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    with TestClient(app) as client:
        for _ in range(repeat):
            started = time.perf_counter()
            answer = client.get(f"/api/v1/calls/{call_id}/screen-pop", headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
    history = len(answer.json()["history"])
    app.state.engine.dispose()
    times.sort()
    return {"p50": statistics.median(times), "p90": times[int(len(times) * 0.9) - 1], "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], nargs="+", default=["sqlite"])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=5, help="events per call")
    parser.add_argument("--history", type=int, default=20, help="calls of the popped caller")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", type=Path, default=None, help="docs/benchmarks.md to update")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows: list[tuple[str, str, dict[str, float]]] = []
    for kind in args.db:
        with database(kind) as url:
            target = fill(url, args.calls, args.events, args.history, args.seed)
            engine = make_engine(url)
            with engine.begin() as conn:  # table statistics, as autovacuum would have gathered by now
                conn.execute(text("ANALYZE"))
            engine.dispose()
            rows.append(
                (kind, "indexes on calls.from_number, to_number", time_pops(url, target, args.repeat))
            )
            engine = make_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_calls_from_number"))
                conn.execute(text("DROP INDEX ix_calls_to_number"))
            engine.dispose()
            rows.append((kind, "baseline: no index (scan of calls)", time_pops(url, target, args.repeat)))
    for kind, name, r in rows:
        print(f"{kind} {name}: p50 {r['p50']:.1f} ms  p90 {r['p90']:.1f} ms  (history {r['history']:.0f})")
    if args.write is not None:
        lines = [
            HEADING, "",
            f"GET /api/v1/calls/{{id}}/screen-pop of the newest of a caller's {args.history} calls, among "
            f"{args.calls:,} calls (half inbound to four numbers, half outbound to customers) and "
            f"{args.calls * args.events:,} events, after ANALYZE, through the app (one process, {args.repeat} "
            f"requests; `{' '.join(['.venv/bin/python', 'bench/screen_pop.py', *sys.argv[1:]])}`). The baseline "
            "is the same database without the two indexes. A 2-core machine shared with other work: compare the "
            "rows of one run, not runs.",
            "", "| database | calls lookup | p50 | p90 |", "|---|---|---|---|",
            *(f"| {kind} | {name} | {r['p50']:.1f} ms | {r['p90']:.1f} ms |" for kind, name, r in rows), "",
        ]  # fmt: skip
        update_section(args.write, HEADING, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
