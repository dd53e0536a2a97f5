"""What the wallboard and a day's queue report cost over a day of recorded events.

Fills a fresh database with `--days` days of synthetic inbound traffic (`--events` events per day: calls
that queue, are answered or abandon, with hold, transfers, quality and agent state changes), then times
(best of `--repeat`):

- wallboard, first poll: `load_wallboard_events` + `snapshot`;
- wallboard, next polls: `WallboardFeed.refresh` (only the newest rows) + `snapshot`, as the API does;
- day report: `load_report_events` + `queue_kpis` for the last day;
- baseline: the same day report from every row of the events table (no index: what a report costs if it
  reads the record without the type/time and call-id indexes).

    .venv/bin/python bench/kpis.py --db sqlite --events 100000 --days 2
    .venv/bin/python bench/kpis.py --db postgres --events 100000 --days 2
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).parent))
from event_record import database  # noqa: E402

from duplex.db.base import make_engine, make_session_factory  # noqa: E402
from duplex.db.models import Event  # noqa: E402
from duplex.events.types import EventEnvelope  # noqa: E402
from duplex.reports.kpi_store import kpi_inputs, load_report_events, load_wallboard_events  # noqa: E402
from duplex.reports.kpis import queue_kpis  # noqa: E402
from duplex.reports.wallboard import snapshot  # noqa: E402
from duplex.reports.wallboard_feed import WallboardFeed  # noqa: E402

DAY_MS = 86_400_000
T0 = 1_772_409_600_000  # 2026-03-02 00:00 UTC


def one_call(rng: random.Random, n: int, start: int) -> list[dict[str, Any]]:
    call, queue, agent = f"c{n}", rng.randint(1, 8), rng.randint(1, 60)
    wait = int(rng.expovariate(1 / 25_000))
    rows = [
        ("call.created", start, {"direction": "inbound", "from": f"+40{rng.randint(0, 10**8)}", "to": "1000",
                                 "tracking_source": rng.choice(["google", "radio", None]), "phone_number_id": None}),
        ("call.answered", start + 100, {}),
        ("queue.entered", start + 200, {"priority": 0}),
    ]  # fmt: skip
    at = start + 200 + wait
    if rng.random() < 0.12:
        rows += [("queue.left", at, {"reason": "abandoned", "waited_ms": wait}), ("call.ended", at, _end())]
        return [_row(call, t, ts, d, queue, None) for t, ts, d in rows]
    talk = int(rng.expovariate(1 / 180_000))
    rows += [
        ("agent.offered", at - 50, {}), ("agent.accepted", at, {"ring_ms": 50}),
        ("queue.left", at, {"reason": "answered", "waited_ms": wait}),
        ("call.bridged", at, {"legs": ["a", "b"]}),
        ("call.held", at + talk // 3, {"by": "duplex"}), ("call.resumed", at + talk // 2, {"by": "duplex"}),
        ("call.quality", at + talk, {"mos": round(rng.uniform(3.0, 4.4), 2)}),
        ("call.ended", at + talk, _end()),
        ("agent.state_changed", at, {"from": "available", "to": "on_call", "reason": None, "by_user_id": None}),
        ("agent.state_changed", at + talk, {"from": "on_call", "to": "wrap_up", "reason": None, "by_user_id": None}),
    ]  # fmt: skip
    return [_row(call, t, ts, d, queue, agent) for t, ts, d in rows]


def _end() -> dict[str, Any]:
    return {"reason": "caller_hangup", "answered": True, "hangup_by": "remote", "leg_kind": "caller",
            "sip_status": None}  # fmt: skip


def _row(
    call: str, type_: str, ts: int, data: dict[str, Any], queue: int, agent: int | None
) -> dict[str, Any]:
    on_agent = type_.startswith("agent.") or type_ == "call.bridged"
    return {"node_id": "bench", "type": type_, "ts_ms": ts, "call_id": None if type_ == "agent.state_changed"
            else call, "queue_id": queue if type_.startswith(("queue.", "agent.o", "agent.a")) else None,
            "agent_id": agent if on_agent else None, "data": data}  # fmt: skip


def fill(url: str, events_per_day: int, days: int, seed: int) -> int:
    rng = random.Random(seed)
    sessions = make_session_factory(make_engine(url))
    n = seq = 0
    for day in range(days):
        rows: list[dict[str, Any]] = []
        while len(rows) < events_per_day:
            rows += one_call(rng, n, T0 + day * DAY_MS + rng.randint(0, DAY_MS - 600_000))
            n += 1
        for r in rows:
            seq += 1
            r["seq"] = seq
        with sessions() as s, s.begin():
            for i in range(0, len(rows), 5000):
                s.execute(insert(Event), rows[i : i + 5000])
    return seq


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=100_000, help="events per day")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with database(args.db) as url:
        total = fill(url, args.events, args.days, args.seed)
        sessions = make_session_factory(make_engine(url))
        last = T0 + (args.days - 1) * DAY_MS
        now = last + DAY_MS - 1000
        with sessions() as s:
            inputs = kpi_inputs(s)

            def board() -> Any:
                return snapshot(load_wallboard_events(s, now), now, inputs, queue_members={})

            def report() -> Any:
                return queue_kpis(load_report_events(s, last, last + DAY_MS), last, last + DAY_MS, inputs)

            def baseline() -> Any:
                cols = [c for c in Event.__table__.c]
                rows = s.execute(select(*cols)).all()
                evs = [EventEnvelope(**{**r._mapping, "data": dict(r.data or {})}) for r in rows]
                return queue_kpis(evs, last, last + DAY_MS, inputs)

            feed = WallboardFeed(min_interval_ms=0)
            feed.refresh(s, now)

            def warm() -> Any:  # a poll: only the newest rows are read, the snapshot recomputed
                kept, facts = feed.refresh(s, now)
                return snapshot(kept, now, inputs, queue_members={}, facts=facts)

            t_board, b = best(board, args.repeat)
            t_warm, w = best(warm, args.repeat)
            assert w == b, "the polled wallboard differs from one read cold"
            t_report, rep = best(report, args.repeat)
            t_base, base = best(baseline, args.repeat)
    for a, z in zip(rep, base, strict=True):
        diff = {k: (v, z.to_dict()[k]) for k, v in a.to_dict().items() if v != z.to_dict()[k]}
        assert not diff, f"indexed and full reads disagree on queue {a.queue_id}: {diff}"
    print(f"{args.db}: {total} events over {args.days} days, {args.events}/day; best of {args.repeat}")
    print(f"| wallboard, first poll | {t_board * 1000:.0f} ms | queues {len(b.queues)} |")
    print(f"| wallboard, next polls | {t_warm * 1000:.0f} ms | {t_warm / t_board:.2f} of the first |")
    print(f"| day report (indexed) | {t_report * 1000:.0f} ms | {t_report / t_base:.2f} of baseline |")
    print(f"| baseline (every row) | {t_base * 1000:.0f} ms | 1.00 |")


if __name__ == "__main__":
    main()
