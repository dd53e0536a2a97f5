"""The outbound agent desktop in Chromium over real SIP: a preview campaign dials through the demo trunk to a
sipp callee who answers; the agent (JsSIP in the page) accepts the offered lead, sees its card and the script
with the lead's name filled in, the campaign's call reaches the softphone (answered at once), the agent answers
the script's questions and hangs up; in wrap-up "available" is refused until a disposition is set; "call back
later" opens the scheduler (callee and agent clocks) and the callback lands on the lead; the answers are in the
campaign's CSV export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from live_center import LiveCenter, SipCenter, sign_in, sip_center, snap
from playwright.sync_api import Browser, Page, expect

from campaigns.campaign_fixtures import zone_at_local_hour
from interop.peers import free_even_port, free_port, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

CALLEE = "+12125550103"  # last digit 3: the callee scenario answers as a person ("Hello?", then waits)

SCRIPT = {
    "start": "greet",
    "pages": {
        "greet": {
            "title": "Hello {{lead.first_name}}",
            "text": "Hello {{lead.first_name}} {{lead.last_name}}, this is {{agent.name}} about solar panels.",
            "questions": [{"key": "interested", "label": "Interested?", "type": "yes_no", "required": True}],
            "branches": [{"if": "interested", "equals": "yes", "goto": "order"}],
            "next": "bye",
        },
        "order": {
            "title": "Order",
            "text": "Delivery details for {{lead.first_name}}",
            "questions": [
                {"key": "panels", "label": "Panels", "type": "number", "min": 1, "max": 40, "required": True},
                {"key": "colour", "label": "Colour", "type": "choice", "options": ["black", "blue"]},
                {"key": "address", "label": "Delivery address", "type": "text"},
            ],
            "next": "bye",
        },
        "bye": {"title": "Close", "text": "Thank you, goodbye."},
    },
}


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipCenter]:
    with sip_center(tmp_path_factory, "outbound", carrier_port=free_port()) as running:
        yield running


def callee_audio(folder: Path) -> None:
    """The sipp callees' recorded speech (the scenario loads both files at start)."""
    for name, text in (("human", "Hello?"), ("machine", "Please leave a message.")):
        wav = folder / f"{name}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
        subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw",
                        str(folder / f"{name}.ulaw"), "pad", "0.3", "20"], check=True)  # fmt: skip


def preview_campaign(center: LiveCenter) -> tuple[int, int, str]:
    """A running preview campaign of the sales queue with its script and one lead where it is noon now."""
    admin = center.client("admin")
    trunk = next(t for t in admin.get("/trunks").json()["items"] if t["name"] == "demo-carrier")
    sales = next(q for q in admin.get("/queues").json()["items"] if q["name"] == "sales")
    script = admin.post("/call-scripts", json={"name": "solar", "definition": SCRIPT})
    assert script.status_code == 201, script.text
    campaign = admin.post("/campaigns", json={
        "name": "solar-preview", "dial_mode": "preview", "queue_id": sales["id"], "trunk_id": trunk["id"],
        "caller_id": "+40215550100", "script_id": script.json()["id"]})  # fmt: skip
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    for code, label, callback in (("SALE", "Sale", False), ("CALLBACK", "Call back later", True)):
        made = admin.post("/dispositions", json={"code": code, "label": label, "campaign_id": campaign_id,
                                                  "schedules_callback": callback, "is_final": not callback})  # fmt: skip
        assert made.status_code == 201, made.text
    leads = admin.post("/lead-lists", json={"name": "solar-leads", "campaign_id": campaign_id}).json()
    zone = zone_at_local_hour(12)
    lead = admin.post("/leads", json={"list_id": leads["id"], "phone": CALLEE, "first_name": "Maria",
                                      "last_name": "Popescu", "timezone": zone, "custom": {"roof": "south"}})  # fmt: skip
    assert lead.status_code == 201, lead.text
    # the national do-not-call list must be fresh for the compliance engine to dial at all
    assert admin.post("/dnc", json={"phone": "+12125550999", "source": "national"}).status_code == 201
    started = admin.post(f"/campaigns/{campaign_id}/start")
    assert started.status_code == 200, started.text
    return campaign_id, lead.json()["id"], zone


def test_preview_lead_card_script_wrap_up_callback_and_answers_csv(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    callee_audio(tmp_path)
    campaign_id, lead_id, zone = preview_campaign(center)
    sign_in(page, center, "alice")
    page.locator("#nav").get_by_role("link", name="Agent desktop", exact=True).click()
    expect(page.locator("#softphone-registration")).to_have_attribute("data-state", "registered")
    page.locator("#go-available").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    page.locator("#preview-campaign").select_option(label="solar-preview")
    page.keyboard.press("Alt+n")  # the "Next lead" shortcut
    card = page.locator("#preview-offer #lead-card")
    expect(card).to_contain_text("Maria Popescu")
    expect(card).to_contain_text(CALLEE)
    expect(card).to_contain_text(zone)
    expect(card).to_contain_text("south")  # a custom field
    expect(page.locator("#preview-countdown")).to_contain_text("within")
    snap(page, center, "outbound-preview", of=page.locator("#outbound"))

    with sipp_background(tmp_path, "uas_campaign_callees.xml", local_port=center.carrier_port,
                         media_port=free_even_port(), calls=None):  # fmt: skip
        page.keyboard.press("Alt+y")  # the "Accept" shortcut
        expect(page.locator("#preview-status")).to_contain_text("Dialing")
        script = page.locator("#call-script")
        expect(script.locator("h3")).to_have_text("Hello Maria")
        expect(script).to_contain_text("Hello Maria Popescu, this is Alice Agent about solar panels.")
        # the callee answered: the call came to the softphone, which answered at once
        expect(page.locator("#phone-hangup")).to_be_enabled(timeout=30_000)
        expect(page.locator("#phone-mute")).to_be_enabled()
        expect(page.locator("#preview-status")).to_have_text(f"On the call with {CALLEE}.")

        page.locator("#script-next").click()  # the required question left blank: refused by the API
        expect(page.locator("#q-interested-error")).to_have_text("an answer is required")
        page.locator("#q-interested").select_option("yes")
        page.locator("#script-next").click()
        expect(script.locator("h3")).to_have_text("Order")
        page.locator("#q-panels").fill("12")
        page.locator("#q-colour").select_option("blue")
        page.locator("#q-address").fill("Str. Lunga 1, Cluj")
        snap(page, center, "outbound-script", of=page.locator("#outbound"))
        page.locator("#script-next").click()
        expect(script.locator("h3")).to_have_text("Close")
        page.locator("#script-next").click()  # "Finish": the last page
        expect(page.locator("#script-done")).to_be_visible()

        page.locator("#phone-hangup").click()
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
        expect(page.locator("#wrapup")).to_be_visible()
        page.locator("#go-available").click()  # no disposition yet
        expect(page.get_by_role("alert").filter(has_text="set a disposition for call")).to_be_visible()
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")

    page.locator("#wrapup-disposition").select_option(label="Call back later")
    expect(page.locator("#callback-scheduler")).to_be_visible()
    tomorrow = (dt.datetime.now(ZoneInfo(zone)) + dt.timedelta(days=1)).replace(hour=10, minute=30)
    page.locator("#callback-at").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#callback-clocks")).to_contain_text(zone)
    page.locator("#wrapup-notes").fill("Wants the installer to call first")
    snap(page, center, "outbound-wrapup", of=page.locator("#outbound"))
    expect(page.locator("#wrapup-save")).to_have_attribute("aria-keyshortcuts", "Alt+D")
    page.keyboard.press("Alt+d")  # the "save the disposition" shortcut, from the notes box
    expect(page.locator("#wrapup-done")).to_be_visible()
    page.locator("#go-available").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    staff = center.client("admin")
    lead = staff.get(f"/leads/{lead_id}").json()
    assert lead["status"] == "callback" and lead["callback_agent_id"] is not None
    due = dt.datetime.fromisoformat(lead["next_attempt_at"].replace("Z", "+00:00"))
    assert due.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == tomorrow.replace(
        tzinfo=None, second=0, microsecond=0
    )
    assert lead["custom"] == {"roof": "south", "interested": True, "panels": 12, "colour": "blue",
                              "address": "Str. Lunga 1, Cluj"}  # fmt: skip
    export = staff.get(f"/campaigns/{campaign_id}/answers.csv")
    assert export.status_code == 200
    (row,) = list(csv.DictReader(io.StringIO(export.text)))
    assert (row["phone"], row["interested"], row["panels"], row["colour"], row["address"]) == (
        CALLEE, "yes", "12", "blue", "Str. Lunga 1, Cluj")  # fmt: skip
    assert row["call_id"] and row["agent_id"]
    calls = staff.get("/calls", params={"lead_id": lead_id}).json()["items"]
    assert [c["disposition_notes"] for c in calls] == ["Wants the installer to call first"]
