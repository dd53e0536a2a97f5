"""The event record survives `kill -9`: every write the API acknowledged is in the table after a restart.

A real `duplex serve --no-sip` runs as a subprocess; each round makes acknowledged writes that emit
events (POST /api/v1/events and POST /api/v1/skills, which records `config.changed`), kills the server
with SIGKILL the moment a 2xx arrives, restarts it, and finally compares with the table.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Event

pytestmark = [pytest.mark.slow, pytest.mark.serial]
DUPLEX = [str(Path(sys.executable).parent / "duplex")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, cwd: Path) -> None:
    subprocess.run([*DUPLEX, *args], check=True, cwd=cwd, capture_output=True, timeout=60)


class Server:
    def __init__(self, data_dir: Path, db_url: str, cwd: Path) -> None:
        self.data_dir, self.db_url, self.cwd = data_dir, db_url, cwd
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["serve", "--no-sip", "--host", "127.0.0.1", "--http-port", str(self.port)]
        args += ["--data-dir", str(self.data_dir), "--database-url", self.db_url, "--log-level", "WARNING"]
        env = {**os.environ, "DUPLEX_SECRET_KEY": "durability-test-secret", "DUPLEX_NODE_ID": "dur"}
        env.pop("DUPLEX_NATS_URL", None)
        self.proc = subprocess.Popen([*DUPLEX, *args], cwd=self.cwd, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "duplex serve exited"
            try:
                if httpx.get(self.base + "/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("duplex serve did not come up")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill9()


def test_acknowledged_events_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run_cli(
        "user",
        "create",
        "--data-dir",
        str(data_dir),
        "--database-url",
        db_url,
        "--username",
        "admin",
        "--password",
        "pw-durable",
        "--role",
        "admin",
        cwd=tmp_path,
    )
    server = Server(data_dir, db_url, tmp_path)
    acknowledged: list[int] = []  # event ids returned by POST /events
    skills: list[str] = []  # skills whose creation was acknowledged
    try:
        for round_no in range(4):
            server.start()
            with httpx.Client(base_url=server.base, timeout=10) as http:
                r = http.post("/api/v1/auth/token", json={"username": "admin", "password": "pw-durable"})
                assert r.status_code == 200, r.text
                auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
                for i in range(20):
                    body = {
                        "type": "csat.recorded",
                        "call_id": f"r{round_no}-{i}",
                        "data": {"score": i % 5 + 1},
                    }
                    r = http.post("/api/v1/events", json=body, headers=auth)
                    assert r.status_code == 201, r.text
                    acknowledged.append(r.json()["id"])
                name = f"skill-{round_no}"
                r = http.post("/api/v1/skills", json={"name": name}, headers=auth)
                assert r.status_code == 201, r.text
                server.kill9()  # no time for anything after the acknowledgement
                skills.append(name)
    finally:
        server.stop()
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            rows = {row.id: row for row in s.scalars(select(Event))}
            changed = [
                r.data
                for r in rows.values()
                if r.type == "config.changed" and r.data.get("entity") == "skill"
            ]
    finally:
        engine.dispose()
    missing = [i for i in acknowledged if i not in rows]
    assert missing == []
    assert all(rows[i].type == "csat.recorded" for i in acknowledged)
    assert len(acknowledged) == 80 and len(set(acknowledged)) == 80
    assert len([c for c in changed if c.get("action") == "create"]) == len(skills) == 4
    # The per-node sequence carried on across the restarts without reuse.
    seqs = sorted(r.seq for r in rows.values() if r.node_id == "dur")
    assert seqs == sorted(set(seqs))
