"""Administration in a real browser: sign-in, role-aware navigation, a queue made through the generated form,
an API 422 shown next to its field, the IVR editor (errors on the node, fix, publish), lead import with its
report, and the Romanian catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from live_center import LiveCenter, sign_in, snap
from playwright.sync_api import Page, expect

NAV_ADMIN_ONLY = ("Users", "Trunks")


def open_page(page: Page, title: str) -> None:
    page.locator("#nav").get_by_role("link", name=title, exact=True).click()
    page.locator("main h1", has_text=title).wait_for()


def nav_links(page: Page) -> list[str]:
    return page.locator("#nav a").all_inner_texts()


def test_login_failure_is_explained_and_roles_see_their_pages(page: Page, center: LiveCenter) -> None:
    page.goto("/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("invalid username or password")

    sign_in(page, center, "admin")
    page.locator(".tile").first.wait_for()
    snap(page, center, "console")
    admin_links = nav_links(page)
    assert all(name in admin_links for name in (*NAV_ADMIN_ONLY, "Queues", "IVR flows", "Wallboard"))
    assert "Agent desktop" not in admin_links

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, center, "supervisor")
    supervisor_links = nav_links(page)
    assert "Queues" in supervisor_links and "Wallboard" in supervisor_links
    assert not any(name in supervisor_links for name in NAV_ADMIN_ONLY)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, center, "alice")
    assert nav_links(page) == ["Console", "Agent desktop", "Recordings", "Quality"]


def test_admin_creates_a_queue_with_skills_and_members(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "admin")
    open_page(page, "Queues")
    form = page.locator("#queues-form")
    form.get_by_label("Name *", exact=True).fill("web-billing")
    form.get_by_label("Service level (s)").fill("30")
    form.get_by_label("Routing strategy").select_option("round_robin")
    form.get_by_role("button", name="Add").click()
    form.locator("[data-field=skills] select").select_option(label="billing")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#queues-table")).to_contain_text("web-billing")
    expect(page.locator("#queues-table")).to_contain_text("billing 1")  # skill names, not ids

    # The saved queue opens for editing, with its members below the form.
    page.get_by_label("Penalty of agent 2003").fill("5")
    page.locator("label", has_text="2003 carol").click()
    page.get_by_role("button", name="Save members").click()
    expect(page.get_by_text("1 members saved.")).to_be_visible()
    snap(page, center, "admin-queues")

    api = center.client()
    queue = api.get("/queues", params={"name": "web-billing"}).json()["items"][0]
    skills = {s["id"]: s["name"] for s in api.get("/skills", params={"limit": 500}).json()["items"]}
    assert queue["service_level_seconds"] == 30 and queue["strategy"] == "round_robin"
    assert [skills[s["skill_id"]] for s in queue["skills"]] == ["billing"]
    agents = {a["id"]: a["extension"] for a in api.get("/agents").json()["items"]}
    members = api.get(f"/queues/{queue['id']}/members").json()
    assert [(agents[m["agent_id"]], m["penalty"]) for m in members] == [("2003", 5)]


def test_form_shows_the_api_422_next_to_the_field(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "admin")
    open_page(page, "Agents")
    form = page.locator("#agents-form")
    form.get_by_label("User *", exact=True).select_option(label="admin (Demo Administrator)")
    form.get_by_label("Extension").fill("12ab")  # the API wants digits only
    form.get_by_label("SIP username").fill("web-agent")
    form.get_by_label("SIP password").fill("long-enough-secret")
    form.get_by_role("button", name="Create").click()
    error = form.locator("[data-field=extension] .field-error")
    expect(error).to_contain_text("should match pattern")
    expect(form.get_by_label("Extension")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Extension")).to_be_focused()
    assert form.locator("[data-field=sip_username] .field-error").inner_text() == ""
    assert center.client().get("/agents", params={"extension": "12ab"}).json()["total"] == 0


def test_ivr_flow_error_is_shown_on_its_node_then_fixed_and_published(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "admin")
    open_page(page, "IVR flows")
    page.locator("#flow-picker").select_option(label="(new flow)")
    page.locator("#flow-name").fill("web-test-flow")
    broken = {
        "start": "welcome",
        "nodes": {
            "welcome": {"type": "menu", "prompt": {"say": "Press 1"}, "options": {"1": "sales"}},
            "sales": {"type": "queue", "queue": "sales", "on_timeout": "nowhere"},
        },
    }
    page.locator("#flow-definition").fill(json.dumps(broken, indent=2))
    page.get_by_role("button", name="Save as new version").click()
    sales_card = page.locator("#node-sales")
    expect(sales_card.locator(".node-error")).to_contain_text("nowhere")
    expect(sales_card).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#node-welcome .node-error")).to_have_count(0)
    expect(page.locator("#flow-graph g.node.invalid")).to_have_attribute("data-node", "sales")
    expect(page.locator("#flow-status")).to_contain_text("Not saved")
    snap(page, center, "admin-ivr-error")
    assert (
        center.client().get("/ivr-flows", params={"limit": 500}).json()["items"][-1]["name"]
        != "web-test-flow"
    )

    fixed = {**broken, "nodes": {**broken["nodes"], "bye": {"type": "hangup"}}}
    fixed["nodes"]["sales"] = {**broken["nodes"]["sales"], "on_timeout": "bye"}
    page.locator("#flow-definition").fill(json.dumps(fixed, indent=2))
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#flow-status")).to_have_text("The flow is valid.")
    expect(page.locator("#flow-graph path.edge[data-from=sales][data-to=bye]")).to_have_count(1)
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator("#flow-status")).to_have_text("Saved as version 1.")
    page.get_by_role("button", name="Publish latest version").click()
    expect(page.locator("#flow-status")).to_have_text("Version 1 is live.")

    flows = center.client().get("/ivr-flows", params={"limit": 500}).json()["items"]
    flow = next(f for f in flows if f["name"] == "web-test-flow")
    assert flow["published_version"] == 1


def test_lead_import_shows_progress_counts_and_a_downloadable_error_report(
    page: Page, center: LiveCenter, tmp_path: Path
) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("phone,first_name\n0722 111 222,Ana\n+40723333444,Ion\nnot-a-phone,Bad\n")
    sign_in(page, center, "admin")
    open_page(page, "Lead import")
    page.get_by_label("Lead list").select_option(label="demo-leads (#1)")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-phase")).to_have_text("Done.")
    expect(page.locator("#import-progress")).to_have_js_property("value", 100)
    expect(page.locator("dd[data-count=imported]")).to_have_text("2")
    expect(page.locator("dd[data-count=rejected]")).to_have_text("1")
    expect(page.locator("#import-errors tbody tr")).to_have_count(1)
    expect(page.locator("#import-errors")).to_contain_text("not a phone number")
    expect(page.locator("#import-report")).not_to_contain_text("null")
    snap(page, center, "admin-lead-import")

    with page.expect_download() as download:
        page.locator("#import-error-report").click()
    report = Path(download.value.path()).read_text()
    assert report.splitlines()[0] == "row,field,message"
    assert report.splitlines()[1].startswith("4,phone,")

    leads = center.client().get("/leads", params={"list_id": 1, "limit": 500}).json()["items"]
    assert {"+40722111222", "+40723333444"} <= {lead["phone"] for lead in leads}


def test_switching_to_romanian_translates_and_is_remembered(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "admin")
    page.get_by_label("Language").select_option("ro")
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.locator("#nav")).to_contain_text("Cozi")
    expect(page.locator("main h1")).to_have_text("Consolă")
    open_page(page, "Cozi")
    expect(page.locator("#queues-form").get_by_label("Strategie de rutare")).to_be_visible()
    snap(page, center, "admin-queues-ro")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.get_by_role("button", name="Deconectare")).to_be_visible()


def test_admin_creates_a_team_and_gives_it_a_supervisor(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "admin")
    open_page(page, "Teams")
    form = page.locator("#teams-form")
    form.get_by_label("Name *", exact=True).fill("web-team")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#teams-table")).to_contain_text("web-team")
    page.get_by_label("Demo Supervisor").check()
    page.get_by_role("button", name="Save supervisors").click()
    expect(page.locator(".subpanel [role=status]")).to_have_text("Saved.")

    api = center.client()
    team = next(t for t in api.get("/teams").json()["items"] if t["name"] == "web-team")
    users = {u["id"]: u["username"] for u in api.get("/users", params={"limit": 500}).json()["items"]}
    assert [users[s["user_id"]] for s in api.get(f"/teams/{team['id']}/supervisors").json()] == ["supervisor"]


def test_editing_sends_only_the_changed_fields(page: Page, center: LiveCenter) -> None:
    # The agent form has a write-only SIP password: left empty, it must not be sent (the API would refuse "").
    sign_in(page, center, "admin")
    open_page(page, "Agents")
    page.locator("#agents-table tr", has_text="2004").get_by_role("button", name="Edit").click()
    form = page.locator("#agents-form")
    form.get_by_label("Wrap-up (s)").fill("25")
    form.get_by_role("button", name="Save").click()
    expect(form.locator(".form-status")).to_have_text("Saved.")
    expect(page.locator("#agents-table tr", has_text="2004")).to_contain_text("Offline")
    agent = center.client().get("/agents", params={"extension": "2004"}).json()["items"][0]
    assert agent["wrapup_seconds"] == 25 and agent["max_concurrent_calls"] == 1
