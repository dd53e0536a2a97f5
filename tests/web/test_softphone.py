"""The agent softphone in Chromium with real audio: the agent signs in, JsSIP registers over SIP/WebSocket, a
sipp caller (playing recorded speech as PCMA RTP) calls the agent's extension, the agent answers in the page;
the caller receives non-silent RTP (tshark at the caller's media port) and the browser receives the caller's
audio (WebRTC inbound-rtp stats: packets and audio level). Closing the page mid-call ends the call.

This module runs its own center with the SIP engine (UDP and WebSocket on free ports) in the server's loop.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_center import LiveCenter, SipCenter, sign_in, sip_center, snap
from playwright.sync_api import Browser, Locator, Page, expect

from duplex.media.codecs import get_codec
from interop.peers import free_even_port, free_port, rtp_capture, sipp_background, sipp_command, sipp_running

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

CONTACT = "+40721000001"  # a number the agent dials: a demo lead's ("Ana"), made a CRM contact's by a test


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipCenter]:
    """The SIP-enabled center, its demo trunk pointing at a free port (a sipp carrier in the tests that need
    one)."""
    with sip_center(tmp_path_factory, "softphone", carrier_port=free_port()) as running:
        yield running


CONSULTED = "+442071234567"  # the number the agent consults: the sipp carrier behind the demo trunk


@dataclass
class Consulting:
    info: Locator  # the caller's call on the softphone
    consult: Locator  # the consultation's panel
    call_id: str  # the caller's call
    caller: subprocess.Popen[bytes]


@contextlib.contextmanager
def consulting(page: Page, center: SipCenter, tmp_path: Path, *, carrier_media: int | None = None,
               caller_ms: int = 15_000, shortcut: bool = False) -> Iterator[Consulting]:  # fmt: skip
    """A sipp caller (``caller_ms`` of speech, then a hang-up) rings the agent's 2001, the agent answers in the
    page and consults CONSULTED (the Consult button, or Alt+C with ``shortcut``): a sipp carrier that echoes,
    its media on ``carrier_media``. While the block runs the demo trunk takes the browser's calls as an agent
    phone's (see `SipCenter.carrier_ips`)."""
    media = carrier_media or free_even_port()
    with sipp_background(tmp_path, "uas_answer.xml", local_port=center.carrier_port, media_port=media, calls=1,
                         extra=["-rtp_echo"]):  # fmt: skip
        with sipp_caller(
            tmp_path, f"127.0.0.1:{center.sip_port}", "2001", free_even_port(), caller_ms
        ) as caller:
            expect(page.locator("#phone-answer")).to_be_enabled(timeout=15_000)
            page.locator("#phone-answer").click()
            info = page.locator("#softphone-call")
            expect(info).to_have_attribute("data-state", "talking")
            call_id = info.get_attribute("data-call-id")
            assert call_id
            center.carrier_ips([])  # the consultation is an agent phone's call, not the carrier's
            try:
                page.get_by_label("Transfer to").fill(CONSULTED)
                if shortcut:
                    page.keyboard.press("Alt+c")
                else:
                    page.locator(
                        "#phone-consult"
                    ).click()  # holds the caller, calls the target through the trunk
                consult = page.locator("#softphone-consult")
                expect(consult).to_have_attribute("data-state", "talking")
                yield Consulting(info, consult, call_id, caller)
            finally:
                center.carrier_ips(["127.0.0.1"])


def rtp_payloads(pcap: Path, port: int, after: float = 0.0) -> list[tuple[str, str]]:
    """(payload type, hex payload) of each RTP packet that arrived at ``port`` (after the epoch time ``after``)."""
    wanted = f"udp.dstport=={port} && frame.time_epoch > {after:.3f}"
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={port},rtp", "-Y", wanted,
                          "-T", "fields", "-e", "rtp.p_type", "-e", "rtp.payload"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [
        (pt, payload.replace(":", ""))
        for pt, _, payload in (line.partition("\t") for line in out.splitlines())
    ]


def payload_times(pcap: Path, port: int) -> list[tuple[float, int]]:
    """(arrival epoch time, peak sample) of each G.711 RTP payload that arrived at ``port``."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={port},rtp", "-Y", f"udp.dstport=={port}",
                          "-T", "fields", "-e", "frame.time_epoch", "-e", "rtp.p_type", "-e", "rtp.payload"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    peaks = []
    for line in out.splitlines():
        at, pt, payload = (line.split("\t") + ["", ""])[:3]
        if pt in ("0", "8") and payload:
            pcm = get_codec("PCMU" if pt == "0" else "PCMA").decode(bytes.fromhex(payload.replace(":", "")))
            peaks.append((float(at), int(np.abs(pcm.astype(np.int32)).max(initial=0))))
    return peaks


def payload_peaks(pcap: Path, port: int, after: float = 0.0) -> list[int]:
    """The peak sample of each G.711 RTP payload that arrived at ``port`` (after the epoch time ``after``)."""
    peaks = []
    for pt, payload in rtp_payloads(pcap, port, after):
        if pt in ("0", "8") and payload:
            pcm = get_codec("PCMU" if pt == "0" else "PCMA").decode(bytes.fromhex(payload))
            peaks.append(int(np.abs(pcm.astype(np.int32)).max(initial=0)))
    return peaks


INBOUND_AUDIO = """async () => {
  const pc = window.duplexPeerConnection;
  if (!pc) return null;
  const stats = await pc.getStats();
  for (const report of stats.values()) {
    if (report.type === "inbound-rtp" && report.kind === "audio") {
      return { packets: report.packetsReceived, level: report.audioLevel || 0, energy: report.totalAudioEnergy || 0 };
    }
  }
  return null;
}"""


@contextlib.contextmanager
def sipp_caller(
    tmp: Path, target: str, number: str, media_port: int, duration_ms: int = 8000
) -> Iterator[subprocess.Popen[bytes]]:
    """A caller that dials ``number``, plays recorded speech (PCMA, 7 s) once answered, and hangs up after
    ``duration_ms``."""
    cmd = sipp_command("uac_pcap.xml", target, local_port=free_port(), media_port=media_port, service=number,
                       duration_ms=duration_ms)  # fmt: skip
    with sipp_running(tmp, cmd, "sipp-caller.log") as proc:
        yield proc


def open_desktop(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "alice")
    page.locator("#nav").get_by_role("link", name="Agent desktop", exact=True).click()
    expect(page.locator("#softphone-registration")).to_have_attribute("data-state", "registered")


def test_the_agent_answers_in_the_browser_and_audio_flows_both_ways(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    snap(page, center, "softphone-registered")
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        with sipp_caller(tmp_path, f"127.0.0.1:{center.sip_port}", "2001", media):
            answer = page.locator("#phone-answer")
            expect(answer).to_be_enabled(timeout=15_000)
            expect(page.locator("#softphone-call")).to_contain_text("caller")
            snap(page, center, "softphone-ringing")
            answer.click()
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "talking")
            stats, level = browser_hears(page)  # the browser's inbound-rtp report, the loudest level seen
            snap(page, center, "softphone-talking")
            assert stats is not None and stats["packets"] > 50, stats
            assert stats["energy"] > 0 and level > 0, (stats, level)  # the caller's speech, not silence
            page.locator(".dtmf-pad button[data-digit='5']").click()  # SIP INFO, relayed as RFC 4733
            page.wait_for_timeout(1500)
            page.locator("#phone-hangup").click()
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "idle")
    peaks = payload_peaks(pcap, media)
    print(f"browser inbound-rtp: {stats}; caller received {len(peaks)} packets, peak {max(peaks, default=0)}")
    assert len(peaks) > 50, f"{len(peaks)} RTP packets reached the caller"
    assert max(peaks) > 500, max(peaks)  # the fake microphone's beep, through WebRTC to the caller
    events = {payload[:2] for pt, payload in rtp_payloads(pcap, media) if pt == "101" and payload}
    assert events == {"05"}, events  # the keypad's 5 reached the caller as telephone-events


def test_hold_mute_keypad_then_the_browser_closes_mid_call_and_the_call_ends(
    browser: Browser, center: SipCenter, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=center.base_url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_desktop(page, center)
        with sipp_caller(tmp_path, f"127.0.0.1:{center.sip_port}", "2001", free_even_port()):
            expect(page.locator("#phone-answer")).to_be_enabled(timeout=15_000)
            page.keyboard.press("Alt+Enter")  # the answer shortcut
            info = page.locator("#softphone-call")
            expect(info).to_have_attribute("data-state", "talking")
            call_id = info.get_attribute("data-call-id")
            assert call_id
            page.locator("#phone-mute").click()
            expect(page.locator("#phone-mute")).to_have_text("Unmute")
            page.locator(".dtmf-pad button[data-digit='5']").click()
            page.locator("#phone-hold").click()  # a re-INVITE from the browser, answered by Duplex
            expect(page.locator("#phone-hold")).to_have_text("Resume")
            page.locator("#phone-hold").click()
            expect(page.locator("#phone-hold")).to_have_text("Hold")
            snap(page, center, "softphone-after-hold")
            assert not page.locator("#softphone-error").text_content()
            context.close()  # the agent's browser goes away mid-call
            api = center.client("admin")
            call: dict[str, Any] = {}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                call = api.get(f"/calls/{call_id}").json()
                if call.get("ended_at"):
                    break
                time.sleep(0.25)
    finally:
        context.close()
    assert not errors, errors
    assert call.get("ended_at"), call
    agent_leg = next(leg for leg in call["legs"] if leg["kind"] == "agent")
    assert agent_leg["end_reason"] == "peer_vanished", call["legs"]
    assert all(leg["ended_at"] for leg in call["legs"]), call["legs"]  # the caller was hung up too


def browser_hears(page: Page) -> tuple[dict[str, Any] | None, float]:
    """The browser's inbound-rtp report once it shows audio (or after 15 s), and the loudest level seen."""
    stats: dict[str, Any] | None = None
    level = 0.0  # speech and beeps have pauses
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        stats = page.evaluate(INBOUND_AUDIO)
        level = max(level, stats["level"] if stats else 0.0)
        if stats and stats["packets"] > 50 and stats["energy"] > 0 and level > 0:
            break
        page.wait_for_timeout(250)
    return stats, level


@pytest.fixture
def browser_phone(center: SipCenter) -> Iterator[None]:
    """The browser is an agent phone here, not the carrier (see `SipCenter.carrier_ips`)."""
    center.carrier_ips([])
    yield
    center.carrier_ips(["127.0.0.1"])


@pytest.mark.usefixtures("browser_phone")
def test_the_agent_dials_the_echo_number_from_the_browser_and_hears_it(
    browser: Browser, center: SipCenter, page: Page
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    number = page.get_by_label("Number to call")
    number.fill("12 ab!")  # not a number: said next to the box, nothing dialled
    page.locator("#phone-call").click()
    expect(page.locator("#dial-error")).to_have_text("Enter a number or extension (digits, +, * or #).")
    number.fill("1001")
    expect(page.locator("#dial-error")).to_be_empty()  # typing again clears the error
    snap(page, center, "softphone-dial")
    number.press("Enter")  # Enter dials
    info = page.locator("#softphone-call")
    expect(info).to_have_attribute("data-state", "talking")
    expect(page.locator("#phone-call")).to_be_disabled()  # one call at a time
    stats, level = browser_hears(page)  # the echo application's beep, then the fake microphone echoed
    print(f"browser inbound-rtp on the call to 1001: {stats}, loudest {level}")
    assert stats is not None and stats["packets"] > 50, stats
    assert stats["energy"] > 0 and level > 0, (stats, level)
    page.locator("#phone-hangup").click()
    expect(info).to_have_attribute("data-state", "idle")
    expect(page.locator("#phone-call")).to_be_enabled()
    assert not page.locator("#dial-error").text_content()
    calls = center.client("admin").get("/calls", params={"limit": 500}).json()["items"]
    echo = next(c for c in calls if c["to_number"] == "1001")
    # the center's own numbers take calls without credentials (from a desk phone too): no challenge
    assert echo["from_number"] == "alice" and echo["answered_at"] and echo["ended_at"], echo
    assert len(echo["legs"]) == 1 and echo["legs"][0]["end_reason"] == "remote_bye", echo["legs"]


@pytest.mark.usefixtures("browser_phone")
def test_the_agent_dials_a_contact_through_the_trunk_sees_their_pop_and_the_callee_hears_the_browser(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    """The number dialled is a CRM contact's and a demo lead's ("Ana"): Duplex tells the browser the call's
    id in its answer, so the screen pop shows the callee, and a note written in it lands on the call."""
    page.on("console", lambda message: print("browser:", message.text))
    api = center.client("admin")
    contact = api.post("/contacts", json={"name": "Ana Ionescu", "company": "Solar SRL", "phones": [CONTACT]})
    assert contact.status_code == 201, contact.text
    open_desktop(page, center)
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        with sipp_background(tmp_path, "uas_answer.xml", local_port=center.carrier_port, media_port=media,
                             calls=1, extra=["-rtp_echo"]):  # fmt: skip
            page.get_by_label("Number to call").fill(CONTACT)
            page.locator("#phone-call").click()
            info = page.locator("#softphone-call")
            expect(info).to_contain_text(CONTACT)
            expect(info).to_have_attribute("data-state", "talking")
            pop = page.locator("#screen-pop")
            expect(pop).to_have_attribute("data-call-id", info.get_attribute("data-call-id") or "unknown")
            expect(pop.locator("#pop-caller")).to_have_text(CONTACT)
            expect(pop).to_contain_text("Callee")
            expect(pop.locator("#pop-crm .pop-contact")).to_contain_text("Ana Ionescu · Solar SRL")
            expect(pop.locator("#pop-crm .pop-lead")).to_contain_text("Ana")  # the demo lead with that number
            pop.locator("#pop-note").press_sequentially(
                "Send the brochure, call back at 5"
            )  # typed: keydowns
            pop.locator("#pop-note-save").click()
            expect(pop.locator("#pop-call-notes")).to_contain_text("Send the brochure, call back at 5")
            snap(page, center, "softphone-dialled-pop", of=pop)
            stats, level = browser_hears(page)  # the carrier echoes the browser's beep back
            page.wait_for_timeout(1000)  # a second more of the browser's audio toward the carrier
            page.locator("#phone-hangup").click()
            expect(info).to_have_attribute("data-state", "idle")
            page.wait_for_timeout(500)
    peaks = payload_peaks(pcap, media)
    print(f"carrier received {len(peaks)} packets, peak {max(peaks, default=0)}; browser {stats}, {level}")
    assert len(peaks) > 50, f"{len(peaks)} RTP packets reached the carrier"
    assert max(peaks) > 500, max(peaks)  # the fake microphone's beep, from the browser to the carrier
    assert stats is not None and stats["packets"] > 50 and level > 0, (stats, level)  # and back
    call_id = page.locator("#screen-pop").get_attribute("data-call-id")
    call = api.get(f"/calls/{call_id}").json()
    assert (call["direction"], call["to_number"]) == ("internal", CONTACT), call
    notes = api.get(f"/calls/{call_id}/notes").json()
    assert [n["text"] for n in notes] == ["Send the brochure, call back at 5"]
    tones = api.get("/events", params={"call_id": call_id, "types": "dtmf.received"}).json()["items"]
    assert tones == []  # the 5 typed into the note was no keypad tone


def test_attended_transfer_from_the_browser_joins_the_caller_to_the_consulted_party(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    carrier_media = free_even_port()
    api = center.client("admin")
    with rtp_capture(tmp_path, carrier_media) as pcap:
        with consulting(page, center, tmp_path, carrier_media=carrier_media) as c:
            info, consult, call_id = c.info, c.consult, c.call_id
            expect(page.locator("#phone-hold")).to_have_text("Resume")
            expect(consult).to_contain_text(CONSULTED)
            snap(page, center, "softphone-consult")
            page.locator("#phone-complete").click()  # REFER with Replaces on the caller's call
            expect(info).to_have_attribute("data-state", "idle")  # Duplex hung up both of the agent's calls
            expect(consult).to_have_attribute("data-state", "idle")
            joined = time.time()
            call: dict[str, Any] = {}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                call = api.get(f"/calls/{call_id}").json()
                if any(leg["trunk_id"] is not None and not leg["ended_at"] for leg in call["legs"]):
                    break
                time.sleep(0.25)
            page.wait_for_timeout(1500)  # the caller's speech, now relayed to the consulted party
    assert not page.locator("#softphone-error").text_content()
    legs = call["legs"]
    assert any(leg["trunk_id"] is not None and not leg["ended_at"] for leg in legs), legs  # moved in
    agent_leg = next(leg for leg in legs if leg["kind"] == "agent")
    assert agent_leg["end_reason"] == "transferred", legs
    caller_leg = next(leg for leg in legs if leg["kind"] == "caller")
    assert not caller_leg["ended_at"], legs  # the caller stayed on, with the consulted party
    peaks = payload_peaks(pcap, carrier_media, after=joined)
    print(
        f"after the transfer the consulted party received {len(peaks)} packets, peak {max(peaks, default=0)}"
    )
    assert len(peaks) > 25, len(peaks)
    assert max(peaks) > 500, max(peaks)  # the caller's speech (the browser's calls had ended)


def test_ending_a_consultation_leaves_the_caller_on_hold_to_resume(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    open_desktop(page, center)
    api = center.client("admin")
    with consulting(page, center, tmp_path, shortcut=True) as c:  # Alt+C: the consult shortcut
        info, consult, call_id = c.info, c.consult, c.call_id
        page.locator("#phone-consult-end").click()
        expect(consult).to_have_attribute("data-state", "idle")
        expect(page.locator("#phone-complete")).to_be_disabled()
        hold = page.locator("#phone-hold")
        expect(hold).to_have_text("Resume")  # the caller is still held
        expect(consult).to_contain_text("the caller is on hold: Resume (Alt+L)")
        expect(hold).to_be_focused()  # the desktop offers to resume
        hold.click()
        expect(hold).to_have_text("Hold")
        expect(info).to_have_attribute("data-state", "talking")
        call = api.get(f"/calls/{call_id}").json()
        page.locator("#phone-hangup").click()
        expect(info).to_have_attribute("data-state", "idle")
    assert not call["ended_at"], call  # the caller's call went on after the consultation
    assert all(leg["trunk_id"] is None for leg in call["legs"]), call[
        "legs"
    ]  # the consulted party never joined
    assert not page.locator("#softphone-error").text_content()


def test_the_agent_makes_a_conference_of_the_consultation_and_leaves_the_other_two_talking(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    carrier_media = free_even_port()
    agent_api = center.client("alice")
    with rtp_capture(tmp_path, carrier_media) as pcap:
        with consulting(page, center, tmp_path, carrier_media=carrier_media) as c:  # the caller's speech: 7 s
            info, consult, call_id = c.info, c.consult, c.call_id
            page.keyboard.press("Alt+j")  # the conference shortcut
            expect(consult).to_have_attribute("data-state", "conference")
            joined = time.time()
            expect(consult).to_contain_text("In conference with the caller and +442071234567")
            expect(page.locator("#phone-hold")).to_have_text("Hold")  # the caller is off hold
            state = agent_api.get(f"/calls/{call_id}/conference").json()
            snap(page, center, "softphone-conference")
            page.wait_for_timeout(1500)  # all three talk
            page.locator("#phone-hangup").click()  # the agent leaves
            expect(info).to_have_attribute("data-state", "idle")
            expect(consult).to_have_attribute("data-state", "idle")
            left = time.time()
            page.wait_for_timeout(2000)  # the caller's speech, now relayed to the consulted party only
            call = agent_api.get(f"/calls/{call_id}").json()
    assert not page.locator("#softphone-error").text_content()
    assert not page.locator("#consult-error").text_content()
    assert state["state"] == "active" and state["call_id"] == call_id, state
    legs = {leg["id"]: leg for leg in call["legs"]}
    assert set(legs) == {state["customer_leg_id"], state["agent_leg_id"], state["joined_leg_id"]}, legs
    assert legs[state["agent_leg_id"]]["ended_at"], legs  # the agent left ...
    assert not legs[state["customer_leg_id"]]["ended_at"] and not legs[state["joined_leg_id"]]["ended_at"]
    assert legs[state["joined_leg_id"]]["trunk_id"] is not None  # ... the carrier's leg joined and stayed
    consultation = agent_api.get(f"/calls/{state['from_call_id']}").json()
    assert consultation["end_reason"] == "conferenced", consultation
    during = [p for at, p in payload_times(pcap, carrier_media) if joined < at < left]
    after = [p for at, p in payload_times(pcap, carrier_media) if at > left + 0.3]
    print(f"the carrier received {len(during)} packets in the conference, {len(after)} after the agent left")
    assert len(during) > 25 and max(during) > 500, during  # the caller's speech and the browser's beep
    assert len(after) > 25 and max(after) > 500, after  # the caller's speech, the browser gone


def test_the_caller_hanging_up_during_a_consultation_leaves_the_agent_talking_to_the_consulted_party(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    open_desktop(page, center)
    api = center.client("admin")
    with consulting(page, center, tmp_path, caller_ms=6_000) as c:
        info, consult, call_id = c.info, c.consult, c.call_id
        c.caller.wait(15)  # the caller hangs up after 6 s, on hold
        expect(consult).to_contain_text("The caller hung up; you are still talking to +442071234567.")
        expect(info).to_have_attribute("data-state", "talking")  # the consultation is the call now
        expect(info).to_contain_text(CONSULTED)
        expect(page.locator("#phone-hangup")).to_be_enabled()
        snap(page, center, "softphone-consultation-taken-over")
        call = api.get(f"/calls/{call_id}").json()
        page.locator("#phone-hangup").click()  # ends the consultation
        expect(info).to_have_attribute("data-state", "idle")
    assert call["ended_at"], call  # the caller's call is over and recorded
    assert all(leg["ended_at"] for leg in call["legs"]), call["legs"]
    assert not page.locator("#softphone-error").text_content()


def test_the_caller_leaving_a_conference_leaves_the_agent_with_the_consulted_party(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    open_desktop(page, center)
    api = center.client("admin")
    with consulting(page, center, tmp_path, caller_ms=7_000) as c:
        info, consult, call_id = c.info, c.consult, c.call_id
        page.locator("#phone-conference").click()
        expect(consult).to_have_attribute("data-state", "conference")
        c.caller.wait(20)  # the caller hangs up 7 s after the answer, in the conference
        expect(consult).to_have_text("The caller left the conference; you are talking to +442071234567.")
        expect(info).to_have_attribute("data-state", "talking")  # with the consulted party
        call = api.get(f"/calls/{call_id}").json()
        page.locator("#phone-hangup").click()
        expect(info).to_have_attribute("data-state", "idle")
    assert not call["ended_at"], call  # the agent and the consulted party were still talking
    caller_leg = next(leg for leg in call["legs"] if leg["kind"] == "caller")
    assert caller_leg["ended_at"] and caller_leg["end_reason"] == "remote_bye", call["legs"]
    assert not page.locator("#softphone-error").text_content()
