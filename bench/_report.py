"""The docs/benchmarks.md section written by bench/telephony.py."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any


def _pct(x: float) -> str:
    return f"{x:.2%}"


def _row(rate: float, base: Any, dup: Any) -> str:
    ok_ratio = dup.sipp.successful / base.sipp.successful if base and base.sipp.successful else float("nan")
    base_cell = f"{base.sipp.successful}/{base.failed}" if base else "-"
    base_back = f"{base.back_ratio:.3f}" if base else "-"
    rtp = dup.rtp
    loss = _pct(rtp.lost / (rtp.packets + rtp.lost)) if rtp and rtp.packets + rtp.lost else "-"
    jitter = f"{rtp.mean_jitter_ms:.2f} / {rtp.max_jitter_ms:.1f}" if rtp else "-"
    cpu = f"{dup.server_cpu_pct:.0f}" if dup.server_cpu_pct is not None else "-"
    reasons = ", ".join(f"{k.removeprefix('Failed')} {v}" for k, v in dup.sipp.reasons.items()) or "-"
    if dup.capture_dropped:
        reasons += f"; capture dropped {dup.capture_dropped}"
    placed = f"{dup.placed_rate:.1f}" + (f" (base {base.placed_rate:.1f})" if base else "")
    return (
        f"| {rate:g} | {dup.seconds} | {placed} | {dup.sipp.peak_concurrent}"
        f"{f' ({base.sipp.peak_concurrent})' if base else ''} | {base_cell} | {dup.sipp.successful}/{dup.failed} "
        f"| {ok_ratio:.3f} | {base_back} / {dup.back_ratio:.3f} | {loss} | {jitter} | {cpu} | {dup.system_cpu_pct:.0f} "
        f"| {dup.sipp.retransmissions} | {reasons} | {'yes' if dup.passed else '**no**'} |"
    )


def render(
    rows: list[Any], args: argparse.Namespace, elapsed: float, load: str, fail: float, rate: float
) -> str:
    base = {r.rate: r for r in rows if r.target == "sipp-uas"}
    lines = [
        f"## Telephony ({args.mode}, {args.media_backend} media): calls at rising rates (bench/telephony.py)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, {elapsed:.0f} s, {load} "
        "(state whether other jobs shared the machine). Command:",
        "",
        f"    .venv/bin/python bench/telephony.py --mode {args.mode} --media-backend {args.media_backend} "
        f"--rates {args.rates} --step-seconds {args.step_seconds} --call-seconds {args.call_seconds}"
        + (f" --soak {args.soak}" if args.soak else "")
        + (" --skip-baseline" if args.skip_baseline else "")
        + (" --keep-going" if args.keep_going else ""),
        "",
        "Baseline: sipp UAC -> sipp UAS with -rtp_echo, same scenario and rate, no Duplex. "
        f"Pass: < {fail:.1%} of offered calls not completed, calls placed at >= {rate:.0%} of the offered rate "
        "and >= 99% of the caller's RTP echoed back. "
        "back/sent: RTP packets arriving at the caller / packets it sent (dumpcap, both directions; 1.0 = all "
        "echoed). Seq loss and jitter: tshark RTP analysis of Duplex's returned streams (per call SSRC). "
        "CPU: Duplex process (100% = one core) and the whole machine (100% = all cores, includes sipp).",
        "",
        "| CPS | step s | placed CPS | peak concurrent (base) | baseline ok/fail | Duplex ok/fail | ok ratio "
        "| back/sent base / Duplex | Duplex seq loss | jitter mean / max ms | Duplex CPU % | machine CPU % "
        "| SIP retrans | failure reasons | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.target == "duplex-single":
            lines.insert(6, _single(r))
    for r in rows:
        if r.target in ("duplex", "duplex-soak"):
            lines.append(_row(r.rate, base.get(r.rate) if r.target == "duplex" else None, r))
    best = max((r for r in rows if r.target == "duplex" and r.passed), key=lambda r: r.rate, default=None)
    lines += [
        "",
        f"Highest passing rate: {best.rate:g} CPS with a peak of {best.sipp.peak_concurrent} concurrent calls."
        if best
        else "No step passed.",
        "",
    ]
    for r in rows:
        for note in r.notes:
            lines.append(f"- {r.target} {r.rate:g} CPS: {note}")
    return "\n".join(lines) + "\n"


def _single(r: Any) -> str:
    rtp = r.rtp
    if rtp is None:
        return ""
    return (
        f"Single call first: {r.sipp.successful}/{r.attempted} ok, {r.rtp_back} of {r.rtp_sent} packets back, "
        f"seq loss {rtp.lost}, jitter mean {rtp.mean_jitter_ms:.2f} ms / max {rtp.max_jitter_ms:.2f} ms.\n"
    )
