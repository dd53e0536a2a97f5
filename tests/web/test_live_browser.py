"""Live pages in a real browser: the wallboard follows agent state changes over the event WebSocket, catches
up through `since` after the connection drops, and the agent desktop changes the agent's own state."""

from __future__ import annotations

from live_center import LiveCenter, sign_in, snap
from playwright.sync_api import Page, expect


def agent_id(center: LiveCenter, extension: str) -> int:
    agents = center.client().get("/agents", params={"extension": extension}).json()["items"]
    return int(agents[0]["id"])


def open_desktop(page: Page, center: LiveCenter, username: str, extension: str) -> int:
    """Sign in as the agent and open their desktop; returns their agent id."""
    agent = agent_id(center, extension)
    sign_in(page, center, username)
    page.locator("#nav").get_by_role("link", name="Agent desktop", exact=True).click()
    return agent


def test_wallboard_updates_live_and_resyncs_after_a_drop(page: Page, center: LiveCenter) -> None:
    bob = agent_id(center, "2002")
    api = center.client("supervisor")
    sign_in(page, center, "supervisor")
    page.locator("#nav").get_by_role("link", name="Wallboard", exact=True).click()
    state_cell = page.locator(f"#wallboard-agents tr[data-agent='{bob}'] td.state")
    state_cell.wait_for()

    api.post(f"/agents/{bob}/state", json={"state": "lunch", "reason": "noon"}).raise_for_status()
    expect(state_cell).to_have_attribute("data-state", "lunch")
    expect(state_cell).to_have_text("Lunch")
    expect(page.locator("#events li[data-type='agent.state_changed']")).to_have_count(1)

    # Drop the socket and change the state while the page is disconnected: the reconnect asks for the
    # events after the last one it saw, so the change arrives exactly once.
    page.evaluate("window.duplex.events.stop()")
    expect(page.locator("#live-status")).to_have_attribute("data-status", "closed")
    api.post(f"/agents/{bob}/state", json={"state": "training"}).raise_for_status()
    page.wait_for_timeout(300)
    expect(state_cell).to_have_attribute("data-state", "lunch")
    page.evaluate("window.duplex.events.start()")
    expect(state_cell).to_have_attribute("data-state", "training")
    expect(page.locator("#live-status")).to_have_attribute("data-status", "live")
    expect(page.locator("#events li[data-type='agent.state_changed']")).to_have_count(2)

    # An unexpected drop (not a stop) reconnects by itself with the same catch-up.
    page.evaluate("window.duplex.events.drop()")
    api.post(f"/agents/{bob}/state", json={"state": "available"}).raise_for_status()
    expect(state_cell).to_have_attribute("data-state", "available")
    expect(page.locator("#events li[data-type='agent.state_changed']")).to_have_count(3)
    # Bob's support skill (85) staffs support-l1 (needs 30) and support-l2 (needs 80), not sales.
    queues = {q["name"]: q["id"] for q in api.get("/queues").json()["items"]}
    available = "#wallboard-queues tr[data-queue='{}'] td[data-count=available]"
    expect(page.locator(available.format(queues["support-l1"]))).to_have_text("1")
    expect(page.locator(available.format(queues["support-l2"]))).to_have_text("1")
    expect(page.locator(available.format(queues["sales"]))).to_have_text("0")
    snap(page, center, "wallboard")


def test_supervisor_forces_an_agent_state_from_the_wallboard(page: Page, center: LiveCenter) -> None:
    dave = agent_id(center, "2004")
    sign_in(page, center, "supervisor")
    page.locator("#nav").get_by_role("link", name="Wallboard", exact=True).click()
    page.get_by_label("Force the state of agent 2004").select_option("meeting")
    expect(page.locator(f"#wallboard-agents tr[data-agent='{dave}'] td.state")).to_have_attribute(
        "data-state", "meeting"
    )
    assert center.client().get(f"/agents/{dave}").json()["state"] == "meeting"


def test_agent_desktop_changes_its_own_state_and_loads_the_sip_library(
    page: Page, center: LiveCenter
) -> None:
    alice = open_desktop(page, center, "alice", "2001")
    expect(page.locator("#softphone-status")).to_contain_text("JsSIP 3.")
    # Alice's skills (sales 90, support 40) meet sales (1) and support-l1 (30), not support-l2 (80).
    expect(page.locator("#my-queues li")).to_have_text(["support-l1", "sales"])
    assert page.evaluate("typeof window.duplex.JsSIP.UA") == "function"

    page.get_by_label("Reason (for a break)").fill("coffee")
    page.locator("button[data-state='break']").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "break")
    agent = center.client().get(f"/agents/{alice}").json()
    assert agent["state"] == "break"

    page.keyboard.press("Alt+a")
    expect(page.locator("#agent-state")).to_have_text("You are: Available")
    # The console page, still loading when the desktop was opened, must not have drawn a second list.
    expect(page.locator("#events")).to_have_count(1)
    expect(page.locator("#events li[data-type='agent.state_changed']")).to_have_count(2)
    assert center.client().get(f"/agents/{alice}").json()["state"] == "available"
    snap(page, center, "agent-desktop")


def test_without_the_browser_bundle_the_console_works_and_says_the_softphone_is_missing(
    page: Page, center: LiveCenter
) -> None:
    # As when npm was not there at build time: the vendor bundle answers 404.
    page.route("**/static/vendor/duplex-vendor.js", lambda route: route.fulfill(status=404, body="missing"))
    sign_in(page, center, "bob")
    page.locator("#nav").get_by_role("link", name="Agent desktop", exact=True).click()
    expect(page.locator("#softphone-status")).to_contain_text("The softphone is unavailable")
    page.locator("button[data-state='meeting']").click()
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "meeting")


# The frequent actions of the agent desktop and their keys (the help lists what the page's controls declare).
DESKTOP_KEYS = {
    "Alt+Enter": "Answer",
    "Alt+H": "Hang up",
    "Alt+L": "Hold",
    "Alt+M": "Mute",
    "Alt+T": "Transfer",
    "Alt+A": "Available",
    "Alt+B": "Break",
    "Alt+O": "Offline",
    "Alt+N": "Next lead",
}


def test_question_mark_lists_the_desktops_shortcuts_and_alt_b_takes_a_break(
    page: Page, center: LiveCenter
) -> None:
    carol = open_desktop(page, center, "carol", "2003")
    expect(page.locator("#phone-answer")).to_be_attached()  # the softphone's controls are on the page
    page.keyboard.press("?")
    help_ = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_).to_be_visible()
    keys = help_.locator("dt").all_inner_texts()
    listed = dict(zip(keys, help_.locator("dd").all_inner_texts(), strict=True))
    assert DESKTOP_KEYS.items() <= listed.items(), listed
    assert listed["?"] == "Show or hide this list" and "0-9 * #" in listed, listed
    snap(page, center, "desktop-shortcuts", of=help_)
    page.keyboard.press("Escape")
    expect(help_).to_be_hidden()

    page.get_by_label("Reason (for a break)").fill("coffee")
    page.keyboard.press("Alt+b")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "break")
    assert center.client().get(f"/agents/{carol}").json()["state"] == "break"
    page.keyboard.press("Alt+o")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "offline")
    page.locator("#shortcuts").click()  # the top bar's button opens the same list
    expect(help_).to_be_visible()
