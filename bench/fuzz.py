"""SIP fuzz and flood benchmark: mutated SIP (`duplex.sip.mutation`) at a fixed rate from several untrusted
loopback sources over UDP and TCP, against an engine running in this process on uvloop (as `duplex serve`
runs it), while a separate process checks liveness with OPTIONS from the trusted 127.0.0.1.

Reports crashes (engine errors and tracebacks logged), RSS before, at the end of the flood and after the
timers settled, server transactions, calls and media sessions left (stuck), what the datagram screen dropped,
and the trusted OPTIONS latency during the flood (a probe unanswered in 2 s counts as lost).

    .venv/bin/python bench/fuzz.py --messages 20000            # quick
    .venv/bin/python bench/fuzz.py --messages 1000000 --rate 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import random
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from duplex.sip.mutation import SipMutator

PROBE_INTERVAL = 0.25
PROBE_TIMEOUT = 2.0


def _socket_drops(port: int) -> int:
    """Datagrams the kernel dropped for the engine's UDP socket (its receive buffer was full)."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


# -- sender and prober processes ---------------------------------------------------------------------------
def sender(hosts: list[str], port: int, seed: int, count: int, rate: float, tcp_every: int,
           users: tuple[str, ...], go: Any, out: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    """Send ``count`` mutated messages round-robin from ``hosts`` at ``rate`` per second (steadily: time lost to
    the scheduler is not made up in a burst); every ``tcp_every``-th goes over TCP."""
    sockets, mutators, tcp_mutators = [], [], []
    for n, host in enumerate(hosts):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        sockets.append(udp)
        mutators.append(SipMutator(random.Random(seed + n), target_host="127.0.0.1", target_port=port,
                                   source_port=udp.getsockname()[1], users=users))  # fmt: skip
        tcp_mutators.append(SipMutator(random.Random(seed + 1000 + n), target_host="127.0.0.1", target_port=port,
                                       transport="TCP", users=users))  # fmt: skip
    streams: list[socket.socket | None] = [None] * len(hosts)
    go.wait()  # all processes are started before the flood begins (starting one blocks the engine's loop)
    sent = refused = tcp_sent = 0
    start = due = time.monotonic()
    for i in range(count):
        n = i % len(hosts)
        if tcp_every and i % tcp_every == tcp_every - 1:
            streams[n], ok = _send_tcp(streams[n], hosts[n], port, tcp_mutators[n].next()[1])
            tcp_sent += ok
        else:
            try:
                sockets[n].sendto(mutators[n].next()[1], ("127.0.0.1", port))
                sent += 1
            except OSError:
                refused += 1  # larger than a datagram can be
        now = time.monotonic()
        due = max(due + 1 / rate, now - 0.01)
        if due - now > 0.002:
            time.sleep(due - now)
    out.put({"udp": sent, "tcp": tcp_sent, "refused": refused, "seconds": time.monotonic() - start})


def _send_tcp(
    stream: socket.socket | None, host: str, port: int, data: bytes
) -> tuple[socket.socket | None, int]:
    for _ in range(2):
        try:
            if stream is None:
                stream = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(host, 0))
                stream.setblocking(False)
            stream.send(data)
            return stream, 1
        except (OSError, BlockingIOError):
            if stream is not None:
                stream.close()
            stream = None
    return stream, 0


def prober(port: int, stop: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """OPTIONS from 127.0.0.1 every PROBE_INTERVAL: the latency of each, None when not answered in time."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(PROBE_TIMEOUT)
    mine = sock.getsockname()[1]
    latencies: list[float | None] = []
    n = 0
    while not stop.is_set():
        n += 1
        branch = f"z9hG4bKprobe{n}"
        msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{mine};branch={branch};rport\r\n"
               f"From: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: probe{n}\r\n"
               f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")  # fmt: skip
        sent = time.monotonic()
        sock.sendto(msg.encode(), ("127.0.0.1", port))
        latency = None
        while (left := sent + PROBE_TIMEOUT - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65535)
            except TimeoutError:
                break
            if branch.encode() in data and data.startswith(b"SIP/2.0 200"):
                latency = time.monotonic() - sent
                break
        latencies.append(latency)
        time.sleep(max(0.0, PROBE_INTERVAL - (time.monotonic() - sent)))
    out.put(latencies)


# -- the engine under test ---------------------------------------------------------------------------------
class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors = 0
        self.tracebacks = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.errors += 1
        self.tracebacks += record.exc_info is not None
        if len(self.samples) < 5:
            self.samples.append(f"{record.name}: {record.getMessage()[:200]}")


async def run_engine(args: argparse.Namespace, data: Path) -> dict[str, object]:
    from duplex.config import Settings
    from duplex.db.base import make_engine, make_session_factory
    from duplex.db.migrate import upgrade
    from duplex.demo import seed
    from duplex.events.record import EventRecord
    from duplex.reports import LiveProjection
    from duplex.services.node import build_switch
    from duplex.stores.call_store import TelephonyStore

    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'duplex.db'}", sip_host="127.0.0.1",
                        sip_port=0, public_ip="127.0.0.1", secret_key="fuzz-bench")  # fmt: skip
    upgrade(settings.effective_database_url)
    seed(settings)
    db = make_engine(settings.effective_database_url)
    sessions = make_session_factory(db)
    store = TelephonyStore(sessions, EventRecord(sessions, node_id="fuzz", projectors=[LiveProjection()]))
    engine = build_switch(settings, store)
    errors = ErrorCounter()
    logging.getLogger("duplex").addHandler(errors)
    port = await engine.start()
    await asyncio.sleep(1.0)
    rss_start = _rss_mb()
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    probes: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    stop = ctx.Event()
    hosts = [f"127.0.0.{i}" for i in range(2, 2 + args.sources)]
    go = ctx.Event()
    users = tuple(args.users.split(","))
    groups = [hosts[k :: args.processes] for k in range(args.processes)]
    workers = [ctx.Process(target=sender, args=(group, port, args.seed + 100 * k, args.messages // len(groups),
                                                args.rate / len(groups), args.tcp_every, users, go, results))
               for k, group in enumerate(groups)]  # fmt: skip
    probe = ctx.Process(target=prober, args=(port, stop, probes))
    loop = asyncio.get_running_loop()
    for w in workers:
        w.start()
    await asyncio.sleep(3.0)  # the senders import and build their mutators
    max_lag = [0.0]

    async def watch_lag() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(0.05)
            max_lag[0] = max(max_lag[0], loop.time() - before - 0.05)

    lagger = loop.create_task(watch_lag())
    probe.start()
    go.set()
    started, cpu_start, drops_start = loop.time(), _cpu_seconds(), _socket_drops(port)
    peak = rss_start
    while any(w.is_alive() for w in workers):
        await asyncio.sleep(0.5)
        peak = max(peak, _rss_mb())
    flood_seconds = loop.time() - started
    engine_cpu, kernel_drops = _cpu_seconds() - cpu_start, _socket_drops(port) - drops_start
    calls_at_flood_end = len(engine.calls)
    lagger.cancel()
    rss_flood_end = _rss_mb()
    stop.set()
    latencies = await loop.run_in_executor(None, probes.get, True, 30)
    sent = [results.get(timeout=30) for w in workers if w.exitcode == 0]  # a failed sender reports nothing
    for w in (*workers, probe):
        w.join()
    await asyncio.sleep(args.settle)  # Timer J/H and our BYEs to callers that never answer run out
    rss_settled = _rss_mb()
    stats = engine.transport.stats
    report: dict[str, object] = {
        "messages": args.messages, "rate": args.rate, "sources": len(hosts), "flood_seconds": round(flood_seconds, 1),
        "udp_sent": sum(int(s["udp"]) for s in sent), "tcp_sent": sum(int(s["tcp"]) for s in sent),
        "kernel_refused": sum(int(s["refused"]) for s in sent), "engine_socket_drops": kernel_drops,
        "engine_cpu_share": round(engine_cpu / flood_seconds, 2),
        "parsed": stats.received, "screened": getattr(stats, "screened", 0), "screen_reasons": _screen_reasons(engine),
        "malformed_answered": stats.malformed_answered, "malformed_dropped": stats.malformed_dropped,
        "flood_503": engine.flood.rejected, "flood_dropped": engine.flood.dropped, "rcvbuf": getattr(stats, "rcvbuf", 0),
        "errors": errors.errors, "tracebacks": errors.tracebacks, "error_samples": errors.samples,
        "stuck_transactions": len(engine.txl.transactions), "calls_left": len(engine.calls),
        "calls_at_flood_end": calls_at_flood_end, "loop_lag_max_ms": _ms(max_lag[0]),
        "media_left": len(getattr(engine.media, "sessions", ())),
        "rss_start_mb": round(rss_start, 1), "rss_peak_mb": round(peak, 1),
        "rss_flood_end_mb": round(rss_flood_end, 1), "rss_settled_mb": round(rss_settled, 1),
        "probes": len(latencies), "probes_lost": sum(1 for x in latencies if x is None),
        "probe_ms_median": _ms(statistics.median(answered)) if (answered := [x for x in latencies if x]) else None,
        "probe_ms_max": _ms(max(answered)) if answered else None,
    }  # fmt: skip
    try:
        await engine.stop()
    except Exception as exc:  # older code could fail here (a leg with an address its socket cannot reach)
        report["stop_error"] = f"{type(exc).__name__}: {exc}"
    store.close()
    db.dispose()
    return report


def _screen_reasons(engine: Any) -> dict[str, int]:
    front = getattr(engine, "front", None)  # absent before the datagram screen existed (baseline runs)
    return {str(k): v for k, v in front.preparse.counts.items()} if front is not None else {}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--rate", type=float, default=3_000.0, help="messages per second, all sources together"
    )
    parser.add_argument("--sources", type=int, default=8, help="loopback sources 127.0.0.2 ... (untrusted)")
    parser.add_argument(
        "--tcp-every", type=int, default=50, help="every n-th message goes over TCP (0: none)"
    )
    parser.add_argument(
        "--settle", type=float, default=40.0, help="seconds to wait for timers after the flood"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1,
                        help="sender processes (here they share the CPU with the engine; one sends 3,000/s)")  # fmt: skip
    parser.add_argument("--users", default="9999,alice,1001",
                        help="Request-URI users (1001, the demo echo number, is answered: each accepted INVITE is a "
                             "call with media until its missing ACK times out)")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    import uvloop

    with tempfile.TemporaryDirectory() as tmp, asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        report = runner.run(run_engine(args, Path(tmp)))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
