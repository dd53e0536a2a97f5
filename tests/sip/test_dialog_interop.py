"""The UA core against a real peer (sipp built-in ``uac``/``uas`` scenarios) over UDP on 127.0.0.1.

The test itself is the I/O shell: one socket, ``select`` with ``get_timer()`` as the timeout, and
``time.monotonic()`` as ``now`` - the same contract the asyncio shell follows.
"""

from __future__ import annotations

import random
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ua_core import UserAgentCore

from duplex.sip.events import DialogEstablished, DialogTerminated, Event, RequestReceived
from duplex.sip.timers import TimerConfig
from duplex.sip.uri import NameAddr, SipUri

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed"),
]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(
    sock: socket.socket,
    ua: UserAgentCore,
    proc: subprocess.Popen[bytes],
    on_event: Callable[[Event, float], None],
    deadline: float,
) -> list[Event]:
    seen: list[Event] = []
    while proc.poll() is None and time.monotonic() < deadline:
        for data, addr in ua.datagrams_to_send():
            sock.sendto(data, addr)
        timer = ua.get_timer()
        wait = 0.05 if timer is None else max(0.0, min(0.05, timer - time.monotonic()))
        if select.select([sock], [], [], wait)[0]:
            data, addr = sock.recvfrom(65535)
            ua.receive_data(data, (addr[0], addr[1]), time.monotonic())
        ua.handle_timer(time.monotonic())
        for event in ua.events():
            seen.append(event)
            on_event(event, time.monotonic())
    for data, addr in ua.datagrams_to_send():
        sock.sendto(data, addr)
    return seen


def _ua(port: int) -> UserAgentCore:
    return UserAgentCore(
        local_uri=NameAddr(SipUri(user="duplex", host="127.0.0.1")),
        contact=NameAddr(SipUri(user="duplex", host="127.0.0.1", port=port)),
        sent_by=("127.0.0.1", port),
        rng=random.Random(11),
        timers=TimerConfig(t1=0.5),
    )


def _sipp(tmp_path: Path, scenario: str, sipp_port: int, target: str) -> subprocess.Popen[bytes]:
    cmd = ["sipp", "-sn", scenario, "-i", "127.0.0.1", "-p", str(sipp_port), "-m", "1", "-nostdin"]
    cmd += ["-timeout", "20", "-timeout_error", "-d", "200"]
    if target:
        cmd.append(target)
    return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sipp_uac_calls_our_uas(tmp_path: Path) -> None:
    """RFC 3261 §13.3 against sipp ``uac``: INVITE, our 180 and 200 (Contact, To tag), sipp's ACK confirms
    the dialog, sipp's BYE gets our 200 (§15.1.2) - sipp exits 0 only if every step matched."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        ua = _ua(port)

        def answer(event: Event, now: float) -> None:
            if isinstance(event, RequestReceived) and event.request.method == "INVITE":
                ua.respond(event.key, 180, now)
                ua.respond(
                    event.key, 200, now, body=b"v=0\r\n", headers=[("Content-Type", "application/sdp")]
                )

        proc = _sipp(tmp_path, "uac", _free_udp_port(), f"127.0.0.1:{port}")
        try:
            seen = _run(sock, ua, proc, answer, time.monotonic() + 25)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [type(e) for e in seen if isinstance(e, DialogEstablished | DialogTerminated)] == [
        DialogEstablished,
        DialogEstablished,
        DialogTerminated,
    ]


def test_our_uac_calls_sipp_uas(tmp_path: Path) -> None:
    """RFC 3261 §13.2 against sipp ``uas``: our INVITE gets 180/200, the UAC core ACKs the 2xx
    (§13.2.2.4), then our BYE gets sipp's 200 and the dialog ends."""
    sipp_port = _free_udp_port()
    proc = _sipp(tmp_path, "uas", sipp_port, "")
    time.sleep(0.3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        ua = _ua(port)

        def hang_up(event: Event, now: float) -> None:
            if isinstance(event, DialogEstablished) and not event.early:
                ua.bye(event.dialog_id, now)

        target = SipUri(user="service", host="127.0.0.1", port=sipp_port)
        ua.invite(target, ("127.0.0.1", sipp_port), time.monotonic(), body=b"v=0\r\n",
                  headers=[("Content-Type", "application/sdp")])  # fmt: skip
        try:
            seen = _run(sock, ua, proc, hang_up, time.monotonic() + 25)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    terminated = [e for e in seen if isinstance(e, DialogTerminated)]
    assert len(terminated) == 1 and terminated[0].reason == "200 to BYE"
