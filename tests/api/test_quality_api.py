"""Quality scoring over the real app (SQLite and PostgreSQL): scorecards, evaluations with their event and
audit row, the 422 of each bad input naming its field, who reads which evaluation, and the quality report.

The seeded world (conftest_api.seed): sup supervises team 1; agent 1 (user "agent") is in team 1, agent 2
(user "agent2") in team 2; call c-1 is agent 1's (recording 1), c-2 agent 2's."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from conftest_api import World

from duplex.db.models import AuditLog, Call, Evaluation, Event

CARD = {
    "name": "inbound",
    "criteria": [
        {"name": "Greeting", "weight": 1, "max_score": 5},
        {"name": "Solution", "weight": 3, "max_score": 10, "description": "Solved on the first call"},
        {"name": "Compliance", "weight": 1, "max_score": 1, "auto_fail": True},
    ],
}


def scores(greeting: int | None, solution: int | None, compliance: int | None) -> list[dict[str, Any]]:
    return [
        {"criterion": "Greeting", "score": greeting, "comment": "warm"},
        {"criterion": "Solution", "score": solution},
        {"criterion": "Compliance", "score": compliance},
    ]


async def make_card(world: World, role: str = "admin", **changes: Any) -> int:
    r = await world.as_(role, "POST", "/scorecards", json={**CARD, **changes})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def evaluate(world: World, role: str, call_id: str, card: int, marks: list[dict[str, Any]],
                   **extra: Any) -> Any:  # fmt: skip
    body = {"call_id": call_id, "scorecard_id": card, "scores": marks, **extra}
    return await world.as_(role, "POST", "/evaluations", json=body)


def loc(response: Any) -> list[Any]:
    assert response.status_code == 422, response.text
    return list(response.json()["detail"][0]["loc"])


async def test_scorecards_crud_by_staff_and_their_checks(world: World) -> None:
    card = await make_card(world)
    got = (await world.as_("sup", "GET", f"/scorecards/{card}")).json()
    assert [c["name"] for c in got["criteria"]] == ["Greeting", "Solution", "Compliance"]
    assert got["criteria"][2] == {"name": "Compliance", "description": "", "weight": 1.0, "max_score": 1,
                                  "auto_fail": True}  # fmt: skip
    await make_card(world, "sup", name="outbound")
    assert (await world.as_("agent", "POST", "/scorecards", json={**CARD, "name": "x"})).status_code == 403
    assert (await world.as_("agent", "GET", "/scorecards")).status_code == 403
    assert (await world.as_("none", "GET", "/scorecards")).status_code == 401

    bad = {**CARD, "name": "bad"}
    assert loc(await world.as_("admin", "POST", "/scorecards", json={**bad, "criteria": []})) == [
        "body",
        "criteria",
    ]
    twice = [CARD["criteria"][0], {**CARD["criteria"][0], "name": " greeting"}]  # type: ignore[index, dict-item]
    assert loc(await world.as_("admin", "POST", "/scorecards", json={**bad, "criteria": twice})) == [
        "body", "criteria"]  # fmt: skip
    weightless = [{"name": "x", "weight": 0}]
    assert loc(await world.as_("admin", "POST", "/scorecards", json={**bad, "criteria": weightless})) == [
        "body", "criteria", 0, "weight"]  # fmt: skip
    no_max = [{"name": "x"}, {"name": "y", "max_score": 0}]
    assert loc(await world.as_("admin", "POST", "/scorecards", json={**bad, "criteria": no_max})) == [
        "body", "criteria", 1, "max_score"]  # fmt: skip
    stray = [{"name": "x", "points": 3}]
    assert loc(await world.as_("admin", "POST", "/scorecards", json={**bad, "criteria": stray})) == [
        "body", "criteria", 0, "points"]  # fmt: skip
    assert (
        await world.as_("admin", "POST", "/scorecards", json=CARD)
    ).status_code == 409  # the name is taken
    assert loc(await world.as_("sup", "PATCH", f"/scorecards/{card}", json={"criteria": twice})) == [
        "body", "criteria"]  # fmt: skip

    r = await world.as_("sup", "PATCH", f"/scorecards/{card}", json={"active": False})
    assert (r.status_code, r.json()["active"]) == (200, False)
    listed = (await world.as_("admin", "GET", "/scorecards", params={"active": "true"})).json()
    assert [c["name"] for c in listed["items"]] == ["outbound"]
    changes = [e.data for e in world.rows(Event, Event.type == "config.changed")]
    assert {"entity": "scorecard", "id": card, "action": "update"} in changes


async def test_supervisor_scores_a_call_with_its_event_and_audit_row(world: World) -> None:
    card = await make_card(world)
    r = await evaluate(world, "sup", "c-1", card, scores(4, 7, 1), recording_id=1, comment="good call")
    assert r.status_code == 201, r.text
    body = r.json()
    # (1 x 4/5 + 3 x 7/10 + 1 x 1/1) / 5 = 78 %
    assert (body["score_pct"], body["auto_failed"], body["agent_id"], body["evaluator_user_id"]) == (
        78.0,
        False,
        1,
        2,
    )
    assert body["scores"][0] == {"criterion": "Greeting", "weight": 1.0, "max_score": 5, "auto_fail": False,
                                 "score": 4, "comment": "warm"}  # fmt: skip
    (event,) = world.rows(Event, Event.type == "quality.evaluated")
    assert (event.call_id, event.agent_id, event.queue_id, event.campaign_id) == ("c-1", 1, 1, 1)
    assert event.data == {"evaluation_id": body["id"], "scorecard_id": card, "recording_id": 1, "score_pct": 78.0,
                          "auto_failed": False, "by_user_id": 2}  # fmt: skip
    (row,) = world.rows(AuditLog, AuditLog.action == "evaluation.create")
    assert (row.user_id, row.target_id, row.detail) == (2, "c-1", {"evaluation_id": body["id"]})

    # not applicable leaves the weight out: (3 x 10/10 + 1 x 1/1) / 4 = 100 %; an auto-fail at 0 gives 0
    assert (await evaluate(world, "sup", "c-1", card, scores(None, 10, 1))).json()["score_pct"] == 100.0
    failed = (await evaluate(world, "admin", "c-1", card, scores(5, 10, 0))).json()
    assert (failed["score_pct"], failed["auto_failed"]) == (0.0, True)

    # editing the scorecard later does not change what an evaluation was scored against
    await world.as_("admin", "PATCH", f"/scorecards/{card}", json={"criteria": [{"name": "Other"}]})
    kept = (await world.as_("admin", "GET", f"/evaluations/{body['id']}")).json()
    assert [s["criterion"] for s in kept["scores"]] == ["Greeting", "Solution", "Compliance"]
    # a scorecard that was used cannot be deleted (deactivate it instead)
    assert (await world.as_("admin", "DELETE", f"/scorecards/{card}")).status_code == 422


async def test_each_bad_evaluation_names_its_field_and_writes_nothing(world: World) -> None:
    card = await make_card(world)
    inactive = await make_card(world, name="old", active=False)
    with world.app.state.sessions() as s, s.begin():
        s.add(Call(id="c-ivr", direction="inbound", queue_id=1))  # nobody answered: no agent to score
    ok = scores(4, 7, 1)
    cases = [
        (("sup", "nope", card, ok), {}, ["body", "call_id"]),
        (("sup", "c-2", card, ok), {}, ["body", "call_id"]),  # agent 2's call: not the supervisor's team
        (("admin", "c-ivr", card, ok), {}, ["body", "call_id"]),
        (("admin", "c-2", card, ok), {"recording_id": 1}, ["body", "recording_id"]),  # recording 1 is c-1's
        (("sup", "c-1", 99, ok), {}, ["body", "scorecard_id"]),
        (("sup", "c-1", inactive, ok), {}, ["body", "scorecard_id"]),
        (("sup", "c-1", card, scores(6, 7, 1)), {}, ["body", "scores", 0, "score"]),  # Greeting is out of 5
        (("sup", "c-1", card, scores(-1, 7, 1)), {}, ["body", "scores", 0, "score"]),
        (("sup", "c-1", card, scores(4, 7, None)), {}, ["body", "scores", 2, "score"]),  # auto-fail always applies
        (("sup", "c-1", card, [*ok[:1], {"criterion": "Smile", "score": 1}]), {}, ["body", "scores", 1, "criterion"]),
        (("sup", "c-1", card, [*ok, ok[0]]), {}, ["body", "scores", 3, "criterion"]),  # scored twice
        (("sup", "c-1", card, ok[:2]), {}, ["body", "scores"]),  # Compliance missing
        (("sup", "c-1", card, ok), {"grade": "A"}, ["body", "grade"]),
    ]  # fmt: skip
    for args, extra, where in cases:
        assert loc(await evaluate(world, *args, **extra)) == where, (args, extra)
    assert "Compliance" in (await evaluate(world, "sup", "c-1", card, ok[:2])).json()["detail"][0]["msg"]
    assert (await evaluate(world, "agent", "c-1", card, ok)).status_code == 403
    assert world.count(Evaluation) == 0
    assert world.count(Event, Event.type == "quality.evaluated") == 0


async def test_agents_read_their_own_evaluations_and_the_report_is_scoped(world: World) -> None:
    card = await make_card(world)
    first = (await evaluate(world, "admin", "c-1", card, scores(4, 7, 1))).json()  # agent 1: 78 %
    await evaluate(world, "sup", "c-1", card, scores(5, 10, 0))  # agent 1: auto-fail, 0 %
    other = (await evaluate(world, "admin", "c-2", card, scores(None, 10, 1))).json()  # agent 2: 100 %

    mine = (await world.as_("agent", "GET", "/evaluations")).json()
    assert [e["call_id"] for e in mine["items"]] == ["c-1", "c-1"]
    assert (await world.as_("agent", "GET", f"/evaluations/{first['id']}")).status_code == 200
    assert (await world.as_("agent", "GET", f"/evaluations/{other['id']}")).status_code == 404
    assert [e["id"] for e in (await world.as_("agent2", "GET", "/evaluations")).json()["items"]] == [
        other["id"]
    ]
    assert (await world.as_("sup", "GET", "/evaluations")).json()["total"] == 2  # team 1: agent 1's call
    assert (await world.as_("admin", "GET", "/evaluations", params={"agent_id": 2})).json()["total"] == 1

    now = dt.datetime.now(dt.UTC)
    span = {
        "from": (now - dt.timedelta(hours=1)).isoformat(),
        "to": (now + dt.timedelta(hours=1)).isoformat(),
    }
    rows = (await world.as_("admin", "GET", "/reports/quality", params=span)).json()["rows"]
    assert rows == [
        {"agent_id": 1, "evaluations": 2, "avg_score_pct": 39.0, "min_score_pct": 0.0, "max_score_pct": 78.0,
         "auto_fails": 1},
        {"agent_id": 2, "evaluations": 1, "avg_score_pct": 100.0, "min_score_pct": 100.0, "max_score_pct": 100.0,
         "auto_fails": 0},
    ]  # fmt: skip
    sup_rows = (await world.as_("sup", "GET", "/reports/quality", params=span)).json()["rows"]
    assert [r["agent_id"] for r in sup_rows] == [1]
    assert [
        r["agent_id"]
        for r in (await world.as_("agent2", "GET", "/reports/quality", params=span)).json()["rows"]
    ] == [2]
    text = (await world.as_("agent", "GET", "/reports/quality", params={**span, "format": "csv"})).text
    assert [(r["agent_id"], r["avg_score_pct"]) for r in csv.DictReader(io.StringIO(text))] == [("1", "39.0")]
    earlier = {
        "from": (now - dt.timedelta(days=2)).isoformat(),
        "to": (now - dt.timedelta(days=1)).isoformat(),
    }
    assert (await world.as_("admin", "GET", "/reports/quality", params=earlier)).json()["rows"] == []
    backwards = {"from": span["to"], "to": span["from"]}
    assert loc(await world.as_("admin", "GET", "/reports/quality", params=backwards)) == ["query", "from"]
    assert (await world.as_("none", "GET", "/reports/quality")).status_code == 401
