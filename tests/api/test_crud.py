"""Bad input, transactions, audit and events, pagination and filters, E.164, the resource-specific routes."""

from __future__ import annotations

import pytest
from conftest_api import RECORDING_BYTES, World

from duplex.db.models import Agent, AuditLog, Event, Lead, User


async def test_422_names_the_field_path(world: World) -> None:
    wrong_type = await world.as_("admin", "POST", "/queues", json={"name": "q", "max_size": "many"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["detail"][0]["loc"] == ["body", "max_size"]
    unknown = await world.as_("admin", "POST", "/skills", json={"name": "x", "colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "colour"]
    nested = await world.as_(
        "admin", "PATCH", "/agents/1", json={"skills": [{"skill_id": 1, "proficiency": 101}]}
    )
    assert nested.status_code == 422 and nested.json()["detail"][0]["loc"] == [
        "body",
        "skills",
        0,
        "proficiency",
    ]
    null = await world.as_("admin", "PATCH", "/queues/1", json={"name": None})
    assert null.status_code == 422 and null.json()["detail"][0]["loc"] == ["body", "name"]
    broken = await world.as_(
        "admin", "POST", "/skills", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert (await world.as_("admin", "GET", "/skills?limit=0")).json()["detail"][0]["loc"] == [
        "query",
        "limit",
    ]


async def test_404_409_and_foreign_keys(world: World) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        assert (await world.as_("admin", method, "/queues/999", json={})).status_code == 404
    assert (await world.as_("admin", "GET", "/calls/nope")).status_code == 404
    duplicate = await world.as_("admin", "POST", "/skills", json={"name": "billing"})
    assert duplicate.status_code == 409
    dup_ext = await world.as_("admin", "PATCH", "/agents/2", json={"extension": "101"})
    assert dup_ext.status_code == 409
    dangling = await world.as_("admin", "POST", "/queues", json={"name": "q2", "team_id": 999})
    assert dangling.status_code == 422 and "referenced row" in dangling.json()["detail"]


async def test_a_failed_request_writes_nothing(world: World) -> None:
    before = (world.count(Agent), world.count(Event))
    body = {
        "user_id": 5,
        "extension": "150",
        "sip_username": "new",
        "sip_password": "sip-password",
        "skills": [{"skill_id": 1, "proficiency": 5}, {"skill_id": 999, "proficiency": 5}],
    }
    response = await world.as_("admin", "POST", "/agents", json=body)
    assert response.status_code == 422  # the agent row was flushed, then its second skill failed
    assert (world.count(Agent), world.count(Event)) == before
    assert world.count(AuditLog) == 0


async def test_unexpected_error_is_500_json_and_rolls_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duplex.api.identity as identity

    def explode(_: str) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(identity, "hash_password", explode)
    body = {"username": "x1", "password": "password1", "role": "agent"}
    response = await world.as_(
        "admin", "PATCH", "/users/5", json={"full_name": "changed", "password": "password2"}
    )
    assert response.status_code == 500 and response.json() == {"detail": "internal server error"}
    assert world.rows(User, User.id == 5)[0].full_name == ""
    monkeypatch.undo()
    assert (await world.as_("admin", "POST", "/users", json=body)).status_code == 201


async def test_admin_writes_are_audited_and_emit_config_changed(world: World) -> None:
    created = await world.as_("admin", "POST", "/queues", json={"name": "sales", "skills": [{"skill_id": 1}]})
    assert created.status_code == 201 and created.json()["skills"] == [{"skill_id": 1, "min_proficiency": 1}]
    qid = created.json()["id"]
    assert (await world.as_("admin", "PATCH", f"/queues/{qid}", json={"priority": 5})).json()["priority"] == 5
    assert (await world.as_("admin", "DELETE", f"/queues/{qid}")).status_code == 204
    audit = [(a.action, a.target_id, a.user_id) for a in world.rows(AuditLog)]
    assert audit == [
        ("queue.create", str(qid), 1),
        ("queue.update", str(qid), 1),
        ("queue.delete", str(qid), 1),
    ]
    changes = [e.data for e in world.rows(Event, Event.type == "config.changed")]
    assert changes == [{"entity": "queue", "id": qid, "action": a} for a in ("create", "update", "delete")]
    await world.as_("agent", "PATCH", "/users/3", json={"full_name": "Ana"})
    assert world.count(AuditLog) == 3  # agents' own writes are not admin actions


async def test_recording_access_is_audited(world: World) -> None:
    meta = await world.as_("sup", "GET", "/recordings/1")
    assert meta.status_code == 200 and meta.json()["call_id"] == "c-1"
    audio = await world.as_("sup", "GET", "/recordings/1/audio")
    assert audio.status_code == 200 and audio.content == RECORDING_BYTES
    assert audio.headers["content-type"] == "audio/wav"
    assert (await world.as_("agent2", "GET", "/recordings/1/audio")).status_code == 404  # not agent 2's call
    rows = world.rows(AuditLog, AuditLog.action == "recording.read")
    assert [(r.user_id, r.target_id, r.detail["how"]) for r in rows] == [
        (2, "1", "metadata"),
        (2, "1", "audio"),
    ]
    events = world.rows(Event, Event.type == "recording.accessed")
    assert [(e.call_id, e.data["how"]) for e in events] == [("c-1", "metadata"), ("c-1", "audio")]


async def test_pagination_sorting_and_filters(world: World) -> None:
    for i in range(5):
        await world.as_("admin", "POST", "/skills", json={"name": f"skill{i}"})
    page = (await world.as_("admin", "GET", "/skills?limit=2&offset=2")).json()
    assert (page["total"], page["limit"], page["offset"]) == (6, 2, 2)
    assert [s["id"] for s in page["items"]] == [3, 4]
    calls = (await world.as_("admin", "GET", "/calls?direction=outbound")).json()
    assert [c["id"] for c in calls["items"]] == ["c-2"]
    legs = (await world.as_("admin", "GET", "/calls/c-1")).json()["legs"]
    assert [leg["id"] for leg in legs] == ["l-1"]
    assert (await world.as_("admin", "GET", "/calls?agent_id=1&queue_id=1")).json()["total"] == 1
    assert (await world.as_("admin", "GET", "/calls?since=2999-01-01T00:00:00Z")).json()["total"] == 0
    assert (await world.as_("admin", "GET", "/calls?until=2999-01-01T00:00:00Z")).json()["total"] == 2
    await world.as_(
        "admin", "POST", "/leads", json={"list_id": 1, "phone": "+40722111222", "status": "callback"}
    )
    by_status = (await world.as_("admin", "GET", "/leads?status=callback")).json()["items"]
    assert [lead["phone"] for lead in by_status] == ["+40722111222"]
    by_phone = (await world.as_("admin", "GET", "/leads", params={"phone": "+40712345678"})).json()
    assert by_phone["total"] == 1 and by_phone["items"][0]["id"] == 1
    assert (await world.as_("admin", "GET", "/leads?list_id=2")).json()["total"] == 0


async def test_phone_numbers_become_e164(world: World) -> None:
    national = await world.as_(
        "sup", "POST", "/leads", json={"list_id": 1, "phone": "0733 123 456", "region": "RO"}
    )
    assert national.status_code == 201 and national.json()["phone"] == "+40733123456"
    via_query = await world.as_(
        "sup", "POST", "/leads?region=GB", json={"list_id": 1, "phone": "020 7946 0018"}
    )
    assert via_query.json()["phone"] == "+442079460018"
    for phone in ("12", "0733 123 456", "+40 1"):
        bad = await world.as_("sup", "POST", "/leads", json={"list_id": 1, "phone": phone})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "phone"], phone
    dup = await world.as_("sup", "POST", "/leads", json={"list_id": 1, "phone": "0712345678", "region": "RO"})
    assert dup.status_code == 409  # the same list already has +40712345678
    assert world.count(Lead) == 3
    dnc = await world.as_("sup", "POST", "/dnc", json={"phone": "0744 000 111", "region": "ro"})
    assert dnc.json()["phone"] == "+40744000111"
    check = (
        await world.as_("sup", "GET", "/dnc/check", params={"phone": "0744000111", "region": "RO"})
    ).json()
    assert check["listed"] is True and check["entry"]["id"] == dnc.json()["id"]
    clean = (await world.as_("sup", "GET", "/dnc/check", params={"phone": "+40744000112"})).json()
    assert clean == {"phone": "+40744000112", "listed": False, "entry": None}
    bad_check = await world.as_("sup", "GET", "/dnc/check", params={"phone": "abc"})
    assert bad_check.status_code == 422 and bad_check.json()["detail"][0]["loc"] == ["query", "phone"]
    assert [e.data["phone"] for e in world.rows(Event, Event.type == "dnc.added")] == ["+40744000111"]


async def test_campaign_status_transitions(world: World) -> None:
    path = "/campaigns/1/status"
    for status in ("running", "paused", "running", "finished"):
        response = await world.as_("sup", "POST", path, json={"status": status})
        assert response.status_code == 200 and response.json()["status"] == status
    refused = await world.as_("sup", "POST", path, json={"status": "running"})
    assert refused.status_code == 409
    assert (await world.as_("agent", "POST", path, json={"status": "paused"})).status_code == 403
    moves = [
        (e.campaign_id, e.data["from"], e.data["to"])
        for e in world.rows(Event, Event.type == "campaign.status_changed")
    ]
    assert moves == [
        (1, "draft", "running"),
        (1, "running", "paused"),
        (1, "paused", "running"),
        (1, "running", "finished"),
    ]
    draft = (await world.as_("admin", "POST", "/campaigns", json={"name": "autumn"})).json()
    assert (
        await world.as_("admin", "POST", f"/campaigns/{draft['id']}/status", json={"status": "paused"})
    ).status_code == 409


V1 = {"start": "bye", "nodes": {"bye": {"type": "hangup"}}}
V2 = {"start": "bye", "nodes": {"bye": {"type": "hangup", "reason": "closed"}}}


async def test_ivr_flow_versions_and_publish(world: World) -> None:
    created = (
        await world.as_("admin", "POST", "/ivr-flows", json={"name": "night", "definition": V1})
    ).json()
    fid = created["id"]
    assert (created["latest_version"], created["published_version"]) == (1, None)
    updated = (
        await world.as_("admin", "PATCH", f"/ivr-flows/{fid}", json={"definition": V2, "comment": "c"})
    ).json()
    assert updated["latest_version"] == 2
    renamed = (await world.as_("admin", "PATCH", f"/ivr-flows/{fid}", json={"description": "d"})).json()
    assert renamed["latest_version"] == 2
    versions = (await world.as_("sup", "GET", f"/ivr-flows/{fid}/versions")).json()
    assert [(v["version"], v["definition"], v["created_by"]) for v in versions] == [
        (1, V1, 1),
        (2, V2, 1),
    ]
    published = await world.as_("admin", "POST", f"/ivr-flows/{fid}/publish", json={"version": 1})
    assert published.json()["published_version"] == 1
    missing = await world.as_("admin", "POST", f"/ivr-flows/{fid}/publish", json={"version": 7})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "version"]
    assert (
        await world.as_("sup", "POST", f"/ivr-flows/{fid}/publish", json={"version": 2})
    ).status_code == 403


async def test_links_and_write_only_secrets(world: World) -> None:
    members = await world.as_(
        "sup", "PUT", "/queues/1/members", json=[{"agent_id": 1, "penalty": 2}, {"agent_id": 2}]
    )
    assert members.json() == [{"agent_id": 1, "penalty": 2}, {"agent_id": 2, "penalty": 0}]
    assert (await world.as_("agent", "GET", "/queues/1/members")).status_code == 200
    bad = await world.as_("sup", "PUT", "/queues/1/members", json=[{"agent_id": 99}])
    assert bad.status_code == 422
    assert (
        len((await world.as_("sup", "GET", "/queues/1/members")).json()) == 2
    )  # the failed PUT changed nothing
    sups = await world.as_("admin", "PUT", "/teams/2/supervisors", json=[{"user_id": 2}])
    assert sups.json() == [{"user_id": 2}]
    assert (await world.as_("sup", "PUT", "/teams/2/supervisors", json=[])).status_code == 403
    agent = (await world.as_("admin", "GET", "/agents/1")).json()
    assert "sip_password" not in agent and agent["sip_username"] == "agent"
    trunk = (
        await world.as_("admin", "PATCH", "/trunks/1", json={"password": "s3cret", "register": True})
    ).json()
    assert "password" not in trunk and trunk["register"] is True
    user = (await world.as_("admin", "GET", "/users/1")).json()
    assert "password" not in user and "password_hash" not in user
