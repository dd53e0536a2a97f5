"""``--media-backend rtpengine`` for bench/telephony.py: a userspace rtpengine-daemon next to `duplex serve`.

The daemon runs with ``--table=-1`` (no kernel forwarding module), so every relayed packet costs userspace
CPU on the same 2 cores; its CPU time is printed after the run. `duplex serve` finds it through
``DUPLEX_MEDIA_BACKEND``/``DUPLEX_MEDIA_RTPENGINE_NG`` in the environment it inherits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from _load import cpu_seconds

PORT_MIN, PORT_MAX = 20000, 29999  # below the kernel's ephemeral range, where sipp's ports come from


def _ping(address: tuple[str, int]) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(b"bench_ping d7:command4:pinge", address)
        try:
            return s.recv(100).endswith(b"d6:result4:ponge")
        except TimeoutError:
            return False


@contextlib.contextmanager
def media_backend(name: str, tmp: Path, ng_port: int) -> Iterator[None]:
    """Nothing for ``local``; for ``rtpengine`` start the daemon and point `duplex serve` at it."""
    if name != "rtpengine":
        yield
        return
    binary = shutil.which("rtpengine")
    if binary is None:
        raise SystemExit("--media-backend rtpengine needs rtpengine-daemon (bash scripts/test-deps.sh)")
    log = open(tmp / "rtpengine.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [binary, "--config-file=none", "--foreground", "--table=-1", "--interface=127.0.0.1",
         f"--listen-ng=127.0.0.1:{ng_port}", f"--port-min={PORT_MIN}", f"--port-max={PORT_MAX}",
         "--log-stderr", "--log-level=4", "--delete-delay=0"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    saved = {k: os.environ.get(k) for k in ("DUPLEX_MEDIA_BACKEND", "DUPLEX_MEDIA_RTPENGINE_NG")}
    try:
        deadline = time.monotonic() + 10
        while not _ping(("127.0.0.1", ng_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"rtpengine did not start: {(tmp / 'rtpengine.log').read_text()[-2000:]}")
        os.environ.update(DUPLEX_MEDIA_BACKEND="rtpengine", DUPLEX_MEDIA_RTPENGINE_NG=f"127.0.0.1:{ng_port}")
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if proc.poll() is None:
            print(f"rtpengine CPU: {cpu_seconds(proc.pid):.1f} s", flush=True)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
