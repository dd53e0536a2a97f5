"""Supervisor console in a real browser: the wallboard shows the server's queue and campaign figures and
follows new events; a supervisor searches the recordings, plays one (the <audio> element loads the file:
a real WAV, its duration read by Chromium), scores its call against a scorecard, and the quality report
shows the score; the agent sees their own evaluation."""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
import wave
from typing import Any

from live_center import LiveCenter, sign_in, snap
from playwright.sync_api import Page, expect
from sqlalchemy import select

from duplex.db.base import make_engine, make_session_factory
from duplex.db.models import Agent, Call, Queue, Recording

SECONDS = 2.0


def open_page(page: Page, title: str) -> None:
    page.locator("#nav").get_by_role("link", name=title, exact=True).click()
    page.locator("main h1", has_text=title).wait_for()


def write_tone(path: Any, seconds: float = SECONDS, rate: int = 8000) -> int:
    """A 440 Hz tone as 16-bit mono PCM WAV; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                      for n in range(int(seconds * rate)))  # fmt: skip
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return int(path.stat().st_size)


def recorded_call(center: LiveCenter, call_id: str, agent_ext: str, caller: str) -> tuple[int, int]:
    """A call of agent `agent_ext` in queue sales with a recording on disk (the recorder's rows, which no
    API writes). Returns (recording id, agent id)."""
    assert center.data_dir is not None
    size = write_tone(center.data_dir / "recordings" / "web" / f"{call_id}.wav")
    engine = make_engine(center.database_url)
    try:
        with make_session_factory(engine)() as s, s.begin():
            agent_id = s.scalar(select(Agent.id).where(Agent.extension == agent_ext))
            queue_id = s.scalar(select(Queue.id).where(Queue.name == "sales"))
            s.add(Call(id=call_id, direction="inbound", from_number=caller, to_number="+40215550100",
                       agent_id=agent_id, queue_id=queue_id, started_at=dt.datetime.now(dt.UTC),
                       ended_at=dt.datetime.now(dt.UTC), state="ended"))  # fmt: skip
            s.flush()
            rec = Recording(call_id=call_id, path=f"web/{call_id}.wav", duration_ms=int(SECONDS * 1000),
                            size_bytes=size)  # fmt: skip
            s.add(rec)
            s.flush()
            return int(rec.id), int(agent_id or 0)
    finally:
        engine.dispose()


def test_wallboard_shows_queue_and_campaign_figures_and_follows_events(
    page: Page, center: LiveCenter
) -> None:
    admin = center.client()
    queues = {q["name"]: q["id"] for q in admin.get("/queues").json()["items"]}
    campaign = admin.get("/campaigns").json()["items"][0]
    sign_in(page, center, "supervisor")
    open_page(page, "Wallboard")
    row = page.locator(f"#wallboard-queues tr[data-queue='{queues['support-l1']}']")
    expect(row.locator("td[data-figure=waiting]")).to_have_text("0")
    expect(row.locator("td[data-figure=service_level_today]")).to_have_text("–")
    dial = page.locator(
        f"#wallboard-campaigns tr[data-campaign='{campaign['id']}'] td[data-figure=dial_level]"
    )
    expect(dial).to_have_text("–")

    def record(type_: str, **fields: Any) -> None:
        admin.post("/events", json={"type": type_, **fields}).raise_for_status()

    record("queue.entered", call_id="wb-1", queue_id=queues["support-l1"])
    expect(row.locator("td[data-figure=waiting]")).to_have_text("1")
    expect(row.locator("td[data-figure=longest_wait]")).to_have_text(re.compile(r"^\d+:\d\d$"))
    record(
        "queue.left",
        call_id="wb-1",
        queue_id=queues["support-l1"],
        data={"reason": "answered", "waited_ms": 4000},
    )
    record("campaign.pacing", campaign_id=campaign["id"], data={"mode": "predictive", "lines_per_agent": 2.5})
    expect(row.locator("td[data-figure=waiting]")).to_have_text("0")
    expect(row.locator("td[data-figure=answered_today]")).to_have_text("1")
    expect(row.locator("td[data-figure=service_level_today]")).to_have_text("100.0 %")  # 4 s, within 20 s
    expect(row.locator("td[data-figure=abandon_rate_today]")).to_have_text("0.0 %")
    expect(dial).to_have_text("2.50")
    snap(page, center, "wallboard-figures")


def test_supervisor_searches_plays_and_scores_a_recording(page: Page, center: LiveCenter) -> None:
    admin = center.client()
    card = admin.post("/scorecards", json={"name": "web card", "criteria": [
        {"name": "Greeting", "weight": 1, "max_score": 5},
        {"name": "Solution", "weight": 3, "max_score": 10},
        {"name": "Compliance", "weight": 1, "max_score": 1, "auto_fail": True},
    ]})  # fmt: skip
    card.raise_for_status()
    recording_id, alice = recorded_call(center, "web-call-1", "2001", "+40711000111")
    recorded_call(center, "web-call-2", "2002", "+40722000222")

    sign_in(page, center, "supervisor")
    open_page(page, "Recordings")
    page.get_by_label("Caller or called number (part)").fill("0711000111")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#recordings-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-recording", str(recording_id))
    expect(page.locator("#recordings-count")).to_have_text("1–1 of 1")

    rows.first.locator("[data-action=play]").click()
    page.wait_for_function("() => { const a = document.getElementById('recording-player');"
                           " return a.readyState >= 1 && a.duration > 0; }")  # fmt: skip
    assert abs(page.evaluate("document.getElementById('recording-player').duration") - SECONDS) < 0.1
    sup_id = center.client("supervisor").get("/auth/me").json()["user_id"]
    audits = admin.get(
        "/audit-log", params={"action": "recording.read", "target_id": str(recording_id)}
    ).json()
    assert [(a["user_id"], a["detail"]["how"]) for a in audits["items"]] == [(sup_id, "audio")]

    rows.first.locator("[data-action=score]").click()
    form = page.locator("#score-form")
    form.get_by_label("Scorecard").select_option(label="web card")
    form.locator("select[data-criterion='Greeting']").select_option("4")
    form.locator("select[data-criterion='Solution']").select_option("7")
    form.locator("select[data-criterion='Compliance']").select_option("1")
    form.get_by_label("Comment").first.fill("warm greeting")
    form.get_by_label("Overall comment").fill("good call")
    form.get_by_role("button", name="Save the evaluation").click()
    # (1 x 4/5 + 3 x 7/10 + 1 x 1/1) / 5 = 78 %
    expect(page.locator("#score-status")).to_have_text("Saved: 78.0 %.")
    expect(page.locator("#call-evaluations p")).to_have_count(1)
    snap(page, center, "recordings-scorecard")
    # The scorecard changes while a form is open: the API's 422 names the criterion, shown next to it.
    rows.first.locator("[data-action=score]").click()
    form.get_by_label("Scorecard").select_option(label="web card")
    renamed = [{"name": "Welcome", "max_score": 5}, {"name": "Solution", "weight": 3, "max_score": 10}]
    admin.patch(f"/scorecards/{card.json()['id']}", json={"criteria": renamed}).raise_for_status()
    form.get_by_role("button", name="Save the evaluation").click()
    greeting = form.locator("fieldset.criterion[data-index='0']")
    expect(greeting.locator(".field-error")).to_have_text("not a criterion of this scorecard")
    expect(greeting.locator("select")).to_have_attribute("aria-invalid", "true")
    [evaluation] = admin.get("/evaluations", params={"call_id": "web-call-1"}).json()["items"]
    assert (evaluation["score_pct"], evaluation["agent_id"], evaluation["recording_id"]) == (
        78.0,
        alice,
        recording_id,
    )
    assert evaluation["scores"][0]["comment"] == "warm greeting" and evaluation["comment"] == "good call"

    open_page(page, "Quality")
    report_row = page.locator(f"#quality-report tr[data-agent='{alice}']")
    expect(report_row.locator("td[data-figure=avg_score_pct]")).to_have_text("78.0")
    expect(report_row.locator("td[data-figure=evaluations]")).to_have_text("1")
    details = page.locator(f"#quality-evaluations details[data-evaluation='{evaluation['id']}']")
    details.locator("summary").click()
    expect(details.get_by_role("row").first).to_contain_text("Greeting4 / 5warm greeting")
    snap(page, center, "quality-report")

    # Alice sees her own evaluation and her recording, not Bob's.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, center, "alice")
    open_page(page, "Quality")
    expect(page.locator("#quality-report tbody tr")).to_have_count(1)
    expect(
        page.locator(f"#quality-report tr[data-agent='{alice}'] td[data-figure=avg_score_pct]")
    ).to_have_text("78.0")
    open_page(page, "Recordings")
    expect(page.locator("#recordings-table tbody tr")).to_have_count(1)
    expect(page.locator("#recordings-table [data-action=score]")).to_have_count(0)


def test_admin_builds_a_scorecard_in_the_generated_form(page: Page, center: LiveCenter) -> None:
    sign_in(page, center, "admin")
    open_page(page, "Scorecards")
    form = page.locator("#scorecards-form")
    form.get_by_label("Name *", exact=True).first.fill("web form card")
    criteria = form.locator("[data-field=criteria]")
    criteria.get_by_role("button", name="Add").click()
    criteria.get_by_role("button", name="Add").click()
    names = criteria.locator("[data-field=name] input")
    names.nth(0).fill("Empathy")
    names.nth(1).fill("empathy")
    criteria.locator("[data-field=weight] input").nth(1).fill("2")
    criteria.locator("[data-field=auto_fail] input").nth(1).check()
    form.get_by_role("button", name="Create").click()
    expect(criteria.locator(".field-error").last).to_contain_text("each criterion needs its own name")
    names.nth(1).fill("Accuracy")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#scorecards-table")).to_contain_text("Empathy, Accuracy")
    card = center.client().get("/scorecards", params={"name": "web form card"}).json()["items"][0]
    assert [(c["name"], c["weight"], c["max_score"], c["auto_fail"]) for c in card["criteria"]] == [
        ("Empathy", 1.0, 5, False), ("Accuracy", 2.0, 5, True)]  # fmt: skip
