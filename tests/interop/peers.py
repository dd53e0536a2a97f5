"""Real SIP peers for interop tests: sipp (scripted calls, load), baresip (an agent's phone), tshark (the
RTP oracle). Each helper starts a real process on 127.0.0.1 and cleans it up."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for UDP (and, for SIP, TCP too) on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, other) as s2:
            try:
                s2.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def free_even_port() -> int:
    """RTP wants an even port with the next (RTCP) free as well."""
    for _ in range(100):
        port = free_port()
        if port % 2 == 0 and port < 65534:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free even port")


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    output: str
    stats: dict[str, str]


def sipp_command(
    scenario: str,
    target: str,
    *,
    local_port: int,
    media_port: int | None = None,
    service: str | None = None,
    calls: int | None = 1,
    rate: float = 1.0,
    limit: int | None = None,
    duration_ms: int | None = None,
    transport: str = "u1",
    stat_file: Path | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    builtin = scenario in ("uac", "uas", "regexp", "branchc", "branchs")
    cmd = ["sipp", "-sn" if builtin else "-sf", scenario if builtin else str(SCENARIOS / scenario)]
    if target:
        cmd.append(target)
    cmd += ["-i", "127.0.0.1", "-p", str(local_port), "-t", transport, "-nostdin"]
    if calls is not None:  # None: run until stopped (a UAS standing in for a carrier)
        cmd += ["-m", str(calls)]
    cmd += ["-r", str(rate), "-timeout", "60s", "-max_recv_loops", "1000"]
    if limit is not None:
        cmd += ["-l", str(limit)]
    if media_port is not None:
        cmd += ["-mi", "127.0.0.1", "-mp", str(media_port)]
    if service is not None:
        cmd += ["-s", service]
    if duration_ms is not None:
        cmd += ["-d", str(duration_ms)]
    if stat_file is not None:
        cmd += ["-trace_stat", "-stf", str(stat_file), "-fd", "1"]
    return cmd + (extra or [])


def read_sipp_stats(stat_file: Path) -> dict[str, str]:
    if not stat_file.exists():
        return {}
    rows = list(csv.reader(stat_file.read_text().splitlines(), delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def run_sipp(tmp: Path, scenario: str, target: str, *, timeout: float = 60, **kwargs: object) -> SippResult:
    stat_file = tmp / f"sipp-{scenario}-{time.monotonic_ns()}.csv"
    cmd = sipp_command(scenario, target, stat_file=stat_file, **kwargs)  # type: ignore[arg-type]
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
    stats = read_sipp_stats(stat_file)
    return SippResult(
        returncode=proc.returncode,
        successful=int(stats.get("SuccessfulCall(C)", "0") or 0),
        failed=int(stats.get("FailedCall(C)", "0") or 0),
        output=proc.stdout + proc.stderr,
        stats=stats,
    )


@contextlib.contextmanager
def sipp_running(tmp: Path, cmd: list[str], log_name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A sipp (a caller, say) started from ``cmd`` for the `with` block, its output in ``tmp/log_name``,
    killed at the end if it is still running."""
    with open(tmp / log_name, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@contextlib.contextmanager
def sipp_background(tmp: Path, scenario: str, **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    """A sipp that runs for the whole `with` block, e.g. a UAS standing in for a carrier."""
    cmd = sipp_command(scenario, "", **kwargs)  # type: ignore[arg-type]
    log = open(tmp / f"sipp-bg-{scenario}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.3)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)  # sipp: dump stats and quit
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@dataclass
class RtpStreamStats:
    packets: int
    lost: int
    max_jitter_ms: float
    mean_jitter_ms: float


@contextlib.contextmanager
def rtp_capture(tmp: Path, port: int, last_port: int | None = None) -> Iterator[Path]:
    """tshark on loopback capturing UDP to/from `port` (or the range `port`..`last_port`); yields the pcap
    path (complete after the block)."""
    if shutil.which("tshark") is None:
        raise RuntimeError("tshark is not installed (make test installs it)")
    pcap = tmp / f"rtp-{port}.pcap"
    proc = subprocess.Popen(
        [
            "tshark",
            "-q",
            "-i",
            "lo",
            "-f",
            f"udp portrange {port}-{last_port}" if last_port else f"udp port {port}",
            "-w",
            str(pcap),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not pcap.exists() and time.monotonic() < deadline:  # tshark creates the file once capturing
        time.sleep(0.05)
    time.sleep(0.3)
    try:
        yield pcap
    finally:
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def rtp_packets_to(pcap: Path, port: int) -> RtpStreamStats:
    """RTP packets arriving at `port`, with loss and jitter as tshark's RTP analysis computes them."""
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-q", "-d", f"udp.port=={port},rtp", "-z", "rtp,streams"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    packets = lost = 0
    max_jitter = mean_jitter = 0.0
    for line in out.splitlines():
        parts = line.split()
        # Start End SrcIP SrcPort DstIP DstPort SSRC Payload Pkts Lost (pct) Min/Mean/Max Delta, Min/Mean/Max Jitter
        ssrc = next((i for i, p in enumerate(parts) if p.startswith("0x")), None)
        if ssrc is None or ssrc < 1 or parts[ssrc - 1] != str(port):
            continue
        nums = [float(p.strip("()%")) for p in parts[ssrc + 2 :] if _is_number(p.strip("()%"))]
        packets += int(nums[0])
        lost += int(nums[1])
        mean_jitter = max(mean_jitter, nums[-2])
        max_jitter = max(max_jitter, nums[-1])
    return RtpStreamStats(packets, lost, max_jitter, mean_jitter)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Baresip:
    """A headless baresip (an agent's softphone) driven over its ctrl_tcp JSON/netstring socket."""

    def __init__(
        self, tmp: Path, *, user: str, password: str, registrar: str, tone_wav: Path, answermode: str = "auto"
    ) -> None:
        self.dir = tmp / f"baresip-{user}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rec_dir = self.dir / "rec"
        self.rec_dir.mkdir(exist_ok=True)
        self.tone_wav = tone_wav
        self._write_config()
        (self.dir / "accounts").write_text(
            f"<sip:{user}@{registrar}>;auth_pass={password};answermode={answermode};audio_codecs=PCMU,PCMA;regint=60\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self._buf = b""

    def _write_config(self) -> None:
        """Fresh free ports: SIP (baresip also binds the next port for SIP/TLS), control and RTP."""
        self.sip_port = free_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        rtp = free_even_port()
        self.rtp_ports = (rtp, rtp + 20)
        tone_wav = self.tone_wav
        (self.dir / "config").write_text(
            "\n".join(
                [
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "net_interface 127.0.0.1",
                    f"audio_source aufile,{tone_wav}",
                    "audio_player aubridge,sink",
                    "audio_alert aubridge,sink",
                    f"rtp_ports {rtp}-{rtp + 20}",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    f"snd_path {self.rec_dir}",
                    "",
                ]
            )
        )

    def start(self) -> None:
        # a port picked free may be taken by another process (tests run in parallel) before baresip binds it
        for _ in range(3):
            if self._start():
                return
            self._write_config()
        raise RuntimeError(f"baresip could not bind its ports: {(self.dir / 'baresip.log').read_text()}")

    def _start(self) -> bool:
        log = open(self.dir / "baresip.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(["baresip", "-f", str(self.dir)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                return True
            except OSError:
                if "Address already in use" in (self.dir / "baresip.log").read_text(errors="replace"):
                    self.proc.kill()
                    self.proc.wait(5)
                    return False
                time.sleep(0.1)
        raise RuntimeError(f"baresip did not open ctrl_tcp: {(self.dir / 'baresip.log').read_text()}")

    def command(self, command: str, params: str = "") -> None:
        assert self.sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(f"{len(body)}:".encode() + body + b",")

    def wait_event(self, kind: str, timeout: float = 10) -> dict[str, object]:
        """Wait for an event of `kind` (e.g. REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED)."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b":" in self._buf:
                length, _, rest = self._buf.partition(b":")
                n = int(length)
                if len(rest) < n + 1:
                    break
                msg, self._buf = json.loads(rest[:n]), rest[n + 1 :]
                if msg.get("event") and msg.get("type") == kind:
                    return dict(msg)
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            self._buf += chunk
        raise TimeoutError(f"no {kind} from baresip; log: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self.dir / "baresip.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.command("quit")
            self.sock.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def make_tone_wav(path: Path, seconds: float = 10.0, freq: int = 440) -> Path:
    """An 8 kHz mono 16-bit WAV for baresip's aufile source (sox from Debian)."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(freq),
        ],
        check=True,
    )
    return path


def env_without_proxy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
