"""What recording before acknowledging costs: the time from INVITE to 200 and the calls completed, at a steady
call rate, for `duplex serve` (echo number 1001; the 200 waits for the commit of the call's answer events)
side by side with sipp -> sipp (UAS answering at once) on the same machine as the floor.

sipp places ``--rate`` calls per second for ``--seconds``, each ``--talk-ms`` long (no media from the caller,
Duplex's beep and echo only), and reports the mean INVITE -> 200 response time and its 90th-percentile bucket.
Duplex's CPU seconds are read from /proc. Prints one markdown table.

    .venv/bin/python bench/record_first.py --rate 20 --seconds 20
    .venv/bin/python bench/record_first.py --rate 20 --seconds 20 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from _load import cpu_seconds  # noqa: E402

from duplex.db.migrate import upgrade  # noqa: E402
from interop.duplex_process import DuplexProcess  # noqa: E402
from interop.peers import SippResult, free_even_port, free_port, run_sipp, sipp_background  # noqa: E402


def sipp_ms(value: str) -> float:
    """sipp's HH:MM:SS:microseconds as milliseconds."""
    h, m, s, us = (int(part) for part in value.split(":"))
    return ((h * 60 + m) * 60 + s) * 1000 + us / 1000


def callers(tmp: Path, port: int, args: argparse.Namespace) -> SippResult:
    calls = int(args.rate * args.seconds)
    return run_sipp(tmp, "uac_logged.xml", f"127.0.0.1:{port}", local_port=free_port(),
                    media_port=free_even_port(), service="1001", calls=calls, rate=args.rate,
                    duration_ms=args.talk_ms, timeout=args.seconds + 90)  # fmt: skip


def row(name: str, result: SippResult, offered: int, cpu: float | None) -> str:
    stats = result.stats
    answer_ms = sipp_ms(stats.get("ResponseTime1(C)", "00:00:00:000000"))
    cpu_text = f"{cpu:.1f}" if cpu is not None else "-"
    reasons = ", ".join(f"{k.removeprefix('Failed').removesuffix('(C)')} {v}" for k, v in stats.items()
                        if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and v not in ("", "0"))  # fmt: skip
    return (f"| {name} | {offered} | {result.successful} | {result.failed} {reasons} | {answer_ms:.1f} "
            f"| {cpu_text} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--talk-ms", type=int, default=2000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    offered = int(args.rate * args.seconds)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="duplex-record-first-") as name:
        tmp = Path(name)
        uas = free_port()
        with sipp_background(tmp, "uas_answer.xml", local_port=uas, media_port=free_even_port(), calls=None,
                             extra=["-timeout", "0"]):  # fmt: skip
            floor = callers(tmp, uas, args)
        url = args.database_url or f"sqlite:///{tmp / 'duplex.db'}"
        upgrade(url)
        node = DuplexProcess(tmp, url)
        node.start()
        try:
            assert node.proc is not None
            before = cpu_seconds(node.proc.pid)
            duplex = callers(tmp, node.sip_port, args)
            cpu = cpu_seconds(node.proc.pid) - before
        finally:
            node.stop()
        problems = [line for line in node.log().splitlines() if " WARNING " in line or " ERROR " in line]
    load1 = os.getloadavg()[0]
    print(f"{args.rate:g} CPS for {args.seconds} s, calls {args.talk_ms} ms, database "
          f"{url.split(':', 1)[0]}; load average {load0:.1f} before, {load1:.1f} after\n")  # fmt: skip
    print("| target | offered | completed | failed | INVITE -> 200 mean (ms) | server CPU (s) |")
    print("|---|---|---|---|---|---|")
    print(row("sipp -> sipp (floor)", floor, offered, None))
    print(row("duplex", duplex, offered, cpu))
    print(f"\n{len(problems)} warnings/errors in the Duplex log", *problems[:5], sep="\n")


if __name__ == "__main__":
    main()
