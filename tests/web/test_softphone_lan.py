"""The browser agent on another host of a LAN: Chromium runs in a network namespace of its own (a test host
with its own interfaces and loopback), joined to this host by a veth pair; the center serves HTTPS, SIP over
secure WebSocket and media on its end of the link, published as ``public_ip`` (what ``DUPLEX_PUBLIC_IP`` sets),
and the in-process WebRTC backend (aiortc) gathers its ICE candidates there. (HTTPS because a browser gives a
page on another host its microphone only over https; over plain http the softphone cannot answer, which the
second test shows.) A sipp caller calls the agent, who answers
in the page: ICE pairs across the link (the browser's selected pair ends at the center's address, from the
browser's own), and audio flows both ways."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_center import SipCenter, sip_center
from playwright.sync_api import Browser, Page, Playwright, expect
from test_softphone import browser_hears, open_desktop, payload_peaks, sipp_caller
from test_softphone_rtpengine import SELECTED_REMOTE

from interop.peers import free_even_port, rtp_capture

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--disable-background-networking", "--disable-component-update",
                 "--ignore-certificate-errors"]  # the center's self-signed certificate  # fmt: skip

# the local side of the browser's selected ICE candidate pair
SELECTED_LOCAL = SELECTED_REMOTE.replace("pair.remoteCandidateId", "pair.localCandidateId")


@dataclass(frozen=True)
class Lan:
    namespace: str  # the browser's host
    server_ip: str  # this host's end of the link
    browser_ip: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def lan() -> Iterator[Lan]:
    """A /30 link between this host and a new network namespace (names and subnet from the process id, so
    parallel test processes each have their own)."""
    tag = os.getpid() % 200 + 20
    name, veth = f"duplex-lan{tag}", f"dpx{tag}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)  # left by a killed run
    subprocess.run(["ip", "link", "del", f"{veth}a"], capture_output=True)
    lan = Lan(namespace=name, server_ip=f"10.213.{tag}.1", browser_ip=f"10.213.{tag}.2")
    ip("netns", "add", name)
    try:
        ip("link", "add", f"{veth}a", "type", "veth", "peer", "name", f"{veth}b")
        ip("link", "set", f"{veth}b", "netns", name)
        ip("addr", "add", f"{lan.server_ip}/30", "dev", f"{veth}a")
        ip("link", "set", f"{veth}a", "up")
        for args in (["addr", "add", f"{lan.browser_ip}/30", "dev", f"{veth}b"], ["link", "set", f"{veth}b", "up"],
                     ["link", "set", "lo", "up"]):  # fmt: skip
            ip("netns", "exec", name, "ip", *args)
        yield lan
    finally:
        subprocess.run(["ip", "link", "del", f"{veth}a"], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def self_signed(folder: Path, address: str) -> Path:
    """A certificate and key (one PEM file) for ``address``."""
    pem = folder / "center.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    f"/CN={address}", "-addext", f"subjectAltName=IP:{address}", "-keyout", str(pem), "-out",
                    str(folder / "cert.pem")], check=True, capture_output=True)  # fmt: skip
    pem.write_text(pem.read_text() + (folder / "cert.pem").read_text())
    return pem


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory, lan: Lan) -> Iterator[SipCenter]:
    pem = str(self_signed(tmp_path_factory.mktemp("lan-tls"), lan.server_ip))
    with sip_center(tmp_path_factory, "lan-phone", host=lan.server_ip, http_certfile=pem,
                    sip_wss_certfile=pem) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright, lan: Lan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Debian's Chromium started inside the browser's namespace (Playwright talks to it over pipes)."""
    wrapper = tmp_path_factory.mktemp("lan-browser") / "chromium-in-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {lan.namespace} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def test_a_browser_on_another_host_answers_over_ice_on_the_published_address(
    browser: Browser, center: SipCenter, page: Page, lan: Lan, tmp_path: Path
) -> None:
    page.on("console", lambda message: print("browser:", message.text))
    open_desktop(page, center)
    media = free_even_port()
    with rtp_capture(tmp_path, media) as pcap:
        with sipp_caller(tmp_path, f"{lan.server_ip}:{center.sip_port}", "2001", media):
            answer = page.locator("#phone-answer")
            expect(answer).to_be_enabled(timeout=15_000)
            answer.click()
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "talking")
            stats, level = browser_hears(page)
            remote, local = page.evaluate(SELECTED_REMOTE), page.evaluate(SELECTED_LOCAL)
            print(f"browser inbound-rtp {stats}; ICE pair {local} -> {remote}")
            assert stats is not None and stats["packets"] > 50, stats
            assert stats["energy"] > 0 and level > 0, (stats, level)
            assert remote is not None and remote["pair"] == "succeeded", remote
            assert remote["address"] == lan.server_ip, remote  # the center's candidate on public_ip
            assert local is not None and local["address"] == lan.browser_ip, local  # from the other host
            page.wait_for_timeout(3000)  # the browser's beep, relayed to the caller meanwhile
            page.locator("#phone-hangup").click()
            expect(page.locator("#softphone-call")).to_have_attribute("data-state", "idle")
    peaks = payload_peaks(pcap, media)
    assert len(peaks) > 50, f"{len(peaks)} RTP packets reached the caller"
    assert max(peaks) > 500, max(peaks)  # the browser's fake microphone, across the link and on to the caller
