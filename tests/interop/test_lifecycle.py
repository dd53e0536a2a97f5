"""What an operator does to a running node, with real callers (sipp) on a real `duplex serve` process:

- SIGTERM (systemd, `docker stop`, Kubernetes) or SIGINT: live calls get a BYE, their CDRs close with
  `shutdown`, and the process exits 0;
- kill -9 under load, then a restart: every call the caller saw answered is recorded, every call it saw
  ended has its real end recorded, and no call stays open (those that were up close with `node_restart`);
- the same with the database write-locked for seconds before the kill: no answer goes out unrecorded (new
  calls are refused with 503 while the record cannot commit).
"""

from __future__ import annotations

import contextlib
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from duplex.db.base import make_engine
from interop.duplex_process import (
    DuplexProcess,
    LoggedCalls,
    call_records,
    duplex_process,
    logged_callers,
    read_logged_calls,
)
from interop.peers import free_even_port, free_port, read_sipp_stats, sipp_command

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.serial]

ECHO = "1001"  # the demo center's echo test number


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def answered_open_calls(db_url: str) -> int:
    _, open_calls, _ = call_records(db_url)
    return sum(1 for c in open_calls if c.state == "answered")


def calls_ended_and_up(db_url: str, ended: int, up: int) -> bool:
    """At least ``ended`` calls over and ``up`` answered calls in progress, as recorded: the moment to strike
    (waited for rather than slept, so a slow machine still has live calls when the test acts)."""
    records, open_calls, _ = call_records(db_url)
    done = sum(1 for r in records.values() if r.ended)
    return done >= ended and sum(1 for c in open_calls if c.state == "answered") >= up


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_hangs_up_live_calls_and_exits_0(
    db_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    calls = 5
    with duplex_process(tmp_path, db_url) as node:
        node.start()
        stat_file = tmp_path / "sipp-wait-bye.csv"
        cmd = sipp_command("uac_wait_bye.xml", f"127.0.0.1:{node.sip_port}", local_port=free_port(),
                           media_port=free_even_port(), service=ECHO, calls=calls, rate=10,
                           stat_file=stat_file)  # fmt: skip
        sipp = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: answered_open_calls(db_url) == calls, 15, f"{calls} answered calls")
            status = node.signal(sig)
            assert status == 0, node.log()[-3000:]
            sipp.wait(20)  # every caller got its BYE and answered it
        finally:
            if sipp.poll() is None:
                sipp.kill()
                sipp.wait()
        log = node.log()
    stats = read_sipp_stats(stat_file)
    assert int(stats.get("SuccessfulCall(C)", "0")) == calls, stats
    records, open_calls, open_legs = call_records(db_url)
    assert len(records) == calls
    assert {r.end_reason for r in records.values()} == {"shutdown"}
    assert open_calls == [] and open_legs == []
    assert "Traceback" not in log


@contextlib.contextmanager
def write_lock(db_url: str) -> Iterator[None]:
    """Hold the database's write lock (SQLite) or an exclusive lock on the event table (PostgreSQL: reads go
    on, writes of events wait) for the block."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    db = make_engine(db_url)
    try:
        with db.connect() as pg:
            pg.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                pg.rollback()
    finally:
        db.dispose()


def check_after_restart(db_url: str, seen: LoggedCalls, node: DuplexProcess) -> None:
    """Restart the node, then: what the callers saw is recorded, nothing is open, the gauge reads 0."""
    node.start()
    metrics = node.metrics()
    node.stop()  # the graceful stop has its own test
    records, open_calls, open_legs = call_records(db_url)
    unrecorded = sorted(seen.answered - records.keys())
    assert unrecorded == [], f"{len(unrecorded)} of {len(seen.answered)} answered calls have no CDR"
    assert all(records[c].answered for c in seen.answered)
    ends = {c: records[c].end_reason for c in seen.ended}
    assert {c: r for c, r in ends.items() if r != "caller_hangup"} == {}  # the end the caller saw is recorded
    assert open_calls == [] and open_legs == []
    in_progress = re.findall(r"^duplex_calls_in_progress\{[^}]*\} (\S+)$", metrics, re.MULTILINE)
    assert all(float(value) == 0 for value in in_progress), in_progress


def test_kill_9_under_load_loses_no_call_and_leaves_none_open(db_url: str, tmp_path: Path) -> None:
    with duplex_process(tmp_path, db_url) as node:
        node.start()
        with logged_callers(tmp_path, node, service=ECHO, calls=200, rate=12, talk_ms=2000):
            wait_for(lambda: calls_ended_and_up(db_url, 12, 8), 40, "12 calls over and 8 up")
            node.stop()  # SIGKILL
            time.sleep(0.5)
        seen = read_logged_calls(tmp_path)
        assert len(seen.ended) >= 10 and len(seen.answered - seen.ended) >= 5, seen  # the kill hit live calls
        check_after_restart(db_url, seen, node)
    records, _, _ = call_records(db_url)
    restarted = {c for c, r in records.items() if r.end_reason == "node_restart"}
    assert seen.answered - seen.ended <= restarted | {
        c for c, r in records.items() if r.end_reason == "caller_hangup"
    }
    assert len(restarted) >= 5


def test_kill_9_while_the_database_is_write_locked_answers_nothing_unrecorded(
    db_url: str, tmp_path: Path
) -> None:
    with duplex_process(tmp_path, db_url) as node:
        node.start()
        with logged_callers(tmp_path, node, service=ECHO, calls=200, rate=12, talk_ms=1500) as sipp:
            wait_for(lambda: calls_ended_and_up(db_url, 12, 5), 40, "12 calls over and 5 up")
            with write_lock(db_url):
                time.sleep(4)  # calls keep arriving and ending while nothing can commit
                node.stop()  # SIGKILL, the lock still held
            time.sleep(0.5)
            sipp.kill()
        seen = read_logged_calls(tmp_path)
        assert len(seen.ended) >= 10, seen
        check_after_restart(db_url, seen, node)
