"""Manual dial on the outbound desktop in Chromium over real SIP: for a campaign that allows it, the agent types a
number: a number on the do-not-call list is refused next to the field; the lead's number (typed in national form)
is dialled through the campaign's trunk to a sipp callee who answers, the call comes to the agent's softphone
(answered at once) with the lead's card, and after the agent hangs up the wrap-up holds until the disposition is
saved; the call is recorded as the lead's manual attempt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_center import LiveCenter, SipCenter, sign_in, sip_center, snap
from playwright.sync_api import Browser, Page, expect
from test_outbound_desktop import callee_audio

from campaigns.campaign_fixtures import zone_at_local_hour
from interop.peers import free_even_port, free_port, sipp_background

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

CALLEE = "+12125550103"  # last digit 3: the callee scenario answers as a person
LISTED = "+12125550113"  # on the internal do-not-call list


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipCenter]:
    with sip_center(tmp_path_factory, "manualdial", carrier_port=free_port()) as running:
        yield running


def manual_campaign(center: LiveCenter) -> tuple[int, int]:
    """A running campaign of the sales queue that allows manual dial (preview: it dials nothing by itself), with
    a disposition and one lead where it is noon now."""
    admin = center.client("admin")
    trunk = next(t for t in admin.get("/trunks").json()["items"] if t["name"] == "demo-carrier")
    sales = next(q for q in admin.get("/queues").json()["items"] if q["name"] == "sales")
    campaign = admin.post("/campaigns", json={
        "name": "by-hand", "dial_mode": "preview", "queue_id": sales["id"], "trunk_id": trunk["id"],
        "caller_id": "+12125550100", "manual_dial": True})  # fmt: skip
    assert campaign.status_code == 201, campaign.text
    assert campaign.json()["manual_dial"] is True
    campaign_id = campaign.json()["id"]
    made = admin.post("/dispositions", json={"code": "SALE", "label": "Sale", "campaign_id": campaign_id})
    assert made.status_code == 201, made.text
    leads = admin.post("/lead-lists", json={"name": "by-hand-leads", "campaign_id": campaign_id}).json()
    lead = admin.post("/leads", json={"list_id": leads["id"], "phone": CALLEE, "first_name": "Ion",
                                      "last_name": "Ionescu", "timezone": zone_at_local_hour(12)})  # fmt: skip
    assert lead.status_code == 201, lead.text
    assert admin.post("/dnc", json={"phone": "+12125550999", "source": "national"}).status_code == 201
    assert admin.post("/dnc", json={"phone": LISTED, "source": "internal"}).status_code == 201
    started = admin.post(f"/campaigns/{campaign_id}/start")
    assert started.status_code == 200, started.text
    return campaign_id, lead.json()["id"]


def test_manual_dial_reaches_the_callee_and_the_agent_and_the_disposition_closes_the_wrap_up(
    browser: Browser, center: SipCenter, page: Page, tmp_path: Path
) -> None:
    callee_audio(tmp_path)
    campaign_id, lead_id = manual_campaign(center)
    sign_in(page, center, "alice")
    page.locator("#nav").get_by_role("link", name="Agent desktop", exact=True).click()
    expect(page.locator("#softphone-registration")).to_have_attribute("data-state", "registered")
    page.locator("#go-available").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    panel = page.locator("#manual-panel")
    expect(panel.locator("#manual-campaign option")).to_have_text(["by-hand"])
    expect(page.locator("#manual-dial")).to_have_attribute("aria-keyshortcuts", "Alt+G")
    page.locator("#manual-phone").fill(LISTED)
    page.keyboard.press("Enter")  # refused by the campaign's rules: the reason next to the number
    expect(page.locator("#manual-phone-error")).to_contain_text("dnc")
    expect(page.locator("#manual-phone")).to_have_attribute("aria-invalid", "true")
    snap(page, center, "outbound-manual-dial-refused", of=panel)

    with sipp_background(tmp_path, "uas_campaign_callees.xml", local_port=center.carrier_port,
                         media_port=free_even_port(), calls=None):  # fmt: skip
        page.locator("#manual-phone").fill("(212) 555-0103")  # national: read in the caller ID's region
        page.keyboard.press("Alt+g")
        expect(page.locator("#manual-status")).to_contain_text(f"Dialing {CALLEE}")
        expect(page.locator("#manual-phone-error")).to_have_text("")
        expect(page.locator("#outbound-work #lead-card")).to_contain_text(
            "Ion Ionescu"
        )  # the lead tied to it
        # the callee answered: the call came to the softphone, which answered at once
        expect(page.locator("#phone-hangup")).to_be_enabled(timeout=30_000)
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
        expect(page.locator("#preview-status")).to_have_text(f"On the call with {CALLEE}.")
        snap(page, center, "outbound-manual-dial", of=page.locator("#outbound"))
        page.locator("#phone-hangup").click()
        expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
        expect(page.locator("#wrapup")).to_be_visible()

    page.locator("#go-available").click()  # the wrap-up waits for the disposition
    expect(page.get_by_role("alert").filter(has_text="set a disposition for call")).to_be_visible()
    page.locator("#wrapup-disposition").select_option(label="Sale")
    page.keyboard.press("Alt+d")
    expect(page.locator("#wrapup-done")).to_be_visible()
    page.locator("#go-available").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    staff = center.client("admin")
    (call,) = staff.get("/calls", params={"lead_id": lead_id}).json()["items"]
    assert call["campaign_id"] == campaign_id and call["disposition_id"] is not None
    lead = staff.get(f"/leads/{lead_id}").json()
    assert lead["attempts"] == 1 and lead["last_outcome"] == "human" and lead["status"] == "done"
    dialed = staff.get("/events", params={"types": "lead.dialed", "campaign_id": campaign_id}).json()["items"]
    assert [(e["call_id"], e["data"]["mode"]) for e in dialed] == [(call["id"], "manual")]
    report = staff.get(f"/campaigns/{campaign_id}/compliance").json()
    assert report["skips_by_reason"] == {"dnc": 1} and report["window_violations"] == 0
