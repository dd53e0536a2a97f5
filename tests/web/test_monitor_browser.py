"""A supervisor in Chromium listens to a live call, then barges in: a sipp caller (recorded speech) calls alice,
whose phone is a baresip answering with a 1100 Hz tone; the demo supervisor (the demo seed gives them a phone:
an agent row) signs in and opens the wallboard, whose softphone registers over SIP/WebSocket with nothing
arranged, and clicks Listen on alice's row. The server rings the browser, which answers by itself; the browser
receives the call's audio (WebRTC inbound-rtp), and the caller receives alice's tone only. After Barge the
caller also receives the supervisor's microphone (Chromium's fake capture fed a 1700 Hz tone), measured at the
caller's RTP port. Stop leaves the call up.

This module runs its own center with the SIP engine (UDP and WebSocket on free ports) in the server's loop.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_center import SipCenter, sign_in, sip_center, snap
from playwright.sync_api import Browser, Page, Playwright, expect

from duplex.media.codecs import get_codec
from duplex.media.wav import WavWriter
from interop.peers import Baresip, free_even_port, free_port, rtp_capture, sipp_command, sipp_running

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
AGENT_HZ, SUPERVISOR_HZ = 1100.0, 1700.0


def tone_wav(path: Path, freq: float, rate: int, seconds: float = 60.0) -> Path:
    n = np.arange(int(seconds * rate))
    with WavWriter(path, rate=rate) as wav:
        wav.write((6000 * np.sin(2 * np.pi * freq * n / rate)).astype(np.int16))
    return path


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipCenter]:
    with sip_center(tmp_path_factory, "monitor") as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium whose fake microphone plays a 1700 Hz tone (the supervisor's voice, told apart by pitch)."""
    wav = tone_wav(tmp_path_factory.mktemp("fake-mic") / "supervisor.wav", SUPERVISOR_HZ, rate=48000)
    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                         args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"])  # fmt: skip
    yield browser
    browser.close()


def received(pcap: Path, port: int) -> list[tuple[float, np.ndarray]]:
    """(arrival time, decoded PCM) of each G.711 RTP packet that arrived at ``port``."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={port},rtp", "-Y",
                          f"rtp && udp.dstport == {port}", "-T", "fields", "-e", "frame.time_epoch", "-e",
                          "rtp.p_type", "-e", "rtp.payload"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    packets = []
    for line in out.splitlines():
        at, pt, payload = (line.split("\t") + ["", ""])[:3]
        if pt in ("0", "8") and payload:
            pcm = get_codec("PCMU" if pt == "0" else "PCMA").decode(bytes.fromhex(payload.replace(":", "")))
            packets.append((float(at), pcm))
    return packets


def level(packets: list[tuple[float, np.ndarray]], start: float, end: float, freq: float) -> float:
    pcm = np.concatenate([p for at, p in packets if start <= at < end] or [np.zeros(0, dtype=np.int16)])
    assert len(pcm) >= 8000, f"only {len(pcm)} samples reached the caller in [{start}, {end})"
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64))) / len(pcm)
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    return float(spectrum[np.abs(freqs - freq) < 15].max())


INBOUND_AUDIO = """async () => {
  const pc = window.duplexPeerConnection;
  if (!pc) return null;
  for (const report of (await pc.getStats()).values()) {
    if (report.type === "inbound-rtp" && report.kind === "audio") {
      return { packets: report.packetsReceived, energy: report.totalAudioEnergy || 0 };
    }
  }
  return null;
}"""


@contextlib.contextmanager
def alice_phone(center: SipCenter, tmp: Path) -> Iterator[Baresip]:
    wav = tone_wav(tmp / "alice.wav", AGENT_HZ, rate=8000)
    alice = next(a for a in center.credentials["agents"] if a["username"] == "alice")
    phone = Baresip(tmp, user="alice", password=alice["sip_password"], registrar=f"127.0.0.1:{center.sip_port}",
                    tone_wav=wav)  # fmt: skip
    phone.start()
    try:
        deadline = time.monotonic() + 10
        while not center.registered("alice"):
            assert time.monotonic() < deadline, phone.log()[-1500:]
            time.sleep(0.1)
        yield phone
    finally:
        phone.stop()


@contextlib.contextmanager
def sipp_caller(tmp: Path, center: SipCenter, media_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Calls alice's extension, plays recorded speech, hangs up after 30 s (or when killed)."""
    cmd = sipp_command("uac_pcap.xml", f"127.0.0.1:{center.sip_port}", local_port=free_port(),
                       media_port=media_port, service="2001", duration_ms=30_000)  # fmt: skip
    with sipp_running(tmp, cmd, "sipp-caller.log") as proc:
        yield proc


def test_the_supervisor_listens_then_barges_from_the_wallboard(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    admin = center.client("admin")  # the demo supervisor has a phone: nothing to arrange
    alice_id = next(a["id"] for a in admin.get("/agents", params={"limit": 500}).json()["items"]
                    if a["sip_username"] == "alice")  # fmt: skip
    sign_in(page, center, "supervisor")
    page.locator("#nav").get_by_role("link", name="Wallboard", exact=True).click()
    expect(page.locator("#softphone-registration")).to_have_attribute("data-state", "registered")
    media = free_even_port()
    marks: dict[str, float] = {}
    with alice_phone(center, tmp_path), rtp_capture(tmp_path, media) as pcap:
        with sipp_caller(tmp_path, center, media):
            row = page.locator(f"tr[data-agent='{alice_id}']")
            expect(row.locator("button[data-monitor='listen']")).to_be_visible(timeout=15_000)
            row.locator("button[data-monitor='listen']").click()
            status = page.locator("#monitor-status")
            expect(status).to_have_attribute("data-state", "active", timeout=15_000)
            expect(status).to_have_attribute("data-mode", "listen")
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "talking")
            marks["listen"] = time.time()
            stats: dict[str, Any] | None = None
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # the call's audio reaches the supervisor's browser
                stats = page.evaluate(INBOUND_AUDIO)
                if stats and stats["packets"] > 100 and stats["energy"] > 0:
                    break
                page.wait_for_timeout(250)
            assert stats is not None and stats["packets"] > 100 and stats["energy"] > 0, stats
            page.wait_for_timeout(max(0, int((marks["listen"] + 4 - time.time()) * 1000)))
            snap(page, center, "monitor-listening")
            row.locator("button[data-monitor='barge']").click()
            expect(status).to_have_attribute("data-mode", "barge")
            expect(row.locator("button[data-monitor='barge']")).to_have_attribute("aria-pressed", "true")
            marks["barge"] = time.time()
            page.wait_for_timeout(4000)
            marks["stop"] = time.time()
            row.locator("button[data-monitor='stop']").click()
            expect(status).to_have_attribute("data-state", "ended")
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "idle")
            snap(page, center, "monitor-stopped")
            live = admin.get("/calls", params={"agent_id": alice_id, "state": "answered"}).json()["items"]
            call_id = live[0]["id"]
    got = received(pcap, media)
    listen = {
        f: level(got, marks["listen"] + 0.5, marks["barge"] - 0.2, f) for f in (AGENT_HZ, SUPERVISOR_HZ)
    }
    barge = {f: level(got, marks["barge"] + 0.8, marks["stop"] - 0.2, f) for f in (AGENT_HZ, SUPERVISOR_HZ)}
    print(f"caller received: listening {listen}, barging {barge}")
    assert listen[AGENT_HZ] > 400 and barge[AGENT_HZ] > 400  # alice throughout
    # the browser's own audio processing (echo cancellation, gain control) takes the steady tone down to
    # a tenth or so; still two orders of magnitude above what a listening supervisor lets through
    assert listen[SUPERVISOR_HZ] < 20, listen  # a listening supervisor is not heard
    assert barge[SUPERVISOR_HZ] > 100, barge  # the barging supervisor's voice reached the caller
    audit = admin.get("/audit-log", params={"target_id": call_id, "limit": 50}).json()["items"]
    assert sorted(row["action"] for row in audit) == [
        "call.monitor",
        "call.monitor_mode",
        "call.monitor_stop",
    ]
    legs = admin.get(f"/calls/{call_id}").json()["legs"]
    assert [leg["kind"] for leg in legs].count("monitor") == 1, legs
