"""Telephony capacity benchmark: sipp callers at rising call rates against `duplex serve`, side by side with
sipp -> sipp (UAS with -rtp_echo) on the same machine as the ceiling.

Modes (``--mode``):
  echo     the caller dials the echo number 1001: one Duplex leg per call, the caller's RTP comes back.
  bridged  the caller is agent phone alice (digest auth) dialling an external number; Duplex bridges it through
           the demo trunk to a sipp UAS with -rtp_echo: two Duplex legs per call, RTP relayed both ways.

Each step offers `rate` calls per second for `--step-seconds`, every call `--call-seconds` long with sipp's
G.711 A-law pcap (7 s, 236 packets), so the concurrency is about rate x call length (50 CPS x 10 s = 500).

A step passes when fewer than 0.5% of the calls it offered did not complete (sipp's successful calls against
calls offered; a call sipp never placed counts as failed) and sipp placed them at >= 95% of the offered rate
(sipp holds calls back when its -l concurrency cap is reached, which would otherwise hide an overload).

RTP is counted per direction at the caller's media port by dumpcap (BPF filter, 64-byte snaplen; kernel
drops are reported): `back/sent` is packets arriving at the caller over packets the caller sent. For Duplex,
tshark's per-SSRC analysis of the returned streams also gives sequence-gap loss and jitter (Duplex gives every
call its own SSRC; the baseline echoes sipp's single SSRC, so only the counts apply there).

    .venv/bin/python bench/telephony.py                        # quick: 20 s steps, writes docs/benchmarks.md
    .venv/bin/python bench/telephony.py --step-seconds 120     # the issue's 2-minute steps
    .venv/bin/python bench/telephony.py --soak 600             # plus a 10-minute soak at the best passing rate
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _load import (  # noqa: E402
    RtpAnalysis,
    SippStats,
    analyse_rtp,
    capture,
    cpu_seconds,
    prepare_center,
    read_sipp_stats,
    system_busy,
)
from _markdown import update_section  # noqa: E402
from _rtpengine import media_backend  # noqa: E402
from tests.interop.peers import free_even_port, free_port, run_sipp, sipp_background, sipp_command  # noqa: E402

FAIL_LIMIT = 0.005
RATE_LIMIT = 0.95
# Echo must return the caller's audio: at least 99% of the RTP it sent comes back (the beep adds a little).
BACK_LIMIT = 0.99
# More than this back is not an echo (the beep adds ~4%): a step above it keeps its logs and captures.
LOOP_LIMIT = 1.1
EXTERNAL = "+442071234567"
OUT = ROOT / "bench" / "out"


@dataclass
class StepResult:
    target: str
    rate: float
    seconds: int
    attempted: int
    sipp: SippStats
    placed_rate: float
    rtp_sent: int
    rtp_back: int
    capture_dropped: int
    rtp: RtpAnalysis | None
    server_cpu_pct: float | None
    system_cpu_pct: float
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.attempted - self.sipp.successful

    @property
    def fail_ratio(self) -> float:
        return self.failed / self.attempted if self.attempted else 1.0

    @property
    def passed(self) -> bool:
        return (
            self.attempted > 0
            and self.fail_ratio < FAIL_LIMIT
            and self.placed_rate >= RATE_LIMIT * self.rate
            and self.back_ratio >= BACK_LIMIT
        )

    @property
    def back_ratio(self) -> float:
        return self.rtp_back / self.rtp_sent if self.rtp_sent else 0.0


def _elapsed(text: str) -> float:
    h, m, s = (text.split(":") + ["0", "0", "0"])[:3]
    return int(h) * 3600 + int(m) * 60 + float(s)


def placed_rate(stat_file: Path, calls: int, fallback: float) -> float:
    """Calls per second sipp actually placed: calls / time until the last one was created."""
    import csv

    if not stat_file.exists():
        return 0.0
    for row in csv.DictReader(stat_file.read_text().splitlines(), delimiter=";"):
        if int(row.get("OutgoingCall(C)") or 0) >= calls:
            took = _elapsed(row.get("ElapsedTime(C)", "0:0:0"))
            return calls / max(took, calls / fallback)
    return 0.0


@dataclass
class Target:
    name: str
    sip_port: int
    scenario: str
    service: str
    extra: list[str]
    pid: int | None


def run_step(tmp: Path, t: Target, rate: float, step_s: int, call_s: int, analyse: bool) -> StepResult:
    calls = max(1, int(rate * step_s))
    media = free_even_port()
    stat_file = tmp / f"sipp-{t.name}-{rate:g}-{time.monotonic_ns()}.csv"
    cmd = sipp_command(t.scenario, f"127.0.0.1:{t.sip_port}", local_port=free_port(), media_port=media,
                       service=t.service, calls=calls, rate=rate, limit=int(rate * (call_s + 10)) + 10,
                       duration_ms=call_s * 1000, stat_file=stat_file, extra=t.extra)  # fmt: skip
    # sipp's global -timeout (60 s in sipp_command) ended long steps and soaks early
    cmd[cmd.index("-timeout") + 1] = f"{step_s + call_s + 120}s"
    # sipp's error log (each unexpected message in full) is what tells why calls failed
    errors = tmp / f"sipp-{t.name}-{rate:g}-errors.log"
    cmd += ["-trace_err", "-error_file", str(errors)]
    cpu0 = cpu_seconds(t.pid) if t.pid else 0.0
    sys0, t0 = system_busy(), time.monotonic()
    with (
        capture(tmp, "sent", f"udp src port {media}") as sent,
        capture(tmp, "back", f"udp dst port {media}") as back,
    ):
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=step_s + call_s + 180)
    wall = time.monotonic() - t0
    sys1 = system_busy()
    cpu = (cpu_seconds(t.pid) - cpu0) / wall * 100 if t.pid else None
    stats = read_sipp_stats(stat_file)
    notes = [] if proc.returncode in (0, 1) else [f"sipp exit {proc.returncode}: {proc.stderr[-300:]!r}"]
    rtp = analyse_rtp(back.pcap, media) if analyse else None
    result = StepResult(
        target=t.name, rate=rate, seconds=step_s, attempted=calls, sipp=stats,
        placed_rate=placed_rate(stat_file, calls, rate), rtp_sent=sent.packets, rtp_back=back.packets,
        capture_dropped=sent.dropped + back.dropped, rtp=rtp, server_cpu_pct=cpu,
        system_cpu_pct=(sys1[0] - sys0[0]) / max(1.0, sys1[1] - sys0[1]) * 100, notes=notes,
    )  # fmt: skip
    if result.failed or not BACK_LIMIT <= result.back_ratio <= LOOP_LIMIT:
        kept = keep_logs(tmp, f"{t.name}-{rate:g}cps", [errors, stat_file, sent.pcap, back.pcap],
                         proc.stdout + proc.stderr)  # fmt: skip
        result.notes.append(f"logs and captures kept in {kept.relative_to(ROOT)}")
    sent.pcap.unlink(missing_ok=True)
    back.pcap.unlink(missing_ok=True)
    return result


def keep_logs(tmp: Path, label: str, files: list[Path], output: str) -> Path:
    """Copy a failed step's sipp error log and statistics, the caller's RTP captures, sipp's output, the Duplex
    log so far and the carrier sipp's log to bench/out/ (gitignored): the temporary directory goes at the end."""
    dest = OUT / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    dest.mkdir(parents=True, exist_ok=True)
    for f in [*files, tmp / "duplex.log", *tmp.glob("sipp-bg-*.log")]:
        if f.exists():
            shutil.copy(f, dest / f.name)
    (dest / "sipp-output.txt").write_text(output)
    return dest


@contextlib.contextmanager
def duplex_server(tmp: Path, mode: str) -> Iterator[Target]:
    """`duplex serve` with a fresh demo center (and, bridged, a sipp carrier); yields the caller's target."""
    data = tmp / "data"
    carrier_port = free_port() if mode == "bridged" else None
    creds = prepare_center(data, carrier_port)
    sip_port, http_port = free_port(), free_port()
    log = open(tmp / "duplex.log", "w")  # noqa: SIM115 - closed below
    env = dict(os.environ, DUPLEX_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/duplex"), "serve", "--data-dir", str(data), "--sip-port", str(sip_port),
         "--http-port", str(http_port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        if carrier_port is not None:
            # "-timeout 0" lifts sipp_command's 60 s global timeout (the last -timeout wins): the carrier must
            # outlive every step. With it, the carrier stopped taking new calls 60 s after it started (sipp
            # discards new calls while quitting), so from the 20 CPS step on the INVITEs went unanswered and
            # their calls failed after Duplex's 30 s no-answer timer (480: sipp's "UnexpectedMessage").
            stack.enter_context(sipp_background(tmp, "uas_answer.xml", local_port=carrier_port,
                                                media_port=free_even_port(), calls=None,
                                                extra=["-rtp_echo", "-timeout", "0"]))  # fmt: skip
        try:
            _wait_options(tmp, sip_port)
            if mode == "bridged":
                pw = creds["passwords"]["sip:alice"]  # type: ignore[index]
                yield Target("duplex", sip_port, "uac_auth_pcap.xml", EXTERNAL, ["-au", "alice", "-ap", str(pw)],
                             proc.pid)  # fmt: skip
            else:
                yield Target("duplex", sip_port, "uac_pcap.xml", "1001", [], proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _wait_options(tmp: Path, sip_port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if (
            run_sipp(
                tmp, "options.xml", f"127.0.0.1:{sip_port}", local_port=free_port(), timeout=10
            ).returncode
            == 0
        ):
            return
    raise RuntimeError(f"duplex did not answer OPTIONS: {(tmp / 'duplex.log').read_text()[-3000:]}")


def markdown(rows: list[StepResult], args: argparse.Namespace, elapsed: float, load: str) -> str:
    from _report import render

    return render(rows, args, elapsed, load, FAIL_LIMIT, RATE_LIMIT)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("echo", "bridged"), default="echo")
    parser.add_argument("--media-backend", choices=("local", "rtpengine"), default="local",
                        help="who relays Duplex's RTP: in process, or rtpengine (bench/_rtpengine.py)")  # fmt: skip
    parser.add_argument("--rates", default="5,10,20,30,50", help="comma-separated calls per second")
    parser.add_argument("--step-seconds", type=int, default=20)
    parser.add_argument("--call-seconds", type=int, default=10)
    parser.add_argument("--soak", type=int, default=0, help="seconds of soak at the best passing rate")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep-going", action="store_true", help="run every rate even after a failed step")
    args = parser.parse_args()
    if not all(shutil.which(t) for t in ("sipp", "tshark", "dumpcap")):
        sys.exit("needs sipp, tshark and dumpcap: run `make services` (or `bash scripts/test-deps.sh`) first")
    rates = [float(r) for r in args.rates.split(",")]
    started, load0 = time.monotonic(), os.getloadavg()
    rows: list[StepResult] = []
    with tempfile.TemporaryDirectory(prefix="duplex-bench-") as name:
        tmp = Path(name)
        if not args.skip_baseline:
            for rate in rates:
                uas = free_port()
                with sipp_background(tmp, "uas_answer.xml", local_port=uas, media_port=free_even_port(),
                                     calls=None, extra=["-rtp_echo", "-timeout", "0"]):  # fmt: skip
                    t = Target("sipp-uas", uas, "uac_pcap.xml", "1001", [], None)
                    rows.append(run_step(tmp, t, rate, args.step_seconds, args.call_seconds, analyse=False))
                print(rows[-1], flush=True)
        with media_backend(args.media_backend, tmp, free_port()), duplex_server(tmp, args.mode) as target:
            rows.append(run_step(tmp, _single(target), 1, 1, args.call_seconds, analyse=True))
            print(rows[-1], flush=True)
            for rate in rates:
                rows.append(run_step(tmp, target, rate, args.step_seconds, args.call_seconds, analyse=True))
                print(rows[-1], flush=True)
                if not rows[-1].passed and not args.keep_going:
                    break
            best = max((r.rate for r in rows if r.target == "duplex" and r.passed), default=None)
            if args.soak and best:
                soak = Target("duplex-soak", target.sip_port, target.scenario, target.service, target.extra,
                              target.pid)  # fmt: skip
                rows.append(run_step(tmp, soak, best, args.soak, args.call_seconds, analyse=True))
                print(rows[-1], flush=True)
    load1 = os.getloadavg()
    load = f"load average before {load0[0]:.2f}, after {load1[0]:.2f}"
    section = markdown(rows, args, time.monotonic() - started, load)
    update_section(args.out, f"## Telephony ({args.mode}, {args.media_backend} media)", section)
    print(section)


def _single(t: Target) -> Target:
    return Target("duplex-single", t.sip_port, t.scenario, t.service, t.extra, t.pid)


if __name__ == "__main__":
    main()
