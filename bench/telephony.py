"""Telephony capacity benchmark: sipp callers at rising call rates against Duplex's echo number (1001),
side by side with sipp -> sipp (UAS with -rtp_echo) on the same machine as the ceiling.

Each step runs `rate` calls per second for `--step-seconds`, every call `--call-seconds` long with G.711
A-law audio from sipp's pcap, so the concurrent-call target is rate x call length (50 CPS x 10 s = 500).
A step passes when fewer than 0.5% of its calls fail. RTP is counted by tshark at the caller's media port:
every packet sent must come back (echo), so loss is (sent - received) / sent.

    .venv/bin/python bench/telephony.py                      # quick: short steps, writes docs/benchmarks.md
    .venv/bin/python bench/telephony.py --step-seconds 120   # the issue's 2-minute steps
    .venv/bin/python bench/telephony.py --soak 600           # plus a 10-minute soak at the best passing rate
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.interop.peers import (  # noqa: E402
    free_even_port,
    free_port,
    rtp_capture,
    rtp_packets_to,
    run_sipp,
    sipp_background,
)

PCAP_PACKETS_PER_CALL = 236  # /usr/share/sip-tester/g711a.pcap: 7.05 s of 20 ms frames (plus gaps)
FAIL_LIMIT = 0.005


@dataclass
class StepResult:
    target: str
    rate: float
    attempted: int
    successful: int
    failed: int
    peak_concurrent: int
    rtp_sent: int
    rtp_received: int
    mean_jitter_ms: float
    max_jitter_ms: float
    server_cpu_pct: float | None

    @property
    def fail_ratio(self) -> float:
        return self.failed / self.attempted if self.attempted else 1.0

    @property
    def rtp_loss(self) -> float:
        return 1 - self.rtp_received / self.rtp_sent if self.rtp_sent else 1.0

    @property
    def passed(self) -> bool:
        return self.attempted > 0 and self.fail_ratio < FAIL_LIMIT


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


@contextlib.contextmanager
def duplex_server(tmp: Path) -> Iterator[tuple[int, int]]:
    """A real `duplex serve` with a fresh demo center; yields (sip_port, pid)."""
    duplex = str(ROOT / ".venv" / "bin" / "duplex")
    data = tmp / "data"
    subprocess.run([duplex, "db", "upgrade", "--data-dir", str(data)], check=True, capture_output=True)
    subprocess.run([duplex, "demo", "seed", "--data-dir", str(data)], check=True, capture_output=True)
    sip_port, http_port = free_port(), free_port()
    log = open(tmp / "duplex.log", "w")  # noqa: SIM115 - closed below
    env = dict(os.environ, DUPLEX_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [
            duplex,
            "serve",
            "--data-dir",
            str(data),
            "--sip-port",
            str(sip_port),
            "--http-port",
            str(http_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        ok = False
        while time.monotonic() < deadline and not ok:
            time.sleep(0.5)
            ok = _options_ok(tmp, sip_port)
        if not ok:
            raise RuntimeError(f"duplex did not answer OPTIONS: {(tmp / 'duplex.log').read_text()[-3000:]}")
        yield sip_port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _options_ok(tmp: Path, sip_port: int) -> bool:
    result = run_sipp(tmp, "options.xml", f"127.0.0.1:{sip_port}", local_port=free_port(), timeout=10)
    return result.returncode == 0


def run_step(
    tmp: Path, target: str, sip_port: int, rate: float, step_s: int, call_s: int, pid: int | None
) -> StepResult:
    calls = max(1, int(rate * step_s))
    media_port = free_even_port()
    cpu0, t0 = (cpu_seconds(pid), time.monotonic()) if pid else (0.0, time.monotonic())
    with rtp_capture(tmp, media_port) as pcap:
        result = run_sipp(
            tmp,
            "uac_pcap.xml",
            f"127.0.0.1:{sip_port}",
            local_port=free_port(),
            media_port=media_port,
            service="1001",
            calls=calls,
            rate=rate,
            limit=int(rate * (call_s + 5)) + 10,
            duration_ms=call_s * 1000,
            timeout=step_s + call_s + 120,
        )
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100 if pid else None
    rtp = rtp_packets_to(pcap, media_port)
    pcap.unlink(missing_ok=True)
    sent = PCAP_PACKETS_PER_CALL * result.successful
    return StepResult(
        target=target,
        rate=rate,
        attempted=calls,
        successful=result.successful,
        failed=calls - result.successful,
        # sipp's CSV has no peak column; in steady state concurrency is rate x call length.
        peak_concurrent=int(rate * call_s),
        rtp_sent=sent,
        rtp_received=rtp.packets,
        mean_jitter_ms=rtp.mean_jitter_ms,
        max_jitter_ms=rtp.max_jitter_ms,
        server_cpu_pct=cpu,
    )


def markdown(rows: list[StepResult], args: argparse.Namespace, elapsed: float) -> str:
    by_rate: dict[float, dict[str, StepResult]] = {}
    for r in rows:
        if r.attempted > 1:
            by_rate.setdefault(r.rate, {})[r.target] = r
    lines = [
        "## Telephony: echo calls at rising rates (bench/telephony.py)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, {elapsed:.0f} s; "
        f"command: `.venv/bin/python bench/telephony.py --rates {args.rates} --step-seconds {args.step_seconds} "
        f"--call-seconds {args.call_seconds}`.",
        "Baseline: sipp UAC -> sipp UAS with -rtp_echo (the same scenario, no Duplex). Ratio = Duplex / baseline.",
        "",
        "| CPS | concurrent | baseline ok/fail | Duplex ok/fail | success ratio | RTP loss baseline / Duplex "
        "| Duplex CPU % | pass (<0.5% failed) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    single = {r.target: r for r in rows if r.attempted == 1}
    if single:
        # sipp's pcap carries one SSRC for every call, so tshark's per-stream jitter is only meaningful
        # for a lone call; it is measured once before the load steps.
        lines[-3:-3] = [
            "Single call, RTP jitter at the caller (mean / max ms): "
            + ", ".join(f"{k} {v.mean_jitter_ms:.2f} / {v.max_jitter_ms:.2f}" for k, v in single.items())
            + ".",
            "",
        ]
    for rate, pair in sorted(by_rate.items()):
        base, dup = pair.get("sipp-uas"), pair.get("duplex")
        if dup is None:
            continue
        ratio = (dup.successful / base.successful) if base and base.successful else float("nan")
        base_cell = f"{base.successful}/{base.failed}" if base else "-"
        base_loss = f"{base.rtp_loss:.2%}" if base else "-"
        cpu = f"{dup.server_cpu_pct:.0f}" if dup.server_cpu_pct is not None else "-"
        lines.append(
            f"| {rate:g} | {dup.peak_concurrent} | {base_cell} | {dup.successful}/{dup.failed} | {ratio:.3f} "
            f"| {base_loss} / {dup.rtp_loss:.2%} | {cpu} "
            f"| {'yes' if dup.passed else 'no'} |"
        )
    best = max((r for r in rows if r.target == "duplex" and r.passed), key=lambda r: r.rate, default=None)
    lines += [
        "",
        f"Highest passing rate: {best.rate:g} CPS, about {best.peak_concurrent} concurrent echo calls."
        if best
        else "No step passed.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="5,10,20,30,50", help="comma-separated calls per second")
    parser.add_argument("--step-seconds", type=int, default=20)
    parser.add_argument("--call-seconds", type=int, default=10)
    parser.add_argument("--soak", type=int, default=0, help="seconds of soak at the best passing rate")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    if shutil.which("sipp") is None or shutil.which("tshark") is None:
        sys.exit("needs sipp and tshark: run `make services` (or `bash scripts/test-deps.sh`) first")
    rates = [float(r) for r in args.rates.split(",")]
    started = time.monotonic()
    rows: list[StepResult] = []
    with tempfile.TemporaryDirectory(prefix="duplex-bench-") as name:
        tmp = Path(name)
        if not args.skip_baseline:
            for rate in rates:
                uas = free_port()
                with sipp_background(
                    tmp,
                    "uas_answer.xml",
                    local_port=uas,
                    media_port=free_even_port(),
                    calls=0,
                    extra=["-rtp_echo"],
                ):
                    rows.append(
                        run_step(tmp, "sipp-uas", uas, rate, args.step_seconds, args.call_seconds, None)
                    )
                print(rows[-1], flush=True)
        with duplex_server(tmp) as (sip_port, pid):
            rows.append(run_step(tmp, "duplex", sip_port, 1, 1, args.call_seconds, pid))
            for rate in rates:
                rows.append(
                    run_step(tmp, "duplex", sip_port, rate, args.step_seconds, args.call_seconds, pid)
                )
                print(rows[-1], flush=True)
                if not rows[-1].passed:
                    break
            best = max((r.rate for r in rows if r.target == "duplex" and r.passed), default=None)
            if args.soak and best:
                rows.append(run_step(tmp, "duplex-soak", sip_port, best, args.soak, args.call_seconds, pid))
    section = markdown(rows, args, time.monotonic() - started)
    update_section(args.out, "## Telephony:", section)
    print(section)


def update_section(path: Path, heading: str, section: str) -> None:
    """Replace this benchmark's section in docs/benchmarks.md, keeping the other benchmarks' sections."""
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nFigures are ratios to a baseline run side by side.\n\n"
    )
    start = text.find(heading)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    path.write_text(text)


if __name__ == "__main__":
    main()
