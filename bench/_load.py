"""Helpers for bench/telephony.py: a packet counter that keeps up at high rates, sipp's statistics file,
and the `duplex serve` process under test.

Packets are counted by dumpcap (the capture engine behind tshark) with a kernel BPF filter and a 64-byte
snaplen, one process per direction, so only matching headers are copied out of the kernel; dumpcap reports
how many packets the kernel dropped, and a step whose capture dropped anything is flagged.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAILURE_COLUMNS = (
    "FailedCannotSendMessage",
    "FailedMaxUDPRetrans",
    "FailedTcpConnect",
    "FailedTcpClosed",
    "FailedUnexpectedMessage",
    "FailedCallRejected",
    "FailedCmdNotSent",
    "FailedRegexpDoesntMatch",
    "FailedRegexpShouldntMatch",
    "FailedRegexpHdrNotFound",
    "FailedOutboundCongestion",
    "FailedTimeoutOnRecv",
    "FailedTimeoutOnSend",
)


@dataclass
class Capture:
    """One dumpcap counting packets that match a BPF filter; ``packets``/``dropped`` after the block."""

    pcap: Path
    packets: int = 0
    dropped: int = 0


_COUNTS = re.compile(r"received/dropped on interface '[^']*': (\d+)/(\d+)")


@contextlib.contextmanager
def capture(tmp: Path, name: str, bpf: str, snaplen: int = 64) -> Iterator[Capture]:
    cap = Capture(tmp / f"{name}-{time.monotonic_ns()}.pcap")
    proc = subprocess.Popen(
        ["dumpcap", "-q", "-n", "-i", "lo", "-f", bpf, "-s", str(snaplen), "-B", "64", "-w", str(cap.pcap)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not cap.pcap.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    try:
        yield cap
    finally:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        m = _COUNTS.search(err)
        if m is None:
            raise RuntimeError(f"dumpcap gave no counts: {err}")
        cap.packets, cap.dropped = int(m.group(1)), int(m.group(2))


@dataclass
class RtpAnalysis:
    """tshark's RTP stream analysis of the packets arriving at one port (one row per SSRC)."""

    streams: int = 0
    packets: int = 0
    lost: int = 0
    mean_jitter_ms: float = 0.0
    max_jitter_ms: float = 0.0


def analyse_rtp(pcap: Path, port: int) -> RtpAnalysis:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-q", "-d", f"udp.port=={port},rtp", "-z", "rtp,streams"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    res = RtpAnalysis()
    jitters: list[float] = []
    for line in out.splitlines():
        parts = line.split()
        ssrc = next((i for i, p in enumerate(parts) if p.startswith("0x")), None)
        if ssrc is None or ssrc < 1 or parts[ssrc - 1] != str(port):
            continue
        nums = [float(p.strip("()%")) for p in parts[ssrc + 2 :] if _is_number(p.strip("()%"))]
        res.streams += 1
        res.packets += int(nums[0])
        res.lost += max(0, int(nums[1]))
        jitters.append(nums[-2])
        res.max_jitter_ms = max(res.max_jitter_ms, nums[-1])
    res.mean_jitter_ms = sum(jitters) / len(jitters) if jitters else 0.0
    return res


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class SippStats:
    successful: int = 0
    failed: int = 0
    peak_concurrent: int = 0
    retransmissions: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def read_sipp_stats(stat_file: Path) -> SippStats:
    """Totals from the last row of sipp's -trace_stat CSV, peak CurrentCall over all rows (one a second)."""
    if not stat_file.exists():
        return SippStats()
    rows = list(csv.DictReader(stat_file.read_text().splitlines(), delimiter=";"))
    if not rows:
        return SippStats()
    last = rows[-1]

    def num(row: dict[str, str], key: str) -> int:
        try:
            return int(row.get(key) or 0)
        except ValueError:
            return 0

    return SippStats(
        successful=num(last, "SuccessfulCall(C)"),
        failed=num(last, "FailedCall(C)"),
        peak_concurrent=max(num(r, "CurrentCall") for r in rows),
        retransmissions=num(last, "Retransmissions(C)"),
        reasons={k: n for k in FAILURE_COLUMNS if (n := num(last, f"{k}(C)"))},
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, to report machine load including other processes."""
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(v) for v in cpu]
    idle = vals[3] + vals[4]
    return float(sum(vals) - idle), float(sum(vals))


def prepare_center(data: Path, trunk_port: int | None) -> dict[str, object]:
    """Migrate and seed a demo center in ``data``; point the demo trunk at ``trunk_port`` with limits raised
    for load. Returns the demo credentials."""
    duplex = str(ROOT / ".venv" / "bin" / "duplex")
    subprocess.run([duplex, "db", "upgrade", "--data-dir", str(data)], check=True, capture_output=True)
    subprocess.run([duplex, "demo", "seed", "--data-dir", str(data)], check=True, capture_output=True)
    from sqlalchemy import update

    from duplex.config import Settings
    from duplex.db.base import make_engine, make_session_factory
    from duplex.db.models import Trunk

    db = make_engine(Settings(data_dir=data).effective_database_url)
    with make_session_factory(db)() as session, session.begin():
        # capacity, not a configured channel cap, is what is measured
        session.execute(update(Trunk).values(max_cps=10000.0, max_channels=100000))
        if trunk_port is not None:  # the carrier; the caller is an agent phone, not the carrier's IP
            session.execute(update(Trunk).where(Trunk.name == "demo-carrier").values(
                host="127.0.0.1", port=trunk_port, allowed_ips=[], failover_order=0))  # fmt: skip
    db.dispose()
    creds: dict[str, object] = json.loads((data / "demo-credentials.json").read_text())
    return creds
