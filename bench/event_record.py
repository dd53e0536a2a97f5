"""Event record benchmark: the telephony writer's work per call, without SIP or RTP.

Replays the events of real calls through `TelephonyStore._write_batch` (what the writer thread runs for each
group commit: the INSERT, the CDR projection before commit, the commit, publishing) on a fresh, migrated
database. The call templates are the events of an echo call (sipp -> 1001, 7 events) and of an agent call
to a carrier with a 503 failover (16 events), copied from the event table after a real call of each
(`tests/interop/test_cdr_rebuild.py`'s scenarios). Calls start at `--cps`, each lasts `--call-seconds`, and
the events of all calls are merged in time order and cut into batches of `--batch` events, so a batch
holds events of many calls at different stages, as under load.

Reports events/s (wall clock) and CPU seconds of this process per 1000 calls, overall and for each quarter
of the run (a per-call cost that grows with the table or with anything accumulating shows up as rising
quarters). On PostgreSQL the server's own CPU is not included.

    .venv/bin/python bench/event_record.py --db sqlite --calls 4000
    .venv/bin/python bench/event_record.py --db postgres --calls 4000
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/event_record.py ...   # another checkout's code
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

import duplex
from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.db.models import Call, CallLeg, Event
from duplex.events.record import EventRecord
from duplex.reports import LiveProjection
from duplex.stores.call_store import TelephonyStore

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
Template = list[tuple[float, str, str | None, dict[str, Any]]]  # (seconds after start, type, leg, fields)

_QUALITY = {"codec": "PCMA", "packets_expected": 480, "packets_received": 480, "packets_lost": 0,
            "loss_ratio": 0.0, "jitter_ms": 0.25, "late": 0, "packets_sent": 480, "remote_reports": 0,
            "remote_fraction_lost": None, "remote_packets_lost": None, "remote_loss_ratio": None,
            "remote_jitter_ms": None, "rtt_ms": None, "mos_received": 4.4, "mos_sent": None, "mos": 4.4}  # fmt: skip
END = -1.0  # placeholder offset: the end of the call


def echo_call() -> Template:
    """An inbound call to the echo number (one caller leg)."""
    return [
        (0.0, "call.created", None, {"data": {"direction": "inbound", "from": "sipp", "to": "1001",
                                              "tracking_source": None, "phone_number_id": 2, "trunk_id": 1}}),
        (0.013, "leg.created", "a", {"data": {"kind": "caller", "remote_uri": "<sip:sipp@127.0.0.1>;tag=1",
                                              "direction": "inbound", "trunk_id": None, "sip_call_id": "x"}}),
        (0.013, "leg.answered", "a", {"data": {"codec": "PCMU"}}),
        (0.013, "call.answered", "a", {"data": {}}),
        (END, "call.quality", "a", {"data": _QUALITY}),
        (END, "leg.ended", "a", {"data": {"reason": "remote_bye", "hangup_by": "remote", "sip_status": None}}),
        (END, "call.ended", "a", {"data": {"reason": "caller_hangup", "hangup_by": "remote",
                                           "leg_kind": "caller", "sip_status": None, "answered": True}}),
    ]  # fmt: skip


def bridged_call() -> Template:
    """Agent alice calls out through a carrier: the first trunk answers 503, the backup answers."""
    agent = {"agent_id": 1}
    return [
        (0.0, "call.created", None, {"data": {"direction": "internal", "from": "alice", "to": "+442071234567",
                                              "tracking_source": None, "phone_number_id": None}}),
        (0.009, "leg.created", "a", agent | {"data": {"kind": "agent", "remote_uri": "<sip:alice@127.0.0.1>",
                                                      "direction": "inbound", "trunk_id": None,
                                                      "sip_call_id": "1-5734@127.0.0.1"}}),
        (0.009, "leg.created", "t1", agent | {"data": {"kind": "trunk", "remote_uri": "sip:+4420@127.0.0.1",
                                                       "direction": "outbound", "trunk_id": 1,
                                                       "sip_call_id": "t1@127.0.0.1"}}),
        (0.009, "leg.ended", "t1", agent | {"data": {"reason": "failed", "hangup_by": "remote",
                                                     "sip_status": 503}}),
        (0.009, "leg.created", "t2", agent | {"data": {"kind": "trunk", "remote_uri": "sip:+4420@127.0.0.1",
                                                       "direction": "outbound", "trunk_id": 2,
                                                       "sip_call_id": "t2@127.0.0.1"}}),
        (0.023, "call.ringing", "t2", agent | {"data": {"status": 180}}),
        (0.023, "leg.answered", "t2", agent | {"data": {"codec": "PCMA"}}),
        (0.023, "call.ringing", "a", agent | {"data": {"status": 180}}),
        (0.023, "leg.answered", "a", agent | {"data": {"codec": "PCMA"}}),
        (0.023, "call.answered", "a", agent | {"data": {}}),
        (0.023, "call.bridged", "a", agent | {"data": {"legs": ["a", "t2"]}}),
        (END, "call.quality", "a", agent | {"data": _QUALITY}),
        (END, "leg.ended", "a", agent | {"data": {"reason": "remote_bye", "hangup_by": "remote",
                                                  "sip_status": None}}),
        (END, "call.ended", "t1", {"data": {"reason": "failed", "hangup_by": "remote", "leg_kind": "trunk",
                                            "sip_status": 503, "answered": True}}),
        (END, "call.quality", "t2", agent | {"data": _QUALITY}),
        (END, "leg.ended", "t2", agent | {"data": {"reason": "peer_hangup", "hangup_by": "duplex",
                                                  "sip_status": None}}),
    ]  # fmt: skip


def event_stream(calls: int, cps: float, seconds: float, mode: str) -> list[tuple[str, dict[str, Any]]]:
    """Every call's events, merged in time order (ties keep each call's own order)."""
    timed: list[tuple[float, int, int, str, dict[str, Any]]] = []
    for n in range(calls):
        template = bridged_call() if mode == "bridged" or (mode == "mix" and n % 2) else echo_call()
        start, call_id = n / cps, str(uuid.UUID(int=n + 1))
        for i, (offset, type, leg, fields) in enumerate(template):
            at = start + (seconds if offset == END else offset)
            leg_id = None if leg is None else str(uuid.uuid5(uuid.NAMESPACE_OID, f"{call_id}/{leg}"))
            timed.append((at, n, i, type, {**fields, "call_id": call_id, "leg_id": leg_id}))
    timed.sort(key=lambda t: t[:3])
    return [(type, fields) for _, _, _, type, fields in timed]


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    name = f"duplex_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, stream: list[tuple[str, dict[str, Any]]], batch: int, calls: int) -> dict[str, Any]:
    db = make_engine(url)
    sessions = make_session_factory(db)
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="bench", projectors=[LiveProjection()]))
    batches = [stream[i : i + batch] for i in range(0, len(stream), batch)]
    quarters = [0.0, 0.0, 0.0, 0.0]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for n, events in enumerate(batches):
        c = time.process_time()
        store._write_batch(events)  # what the writer thread runs for one group commit
        quarters[n * 4 // len(batches)] += time.process_time() - c
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    with sessions() as session:
        counts = [session.scalar(select(func.count()).select_from(m)) for m in (Event, Call, CallLeg)]
    store.close()
    db.dispose()
    if store.errors or counts[0] != len(stream) or counts[1] != calls:
        raise SystemExit(f"not everything was recorded: {counts}, {store.errors} errors")
    per = 1000 / calls
    return {"events/s": len(stream) / wall, "cpu s / 1000 calls": cpu * per, "wall s": wall,
            "quarters": [q * per * 4 for q in quarters], "rows": counts}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mode", choices=["echo", "bridged", "mix"], default="mix")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--cps", type=float, default=30.0)
    parser.add_argument("--call-seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=20, help="events per group commit")
    args = parser.parse_args()
    stream = event_stream(args.calls, args.cps, args.call_seconds, args.mode)
    with database(args.db) as url:
        result = run(url, stream, args.batch, args.calls)
    quarters = " / ".join(f"{q:.2f}" for q in result["quarters"])
    print(f"code: {Path(duplex.__file__).parent}")
    print(f"{args.db} {args.mode}: {args.calls} calls, {len(stream)} events, batches of {args.batch}: "
          f"{result['events/s']:.0f} events/s, {result['cpu s / 1000 calls']:.2f} CPU s per 1000 calls "
          f"(quarters {quarters}), wall {result['wall s']:.1f} s, rows {result['rows']}")  # fmt: skip


if __name__ == "__main__":
    main()
