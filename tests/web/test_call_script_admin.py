"""The call scripts administration page in a real browser: a script with a mistake is refused with the page and
field named next to the definition; fixed, it is saved and a campaign can name it."""

from __future__ import annotations

import json

from live_center import LiveCenter, sign_in
from playwright.sync_api import Page, expect


def test_a_script_error_names_its_page_then_the_fixed_script_is_saved(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "supervisor")
    page.locator("#nav").get_by_role("link", name="Call scripts", exact=True).click()
    page.locator("main h1", has_text="Call scripts").wait_for()
    expect(page.locator("#call-scripts-table")).to_contain_text("demo-renewals-script")  # from the demo seed
    form = page.locator("#call-scripts-form")
    form.get_by_label("Name *", exact=True).fill("web-survey")
    broken = {"start": "ask", "pages": {"ask": {"text": "Hello {{lead.first_name}}", "next": "thanks"}}}
    form.get_by_label("Definition (JSON)").fill(json.dumps(broken))
    form.get_by_role("button", name="Create").click()
    error = form.locator("[data-field=definition] .field-error")
    expect(error).to_contain_text("page 'ask': next: no page 'thanks'")
    assert center.client().get("/call-scripts").json()["total"] == 1  # nothing saved

    fixed = {"start": "ask", "pages": {"ask": {"text": "Hello {{lead.first_name}}", "next": "thanks"},
                                       "thanks": {"text": "Thank you."}}}  # fmt: skip
    form.get_by_label("Definition (JSON)").fill(json.dumps(fixed))
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#call-scripts-table")).to_contain_text("web-survey")
    saved = [s for s in center.client().get("/call-scripts").json()["items"] if s["name"] == "web-survey"]
    assert [s["definition"] for s in saved] == [fixed]
