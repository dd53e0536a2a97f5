"""Interop: Wireshark's RTP/RTCP dissectors judge what RtpEndpoint puts on the wire."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from duplex.media.tones import tone
from duplex.services.media.endpoint import RtpEndpoint

pytestmark = pytest.mark.interop


async def test_tshark_sees_a_clean_rtp_stream_and_valid_rtcp(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark is not None
    a = await RtpEndpoint.open(port_range=(43000, 43999))
    b = await RtpEndpoint.open(port_range=(43000, 43999))
    a.stream.rtcp_interval = 0.4  # several compound RTCP reports within the capture
    pa = a.local_address[1]
    pcap = tmp_path / "rtp.pcap"
    cap = subprocess.Popen(
        [tshark, "-i", "lo", "-q", "-w", str(pcap), "-f", f"udp and (port {pa} or port {pa + 1})"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert cap.stderr is not None
        await asyncio.get_running_loop().run_in_executor(
            None, cap.stderr.readline
        )  # "Capturing on 'Loopback'"
        a.set_remote(b.local_address)
        b.set_remote(a.local_address)
        await a.play_pcm(tone((1000.0,), 1500))
        a.send_dtmf("5")
        await asyncio.sleep(0.5)
    finally:
        await a.close()
        await b.close()
        # dumpcap reads the kernel buffer in batches: give the BYE time to reach the file, then stop it
        # with SIGINT (a clean stop that writes what was captured) rather than SIGTERM.
        await asyncio.sleep(1.0)
        cap.send_signal(signal.SIGINT)
        cap.wait(timeout=60)  # tshark writes and exits within a second here, but a busy machine delays it
    decode = ["-d", f"udp.port=={pa},rtp", "-d", f"udp.port=={pa + 1},rtcp", "-o", "rtp.heuristic_rtp:FALSE"]
    streams = subprocess.run([tshark, "-r", str(pcap), *decode, "-q", "-z", "rtp,streams"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    rows = [ln for ln in streams.splitlines() if "g711U" in ln]
    assert len(rows) == 2, streams  # both directions
    assert any("rtpevent" in row for row in rows), streams
    for row in rows:  # columns: ... Payload Pkts Lost ... Problems?
        assert " 0 (0.0%)" in row, streams
        assert not row.rstrip().endswith("X"), streams  # wrong sequence / timestamp problems
    fields = subprocess.run(
        [tshark, "-r", str(pcap), *decode, "-Y", "rtcp or rtpevent", "-T", "fields", "-e", "rtcp.pt",
         "-e", "rtpevent.event_id", "-e", "_ws.expert.severity"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "200" in fields and "202" in fields  # SR and SDES parsed as such
    assert "203" in fields  # BYE on close
    assert any(line.split("\t")[1:2] == ["5"] for line in fields.splitlines())  # RFC 4733 digit 5
