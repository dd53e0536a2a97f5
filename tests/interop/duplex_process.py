"""`duplex serve` as a real subprocess (SIP and HTTP on free ports, a demo-seeded database), for tests of what
an operator does to the process: SIGTERM, SIGINT, kill -9, restart. And sipp callers that log what they saw."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from duplex.config import Settings
from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Call, CallLeg
from duplex.demo import seed
from interop.peers import free_even_port, free_port, sipp_command

DUPLEX = str(Path(sys.executable).parent / "duplex")


class DuplexProcess:
    """One node (``node_id``) on ``db_url``; `start` may be called again after the process ended."""

    def __init__(self, tmp: Path, db_url: str, *, node_id: str = "lifecycle") -> None:
        self.tmp, self.db_url, self.node_id = tmp, db_url, node_id
        self.data_dir = tmp / "data"
        self.sip_port = free_port()
        self.http_port = free_port(socket.SOCK_STREAM)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        seed(Settings(data_dir=self.data_dir, database_url=db_url, secret_key="lifecycle-test"))

    def start(self) -> None:
        for _ in range(3):  # a port picked free may be taken by another process before the server binds it
            if self._start():
                return
            self.sip_port, self.http_port = free_port(), free_port(socket.SOCK_STREAM)
            self.base = f"http://127.0.0.1:{self.http_port}"
        raise AssertionError(f"duplex serve could not bind its ports: {self.log()[-3000:]}")

    def _start(self) -> bool:
        args = ["serve", "--host", "127.0.0.1", "--http-port", str(self.http_port), "--sip-host", "127.0.0.1",
                "--sip-port", str(self.sip_port), "--public-ip", "127.0.0.1", "--data-dir", str(self.data_dir),
                "--database-url", self.db_url, "--node-id", self.node_id, "--log-level", "INFO"]  # fmt: skip
        # RTP above the kernel's ephemeral range, where free_port() picks the peers' ports
        env = {**os.environ, "DUPLEX_SECRET_KEY": "lifecycle-test", "DUPLEX_RTP_PORT_MIN": "61000",
               "DUPLEX_RTP_PORT_MAX": "65000"}  # fmt: skip
        env.pop("DUPLEX_NATS_URL", None)
        self.runs += 1
        log = open(self.tmp / f"duplex-{self.runs}.log", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([DUPLEX, *args], cwd=self.tmp, env=env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 60  # about 3 s on an idle machine; far more while the suite runs
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                assert "address already in use" in self.log(), f"duplex serve exited: {self.log()[-3000:]}"
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/api/v1/health", timeout=1).status_code == 200:
                    return True
            time.sleep(0.1)
        raise AssertionError(f"duplex serve did not come up: {self.log()[-3000:]}")

    def log(self) -> str:
        return (self.tmp / f"duplex-{self.runs}.log").read_text(errors="replace")

    def signal(self, sig: signal.Signals, timeout: float = 30) -> int:
        """Send ``sig`` and return the exit status (negative: killed by a signal)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def metrics(self) -> str:
        return httpx.get(self.base + "/metrics", timeout=5).text


@contextlib.contextmanager
def duplex_process(tmp: Path, db_url: str) -> Iterator[DuplexProcess]:
    node = DuplexProcess(tmp, db_url)
    try:
        yield node
    finally:
        node.stop()


@dataclass
class LoggedCalls:
    """What a `uac_logged.xml` caller saw, by SIP Call-ID."""

    answered: set[str]
    ended: set[str]


@contextlib.contextmanager
def logged_callers(tmp: Path, node: DuplexProcess, *, service: str, calls: int, rate: float,
                   talk_ms: int) -> Iterator[subprocess.Popen[str]]:  # fmt: skip
    """sipp placing ``calls`` calls at ``rate`` per second for the whole block (killed at its end if still
    running); read what it saw with `read_logged_calls`."""
    cmd = sipp_command("uac_logged.xml", f"127.0.0.1:{node.sip_port}", local_port=free_port(),
                       media_port=free_even_port(), service=service, calls=calls, rate=rate,
                       duration_ms=talk_ms, extra=["-trace_logs", "-log_file", str(tmp / "calls.log")])  # fmt: skip
    out = open(tmp / "sipp-logged.out", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        out.close()


def read_logged_calls(tmp: Path) -> LoggedCalls:
    text = (tmp / "calls.log").read_text() if (tmp / "calls.log").exists() else ""
    seen = re.findall(r"^(answered|ended) (\S+)$", text, re.MULTILINE)
    return LoggedCalls(
        {c for kind, c in seen if kind == "answered"}, {c for kind, c in seen if kind == "ended"}
    )


@dataclass
class CallRecord:
    sip_call_id: str
    call_id: str
    state: str
    answered: bool
    end_reason: str | None
    ended: bool


def call_records(db_url: str) -> tuple[dict[str, CallRecord], list[Call], list[CallLeg]]:
    """The CDRs by the caller leg's SIP Call-ID, and the calls and legs still open."""
    db = make_engine(db_url)
    try:
        with Session(db) as session:
            rows = session.execute(select(CallLeg.sip_call_id, Call).join(Call, Call.id == CallLeg.call_id))
            records = {
                sip: CallRecord(
                    sip,
                    call.id,
                    call.state,
                    call.answered_at is not None,
                    call.end_reason,
                    call.ended_at is not None,
                )  # fmt: skip
                for sip, call in rows
            }
            open_calls = list(session.scalars(select(Call).where(Call.ended_at.is_(None))))
            open_legs = list(session.scalars(select(CallLeg).where(CallLeg.ended_at.is_(None))))
    finally:
        db.dispose()
    return records, open_calls, open_legs


def count_open_calls(db_url: str) -> int:
    db = make_engine(db_url)
    try:
        with make_session_factory(db)() as session:
            return len(list(session.scalars(select(Call.id).where(Call.ended_at.is_(None)))))
    finally:
        db.dispose()
