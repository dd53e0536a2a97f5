"""IVR flows through the API: validated on save and on publish, errors by node, the schema served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest_api import World

from duplex.db.models import IvrFlow, IvrFlowVersion, Queue
from duplex.ivr import flow_schema

MENU: dict[str, Any] = {
    "start": "menu",
    "nodes": {
        "menu": {
            "type": "menu",
            "prompt": {"say": "For support press 1"},
            "options": {"1": "support"},
            "on_timeout": "bye",
        },
        "support": {"type": "queue", "queue": "support", "on_timeout": "bye"},
        "bye": {"type": "hangup"},
    },
}


def with_node(node_id: str, **changes: Any) -> dict[str, Any]:
    nodes = {**MENU["nodes"], node_id: {**MENU["nodes"].get(node_id, {}), **changes}}
    return {**MENU, "nodes": nodes}


def nodes_and_reasons(response: Any) -> list[tuple[str | None, str]]:
    return [(d["ctx"]["node"], d["ctx"]["reason"]) for d in response.json()["detail"]]


async def test_a_valid_flow_is_saved(world: World) -> None:
    created = await world.as_(
        "admin", "POST", "/ivr-flows", json={"name": "support-line", "definition": MENU}
    )
    assert created.status_code == 201, created.text
    assert created.json()["latest_version"] == 1


async def test_saving_an_invalid_flow_is_refused_naming_the_node(world: World) -> None:
    flows_before = world.count(IvrFlow)
    bad = with_node("menu", options={"1": "support", "2": "sales"})
    bad["nodes"]["stray"] = {"type": "say", "text": "never", "next": "bye"}
    response = await world.as_("admin", "POST", "/ivr-flows", json={"name": "broken", "definition": bad})
    assert response.status_code == 422
    assert nodes_and_reasons(response) == [("menu", "target 'sales' does not exist")]
    assert response.json()["detail"][0]["loc"] == ["body", "definition", "nodes", "menu", "options", "2"]
    assert world.count(IvrFlow) == flows_before
    unknown = with_node("support", queue="billing")
    unknown["nodes"]["stray"] = {"type": "say", "text": "never", "next": "bye"}
    response = await world.as_("admin", "POST", "/ivr-flows", json={"name": "broken", "definition": unknown})
    assert nodes_and_reasons(response) == [
        ("stray", "unreachable from start node 'menu'"),
        ("support", "unknown queue 'billing'"),
    ]


async def test_an_update_with_an_invalid_flow_makes_no_version(world: World) -> None:
    fid = (await world.as_("admin", "POST", "/ivr-flows", json={"name": "f", "definition": MENU})).json()[
        "id"
    ]
    bad = with_node("menu", type="menu", options={}, timeout_seconds="soon")
    response = await world.as_("admin", "PATCH", f"/ivr-flows/{fid}", json={"definition": bad})
    assert response.status_code == 422
    assert {node for node, _ in nodes_and_reasons(response)} == {"menu"}
    assert world.count(IvrFlowVersion, IvrFlowVersion.flow_id == fid) == 1


async def test_yaml_text_is_accepted(world: World) -> None:
    text = "start: bye\nnodes:\n  bye:\n    type: hangup\n    reason: closed\n"
    response = await world.as_("admin", "POST", "/ivr-flows", json={"name": "yaml", "definition": text})
    assert response.status_code == 201, response.text
    versions = (await world.as_("admin", "GET", f"/ivr-flows/{response.json()['id']}/versions")).json()
    assert versions[0]["definition"] == {
        "start": "bye",
        "nodes": {"bye": {"type": "hangup", "reason": "closed"}},
    }
    fid = response.json()["id"]
    patched = await world.as_("admin", "PATCH", f"/ivr-flows/{fid}", json={"definition": text})
    assert patched.status_code == 200 and patched.json()["latest_version"] == 2
    broken = await world.as_(
        "admin", "POST", "/ivr-flows", json={"name": "yaml2", "definition": "start: [unclosed"}
    )
    assert broken.status_code == 422 and "YAML" in broken.text


async def test_publishing_an_invalid_version_is_refused(world: World) -> None:
    # The seeded flow 1 was stored before validation existed: {"start": "menu"} with no nodes.
    response = await world.as_("admin", "POST", "/ivr-flows/1/publish", json={"version": 1})
    assert response.status_code == 422
    assert (None, "'nodes' is a required property") in nodes_and_reasons(response)
    assert (await world.as_("admin", "GET", "/ivr-flows/1")).json()["published_version"] is None


async def test_publish_rechecks_queues_that_went_away(world: World) -> None:
    queue = (await world.as_("admin", "POST", "/queues", json={"name": "night"})).json()
    definition = {"start": "q", "nodes": {"q": {"type": "queue", "queue": queue["id"]}}}
    fid = (
        await world.as_("admin", "POST", "/ivr-flows", json={"name": "night", "definition": definition})
    ).json()["id"]
    assert (await world.as_("admin", "DELETE", f"/queues/{queue['id']}")).status_code == 204
    assert world.count(Queue, Queue.id == queue["id"]) == 0
    response = await world.as_("admin", "POST", f"/ivr-flows/{fid}/publish", json={"version": 1})
    assert response.status_code == 422
    assert nodes_and_reasons(response) == [("q", f"unknown queue {queue['id']}")]
    assert (await world.as_("admin", "GET", f"/ivr-flows/{fid}")).json()["published_version"] is None


async def test_prompt_files_are_checked_against_the_prompts_folder(world: World) -> None:
    definition = {
        "start": "p",
        "nodes": {"p": {"type": "play", "file": "hello.wav", "next": "bye"}, "bye": {"type": "hangup"}},
    }
    refused = await world.as_("admin", "POST", "/ivr-flows", json={"name": "p", "definition": definition})
    assert nodes_and_reasons(refused) == [("p", "unknown prompt file 'hello.wav'")]
    prompts = Path(world.app.state.settings.data_dir) / "prompts"
    prompts.mkdir(parents=True, exist_ok=True)
    (prompts / "hello.wav").write_bytes(b"RIFF")
    saved = await world.as_("admin", "POST", "/ivr-flows", json={"name": "p", "definition": definition})
    assert saved.status_code == 201
    published = await world.as_(
        "admin", "POST", f"/ivr-flows/{saved.json()['id']}/publish", json={"version": 1}
    )
    assert published.status_code == 200 and published.json()["published_version"] == 1


async def test_the_schema_is_served(world: World) -> None:
    response = await world.as_("sup", "GET", "/ivr-flows/schema")
    assert response.status_code == 200 and response.json() == flow_schema()
    assert (await world.as_("none", "GET", "/ivr-flows/schema")).status_code == 401


async def test_validate_without_saving(world: World) -> None:
    flows_before = world.count(IvrFlow)
    ok = await world.as_("sup", "POST", "/ivr-flows/validate", json={"definition": MENU})
    assert ok.json() == {"valid": True, "errors": []}
    loop = {"start": "a", "nodes": {"a": {"type": "set", "variables": {"x": 1}, "next": "a"}}}
    bad = (await world.as_("sup", "POST", "/ivr-flows/validate", json={"definition": loop})).json()
    assert bad["valid"] is False and [e["ctx"]["node"] for e in bad["errors"]] == ["a"]
    assert "loop with no exit" in bad["errors"][0]["msg"]
    assert (
        await world.as_("agent", "POST", "/ivr-flows/validate", json={"definition": MENU})
    ).status_code == 403
    assert world.count(IvrFlow) == flows_before
