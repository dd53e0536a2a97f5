"""A real rtpengine (Debian's rtpengine-daemon, userspace only: ``--table=-1``) for a test: on a free ng port and
a port range of its own below the kernel's ephemeral range (sipp and the engine's ``free_port`` picks live in
32768-60999, Duplex's local RTP in 61000-65000). The ``rtpengine`` fixture (conftest) runs one per test."""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from interop.peers import free_port

__all__ = ["Rtpengine", "rtpengine_running"]


@dataclass
class Rtpengine:
    ng: tuple[str, int]
    port_min: int
    port_max: int
    proc: subprocess.Popen[str]

    def log(self) -> str:
        return (
            self.proc.stderr.read() if self.proc.stderr is not None and self.proc.poll() is not None else ""
        )


def _wait_for_pong(address: tuple[str, int], proc: subprocess.Popen[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        for i in range(50):
            if proc.poll() is not None:
                raise RuntimeError(f"rtpengine exited: {proc.stderr.read() if proc.stderr else ''}")
            s.sendto(f"start_{i} d7:command4:pinge".encode(), address)
            try:
                if s.recv(100).endswith(b"d6:result4:ponge"):
                    return
            except TimeoutError:
                continue
    raise RuntimeError("rtpengine did not answer ping")


@contextlib.contextmanager
def rtpengine_running(tmp_path: Path) -> Iterator[Rtpengine]:
    binary = shutil.which("rtpengine")
    if binary is None:
        raise RuntimeError("rtpengine is not installed (scripts/test-deps.sh installs rtpengine-daemon)")
    ng = ("127.0.0.1", free_port())
    port_min = 20000 + random.randrange(60) * 200  # 20000-31999, a 200-port slice per test
    port_max = port_min + 199
    proc = subprocess.Popen(
        [binary, "--config-file=none", "--foreground", "--table=-1", "--interface=127.0.0.1",
         f"--listen-ng={ng[0]}:{ng[1]}", f"--port-min={port_min}", f"--port-max={port_max}", "--log-stderr",
         "--log-level=5", "--delete-delay=0", f"--pidfile={tmp_path / 'rtpengine.pid'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_pong(ng, proc)
        yield Rtpengine(ng, port_min, port_max, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
