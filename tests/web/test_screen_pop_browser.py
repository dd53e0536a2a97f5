"""The screen pop in Chromium on real calls: a sipp caller with a phone number (+40721000001, a demo lead)
dials the Google Ads number +40215550100, whose flow asks for a menu choice (2), a customer code (1) and a PIN
(3, a sensitive input: the pop shows only its mask) and sets a variable, then queues the call for sales, where the browser agent alice is available. The ringing
softphone pops the caller's lead, the IVR path and inputs and the tracking source; alice answers, writes a note
(Alt+W, Ctrl+Enter) and saves the caller as a contact. When the same caller calls again, the pop shows the
contact and the first call with its note in the history, and alice creates a lead from the caller (refused
with the 409 in a list that has the number, made in another).

The center is the softphone module's (SIP over UDP and WebSocket on free ports, in the server's loop).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_center import LiveCenter, snap
from playwright.sync_api import Browser, Page, expect
from test_softphone import SipCenter, center, open_desktop  # noqa: F401  (center: the SIP-enabled fixture)

from interop.peers import free_even_port, free_port, sipp_command, sipp_running

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

CALLER = "+40721000001"  # the demo lead "Ana"
NUMBER = "+40215550100"  # the demo main number advertised on Google Ads
FLOW: dict[str, Any] = {"format": 1, "start": "answer", "language": "en", "nodes": {
    "answer": {"type": "answer", "next": "menu"},
    "menu": {"type": "menu", "prompt": {"say": "For sales, press 2."}, "options": {"2": "code"},
             "timeout_seconds": 8, "max_retries": 1, "on_invalid": "bye", "on_timeout": "bye"},
    "code": {"type": "input", "prompt": {"say": "Enter your customer code."}, "variable": "customer_code",
             "max_digits": 1, "timeout_seconds": 8, "max_retries": 1, "on_invalid": "bye", "on_timeout": "bye",
             "next": "pin"},
    "pin": {"type": "input", "prompt": {"say": "Enter your PIN."}, "variable": "pin", "sensitive": True,
            "max_digits": 1, "timeout_seconds": 8, "max_retries": 1, "on_invalid": "bye", "on_timeout": "bye",
            "next": "tag"},
    "tag": {"type": "set", "variables": {"interest": "solar"}, "next": "sales"},
    "sales": {"type": "queue", "queue": "sales", "on_timeout": "bye", "on_overflow": "bye", "after_call": "bye"},
    "bye": {"type": "hangup", "reason": "done"},
}}  # fmt: skip


def arrange(site: LiveCenter) -> None:
    """The flow above as the demo flow's new version (the Google Ads number runs it); a short wrap-up in sales
    so alice is soon free again."""
    api = site.client("admin")
    demo = next(f for f in api.get("/ivr-flows").json()["items"] if f["name"] == "demo-main-menu")
    flow = api.patch(f"/ivr-flows/{demo['id']}", json={"definition": FLOW, "comment": "screen pop test"})
    assert flow.status_code == 200, flow.text
    published = api.post(f"/ivr-flows/{demo['id']}/publish", json={"version": flow.json()["latest_version"]})
    assert published.status_code == 200, published.text
    assert api.post("/lead-lists", json={"name": "inbound callers"}).status_code == 201
    sales = next(q for q in api.get("/queues").json()["items"] if q["name"] == "sales")
    assert api.patch(f"/queues/{sales['id']}", json={"wrapup_seconds": 2}).status_code == 200


@contextlib.contextmanager
def ivr_caller(tmp: Path, site: SipCenter, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """sipp as CALLER: dials NUMBER, presses 2, 1 and 3 (RFC 4733), waits for Duplex's BYE."""
    cmd = sipp_command("uac_menu_2_1_3_caller.xml", f"127.0.0.1:{site.sip_port}", local_port=free_port(),
                       media_port=free_even_port(), service=NUMBER, extra=["-key", "caller", CALLER])  # fmt: skip
    with sipp_running(tmp, cmd, f"{name}.log") as proc:
        yield proc


def desktop_with_pop(page: Page, site: LiveCenter, name: str) -> None:
    """The desktop from the top to the end of the screen pop, in the artifacts (and in DUPLEX_DOCS_SCREENSHOTS,
    for docs/screenshots)."""
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#screen-pop").bounding_box()
    assert box is not None
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"] if page.viewport_size else 1280,
            "height": box["y"] + box["height"] + 16}  # fmt: skip
    folders = [site.artifacts, *([Path(os.environ["DUPLEX_DOCS_SCREENSHOTS"])]
                                 if os.environ.get("DUPLEX_DOCS_SCREENSHOTS") else [])]  # fmt: skip
    for folder in folders:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True, clip=clip)


def wait_for_bye(proc: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.returncode == 0, f"sipp ended with {proc.returncode}"


def test_the_pop_shows_the_ivr_source_and_history_and_saves_a_contact(
    browser: Browser,
    center: SipCenter,  # noqa: F811
    page: Page,
    tmp_path: Path,
) -> None:
    arrange(center)
    open_desktop(page, center)
    page.locator("#go-available").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    pop = page.locator("#screen-pop")

    with ivr_caller(tmp_path, center, "first-call") as first:
        expect(page.locator("#phone-answer")).to_be_enabled(timeout=40_000)
        expect(pop).to_be_visible()
        expect(page.locator("#pop-source")).to_have_text("google-ads")
        expect(page.locator("#pop-caller")).to_have_text(CALLER)
        path = page.locator("#pop-ivr-path")
        expect(path.locator("li[data-node='menu']")).to_contain_text("pressed 2")
        expect(path.locator("li[data-node='code']")).to_contain_text("pressed 1")
        expect(path.locator("li[data-node='pin']")).to_contain_text("pressed •")  # not the 3
        expect(path.locator("li[data-node='sales']")).to_contain_text("queue")
        expect(page.locator("#pop-ivr-inputs tr[data-variable='customer_code'] td").nth(1)).to_have_text("1")
        expect(page.locator("#pop-ivr-inputs tr[data-variable='interest'] td").nth(1)).to_have_text("solar")
        expect(page.locator("#pop-ivr-inputs tr[data-variable='pin'] td").nth(1)).to_have_text("••••")
        expect(page.locator("#pop-crm")).to_contain_text("Ana")  # the demo lead with this number
        expect(page.locator("#pop-history")).to_have_text("No previous call from this number.")
        snap(page, center, "screen-pop-ringing")
        page.locator("#phone-answer").click()
        expect(page.locator("#softphone-call")).to_have_attribute("data-state", "talking")

        page.keyboard.press("Alt+w")  # the notes shortcut (Alt+N is the outbound desktop's next lead)
        expect(page.locator("#pop-note")).to_be_focused()
        page.keyboard.type("Wants the solar offer")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#pop-call-notes")).to_contain_text("Wants the solar offer")

        page.locator("#pop-save-contact summary").click()
        form = page.locator("#pop-contact-form")
        expect(form.get_by_label("Phone numbers")).to_have_value(CALLER)  # pre-filled from the caller
        expect(form.get_by_label("Custom fields (JSON, from the IVR)")).to_contain_text("customer_code")
        form.get_by_label("Email").fill("not an email")
        form.get_by_role("button", name="Save as contact").click()
        expect(form.locator("[data-field='email'] .field-error")).not_to_be_empty()  # the 422, at its field
        form.get_by_label("Email").fill("ana@example.com")
        form.get_by_label("Name").fill("Ana Pop")
        form.get_by_role("button", name="Save as contact").click()
        expect(page.locator("#pop-status")).to_have_text("Contact Ana Pop saved.")
        expect(page.locator("#pop-crm")).to_contain_text("Ana Pop")
        page.locator("#phone-hangup").click()
        expect(page.locator("#softphone-call")).to_have_attribute("data-state", "idle")
        wait_for_bye(first)
    first_call_id = pop.get_attribute("data-call-id")

    api = center.client("admin")
    found = api.get("/contacts/lookup", params={"phone": CALLER}).json()
    [contact] = found["contacts"]
    assert (contact["name"], contact["email"], contact["phones"]) == ("Ana Pop", "ana@example.com", [CALLER])
    assert contact["custom"] == {"customer_code": "1", "interest": "solar"}
    notes = api.get(f"/calls/{first_call_id}/notes").json()
    assert [n["text"] for n in notes] == ["Wants the solar offer"]
    first = api.get(f"/calls/{first_call_id}/screen-pop").json()
    assert [(w["queue_name"], w["outcome"]) for w in first["queue_waits"]] == [("sales", "answered")]
    assert first["waited_ms"] > 0 and first["call"]["tracking_source"] == "google-ads"

    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available", timeout=20_000)
    with ivr_caller(tmp_path, center, "second-call") as second:
        expect(page.locator("#phone-answer")).to_be_enabled(timeout=40_000)
        expect(pop).not_to_have_attribute("data-call-id", first_call_id or "")
        expect(page.locator("#pop-crm .pop-contact")).to_contain_text("Ana Pop")
        earlier = page.locator(f"#pop-history tr[data-call-id='{first_call_id}']")
        expect(earlier).to_contain_text("Wants the solar offer")
        expect(earlier).to_contain_text("sales")
        expect(earlier).to_contain_text("google-ads")
        page.locator("#phone-answer").click()
        expect(page.locator("#softphone-call")).to_have_attribute("data-state", "talking")
        desktop_with_pop(page, center, "desktop-screen-pop")
        page.locator("#pop-create-lead summary").click()
        leads = page.locator("#pop-lead-form")
        leads.get_by_label("Lead list").select_option(label="demo-leads")
        leads.get_by_role("button", name="Create lead").click()
        expect(leads.locator(".form-status")).to_contain_text(
            "already exists"
        )  # the 409: Ana is in demo-leads
        leads.get_by_label("Lead list").select_option(label="inbound callers")
        leads.get_by_label("First name").fill("Ana")
        leads.get_by_role("button", name="Create lead").click()
        expect(page.locator("#pop-status")).to_have_text("Lead created in inbound callers.")
        expect(page.locator("#pop-crm")).to_contain_text("lead in inbound callers")
        page.locator("#phone-hangup").click()
        wait_for_bye(second)
    leads = api.get("/contacts/lookup", params={"phone": CALLER}).json()["leads"]
    assert sorted(lead["list_name"] for lead in leads) == ["demo-leads", "inbound callers"]
