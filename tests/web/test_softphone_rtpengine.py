"""The agent softphone in Chromium against a center with ``media_backend = "rtpengine"``: the browser's WebRTC
(ICE, DTLS-SRTP) is terminated by the real rtpengine-daemon, not by aiortc in the Duplex process.

A sipp caller (recorded speech, PCMA) calls the agent's extension, the agent answers in the page and presses
a key (a supervisor asking to listen is refused: monitoring mixes in process); the agent dials an external number and the sipp carrier behind the demo trunk echoes; the agent dials
the echo application, holds and resumes. Each time audio flows both
ways (the far end receives the browser's beep, the browser's inbound-rtp stats show packets and audio level),
the browser's ICE pair ends on one of rtpengine's ports, rtpengine's ``query`` shows the call's browser side
as DTLS-SRTP with packets, and the node's in-process WebRTC backend opened no session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_center import SipCenter, sip_center, snap
from playwright.sync_api import Browser, Page, expect
from test_softphone import (  # browser_phone: the fixture, over this module's center
    INBOUND_AUDIO,
    browser_hears,
    browser_phone,  # noqa: F401
    open_desktop,
    payload_peaks,
    rtp_payloads,
    sipp_caller,
)

from duplex.services.media.rtpengine_client import RtpengineClient
from duplex.services.media.rtpengine_webrtc import RtpengineWebRtcBackend, RtpengineWebRtcSession
from duplex.services.media.webrtc import WebRtcBackend
from interop.peers import free_even_port, free_port, rtp_capture, sipp_background
from interop.rtpengine_daemon import Rtpengine, rtpengine_running

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

# the remote side of the browser's selected ICE candidate pair: where its media goes
SELECTED_REMOTE = """async () => {
  const pc = window.duplexPeerConnection;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pairId = null;
  for (const report of stats.values()) {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pairId = report.selectedCandidatePairId;
    }
  }
  const pair = pairId ? stats.get(pairId) : null;
  const remote = pair ? stats.get(pair.remoteCandidateId) : null;
  return remote ? { address: remote.address || remote.ip, port: remote.port, pair: pair.state } : null;
}"""


# the audio transceiver receives (its negotiated direction), as after a resume's answer
RECEIVING = """() => {
  const pc = window.duplexPeerConnection;
  return !!pc && pc.getTransceivers().some((t) => t.currentDirection === "sendrecv");
}"""


@pytest.fixture(scope="module")
def rtpengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rtpengine]:
    with rtpengine_running(tmp_path_factory.mktemp("rtpengine")) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory, rtpengine: Rtpengine) -> Iterator[SipCenter]:
    """A SIP-enabled center whose media (phones' and browsers') is in ``rtpengine``; the demo trunk points at
    a free port (a sipp carrier in the test that calls out)."""
    host, port = rtpengine.ng
    settings = {
        "media_backend": "rtpengine",
        "media_rtpengine_ng": f"{host}:{port}",
        "media_rtpengine_inject_dtmf": True,
    }  # the keypad's INFO, played to the caller by rtpengine
    with sip_center(tmp_path_factory, "rtpengine-phone", carrier_port=free_port(), **settings) as running:
        yield running


def browser_legs(center: SipCenter) -> RtpengineWebRtcBackend:
    backend = center.node.switch.webrtc_media
    assert isinstance(backend, RtpengineWebRtcBackend), backend  # the default with media_backend=rtpengine
    return backend


def in_process_sessions(backend: RtpengineWebRtcBackend) -> int:
    fallback = backend.webrtc_fallback
    assert isinstance(fallback, WebRtcBackend)
    return len(fallback.sessions)


def rtpengine_side(center: SipCenter, rtpengine: Rtpengine) -> dict[str, Any]:
    """rtpengine's own view of the live browser leg (an ng ``query`` of its call): its browser side."""
    sessions = [s for s in browser_legs(center).sessions if isinstance(s, RtpengineWebRtcSession)]
    assert len(sessions) == 1, sessions

    async def query() -> dict[str, Any]:
        client = RtpengineClient(rtpengine.ng)
        try:
            return await client.query(sessions[0].call_id)
        finally:
            await client.close()

    assert center.loop is not None  # the server's loop (Playwright's runs in this thread)
    reply = asyncio.run_coroutine_threadsafe(query(), center.loop).result(10)
    media = reply["tags"]["ext"]["medias"][0]
    rtp = next(s for s in media["streams"] if "RTP" in s["flags"])
    return {"protocol": media["protocol"], "flags": media["flags"], "port": rtp["local port"],
            "packets": rtp["stats"]["packets"]}  # fmt: skip


def assert_media_in_rtpengine(page: Page, center: SipCenter, rtpengine: Rtpengine) -> None:
    remote = page.evaluate(SELECTED_REMOTE)
    print(f"browser's ICE pair ends at {remote}")
    assert remote is not None and remote["pair"] == "succeeded", remote
    assert rtpengine.port_min <= remote["port"] <= rtpengine.port_max, (remote, rtpengine)  # rtpengine's port
    side = rtpengine_side(center, rtpengine)
    print(f"rtpengine's browser side: {side}")
    assert remote["port"] == side["port"], (remote, side)  # the very port of this call's browser side
    assert side["protocol"] == "UDP/TLS/RTP/SAVPF" and "DTLS-SRTP" in side["flags"], side
    assert side["packets"] > 50, side  # rtpengine decrypted the browser's SRTP itself
    assert in_process_sessions(browser_legs(center)) == 0  # and aiortc had no part in it


def test_the_agent_answers_a_caller_and_rtpengine_carries_the_browsers_media(
    browser: Browser, center: SipCenter, page: Page, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        with sipp_caller(tmp_path, f"127.0.0.1:{center.sip_port}", "2001", media):
            answer = page.locator("#phone-answer")
            expect(answer).to_be_enabled(timeout=15_000)
            answer.click()
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "talking")
            stats, level = browser_hears(page)  # the caller's speech, relayed and encrypted by rtpengine
            snap(page, center, "softphone-rtpengine-talking")
            assert stats is not None and stats["packets"] > 50, stats
            assert stats["energy"] > 0 and level > 0, (stats, level)
            assert_media_in_rtpengine(page, center, rtpengine)
            refused = supervisor_monitors(
                center, page.locator("#softphone-call").get_attribute("data-call-id")
            )
            assert refused.status_code == 409 and "rtpengine" in refused.json()["detail"], refused.text
            page.locator(".dtmf-pad button[data-digit='5']").click()  # SIP INFO; rtpengine plays it
            page.wait_for_timeout(1000)  # a second more of the browser's beep toward the caller
            page.locator("#phone-hangup").click()
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "idle")
    peaks = payload_peaks(pcap, media)
    print(f"browser inbound-rtp: {stats}; caller received {len(peaks)} packets, peak {max(peaks, default=0)}")
    assert len(peaks) > 50, f"{len(peaks)} RTP packets reached the caller"
    assert max(peaks) > 500, max(peaks)  # the fake microphone's beep, through rtpengine to the caller
    events = {payload[:2] for pt, payload in rtp_payloads(pcap, media) if pt == "101" and payload}
    assert events == {"05"}, events  # the keypad's 5 reached the caller as telephone-events
    deadline = time.monotonic() + 10
    while browser_legs(center).sessions and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not browser_legs(center).sessions  # the hangup deleted the browser leg's rtpengine call


def supervisor_monitors(center: SipCenter, call_id: str | None) -> httpx.Response:
    """The demo supervisor (who has a phone) asks to listen to the call: mixing needs the legs' audio in the
    Duplex process, so a call whose media is in rtpengine is refused, browser legs included."""
    assert call_id
    return center.client("supervisor").post(f"/calls/{call_id}/monitor", json={"mode": "listen"})


@pytest.mark.usefixtures("browser_phone")
def test_the_agent_dials_out_and_rtpengine_answers_the_browsers_offer(
    browser: Browser, center: SipCenter, page: Page, rtpengine: Rtpengine, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        with sipp_background(tmp_path, "uas_answer.xml", local_port=center.carrier_port, media_port=media,
                             calls=1, extra=["-rtp_echo"]):  # fmt: skip
            page.get_by_label("Number to call").fill("+442071234567")
            page.locator("#phone-call").click()
            info = page.locator("#softphone-call")
            expect(info).to_have_attribute("data-state", "talking")
            stats, level = browser_hears(page)  # the carrier echoes the browser's beep back
            assert_media_in_rtpengine(page, center, rtpengine)
            page.wait_for_timeout(1000)  # a second more of the browser's audio toward the carrier
            page.locator("#phone-hangup").click()
            expect(info).to_have_attribute("data-state", "idle")
            page.wait_for_timeout(500)
    peaks = payload_peaks(pcap, media)
    print(f"carrier received {len(peaks)} packets, peak {max(peaks, default=0)}; browser {stats}, {level}")
    assert len(peaks) > 50, f"{len(peaks)} RTP packets reached the carrier"
    assert max(peaks) > 500, max(peaks)  # the fake microphone's beep, from the browser to the carrier
    assert stats is not None and stats["packets"] > 50 and level > 0, (stats, level)  # and back


@pytest.mark.usefixtures("browser_phone")
def test_the_echo_application_hears_the_browser_through_rtpengine(
    browser: Browser, center: SipCenter, page: Page, rtpengine: Rtpengine
) -> None:
    """An application that needs the audio in Python (1001 beeps, then echoes): rtpengine still terminates
    the browser's WebRTC, its inside faces the in-process endpoint the application plays and listens on."""
    open_desktop(page, center)
    page.get_by_label("Number to call").fill("1001")
    page.locator("#phone-call").click()
    info = page.locator("#softphone-call")
    expect(info).to_have_attribute("data-state", "talking")
    stats, level = browser_hears(page)  # the echo's beep, then the fake microphone echoed
    print(f"browser inbound-rtp on the call to 1001: {stats}, loudest {level}")
    assert stats is not None and stats["packets"] > 50, stats
    assert stats["energy"] > 0 and level > 0, (stats, level)
    assert_media_in_rtpengine(page, center, rtpengine)
    hold = page.locator("#phone-hold")
    hold.click()  # a re-INVITE from the browser, answered with rtpengine's SDP (direction mirrored)
    expect(hold).to_have_text("Resume")
    hold.click()
    expect(hold).to_have_text("Hold")
    arrived, level = packets_in_a_second(page)
    assert arrived > 25 and level > 0, (arrived, level)  # the echo again, on the same ICE and DTLS session
    assert not page.locator("#softphone-error").text_content()
    page.locator("#phone-hangup").click()
    expect(info).to_have_attribute("data-state", "idle")


def packets_in_a_second(page: Page) -> tuple[int, float]:
    """Once the browser receives audio again (after a resume's offer and answer), the packets it receives in
    one second and the loudest level it shows meanwhile."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and page.evaluate(RECEIVING) is not True:
        page.wait_for_timeout(100)
    first = page.evaluate(INBOUND_AUDIO)
    level = 0.0
    for _ in range(10):
        page.wait_for_timeout(100)
        stats = page.evaluate(INBOUND_AUDIO)
        level = max(level, stats["level"] if stats else 0.0)
    last = page.evaluate(INBOUND_AUDIO)
    assert first is not None and last is not None, (first, last)
    return last["packets"] - first["packets"], level
