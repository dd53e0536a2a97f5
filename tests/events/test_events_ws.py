"""WS /api/v1/events: auth, filters, role scoping, since-replay without gaps or duplicates, keepalive,
slow consumers; GET/POST /api/v1/events."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from duplex.db.models import Event
from duplex.events.record import EventRecord
from duplex.events.types import (
    AgentOffered,
    AgentStateChanged,
    CallAnswered,
    CallCreated,
    CallEnded,
    EventEnvelope,
    QueueEntered,
    QueueLeft,
)

WS = "/api/v1/events"
CREATED = CallCreated(
    direction="inbound", from_="+40700", to="1000", tracking_source=None, phone_number_id=None
)
AVAILABLE = AgentStateChanged(from_="offline", to="available", reason=None, by_user_id=None)


def record(app: FastAPI) -> EventRecord:
    rec: EventRecord = app.state.record
    return rec


def receive_until(ws: Any, last_id: int) -> list[dict[str, Any]]:
    """Event frames up to and including the one with `last_id` (pings skipped)."""
    got: list[dict[str, Any]] = []
    while True:
        msg = ws.receive_json()
        if msg["type"] in ("ping", "ready"):
            continue
        got.append(msg)
        if msg["id"] == last_id:
            return got


def ready(ws: Any) -> dict[str, Any]:
    msg = ws.receive_json()
    assert msg["type"] == "ready"
    return msg


@pytest.mark.parametrize("query", ["", "?token=", "?token=nonsense"])
def test_refused_without_valid_credentials(client: TestClient, people: Any, query: str) -> None:
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect(WS + query) as ws:
        ws.receive_json()
    assert exc.value.code == 4401


def test_header_credentials_and_type_and_queue_filters(client: TestClient, app: FastAPI, people: Any) -> None:
    headers = {"Authorization": f"Bearer {people.admin}"}
    with client.websocket_connect(WS + "?types=call.*,queue.entered&queue_id=5", headers=headers) as ws:
        ready(ws)
        rec = record(app)
        rec.emit(CREATED, call_id="c1", queue_id=5)
        rec.emit(AVAILABLE, queue_id=5)  # wrong type
        rec.emit(CallAnswered(), call_id="c2", queue_id=6)  # wrong queue
        rec.emit(QueueEntered(), call_id="c1", queue_id=5)
        rec.emit(QueueLeft(reason="answered"), call_id="c1", queue_id=5)  # not asked for
        ended = CallEnded(
            reason="caller_hangup", answered=True, hangup_by="remote", leg_kind="caller", sip_status=None
        )
        last = rec.emit(ended, call_id="c1", queue_id=5)
        got = receive_until(ws, last.id)
    assert [(m["type"], m["call_id"]) for m in got] == [
        ("call.created", "c1"),
        ("queue.entered", "c1"),
        ("call.ended", "c1"),
    ]
    # a typed payload goes out as the JSON the engine's dict form always sent
    assert got[-1]["data"] == {
        "reason": "caller_hangup", "hangup_by": "remote", "leg_kind": "caller", "sip_status": None, "answered": True
    }  # fmt: skip
    assert got[-1]["queue_id"] == 5


def test_bad_filter_is_refused(client: TestClient, people: Any) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        client.websocket_connect(f"{WS}?token={people.admin}&types=calls.nothing") as ws,
    ):
        ws.receive_json()
    assert exc.value.code == 4422


def test_agent_sees_only_own_events(client: TestClient, app: FastAPI, people: Any) -> None:
    rec = record(app)
    app.state.events_ws_ping_seconds = 0.3
    with (
        client.websocket_connect(f"{WS}?token={people.agent}") as ws,
        client.websocket_connect(f"{WS}?token={people.agent}&agent_id={people.other_agent_id}") as prying,
    ):
        ready(ws)
        ready(prying)
        rec.emit(AVAILABLE, agent_id=people.other_agent_id)
        rec.emit(QueueEntered(), call_id="c9", queue_id=1)  # concerns no agent
        mine = rec.emit(AgentOffered(), agent_id=people.agent_id, call_id="c9")
        got = receive_until(ws, mine.id)
        assert [m["id"] for m in got] == [mine.id]
        # Asking for another agent's events yields nothing: the next frame is a keepalive or nothing.
        rec.emit(AgentOffered(), agent_id=people.other_agent_id, call_id="c10")
        assert prying.receive_json()["type"] == "ping"


def test_supervisor_sees_own_team_and_unassigned(client: TestClient, app: FastAPI, people: Any) -> None:
    rec = record(app)
    with client.websocket_connect(f"{WS}?token={people.supervisor}") as ws:
        ready(ws)
        rec.emit(AVAILABLE, agent_id=people.other_agent_id)  # team B: hidden
        q = rec.emit(QueueEntered(), call_id="c1", queue_id=1)
        own = rec.emit(AVAILABLE, agent_id=people.agent_id)
        got = receive_until(ws, own.id)
    assert [m["id"] for m in got] == [q.id, own.id]


def test_since_replays_then_goes_live_without_gaps_or_duplicates(
    client: TestClient, app: FastAPI, people: Any
) -> None:
    rec = record(app)
    with app.state.sessions() as s, s.begin():  # several replay pages, so the catch-up overlaps the writer
        before = [rec.append(s, CREATED, call_id=f"b{i}") for i in range(1300)]
    since = before[9].id
    stop = threading.Event()
    emitted: list[EventEnvelope] = []

    def writer() -> None:  # keeps committing while the client connects and catches up
        for i in range(60):
            emitted.append(rec.emit(CREATED, call_id=f"w{i}"))
        stop.set()

    app.state.events_ws_queue_size = 10_000
    thread = threading.Thread(target=writer)
    thread.start()
    with client.websocket_connect(f"{WS}?token={people.admin}&since={since}") as ws:
        thread.join()
        last = rec.emit(
            CallEnded(reason="done", answered=False, hangup_by=None, leg_kind=None, sip_status=None),
            call_id="end",
        )
        got = [m for m in receive_until(ws, last.id)]
    with app.state.sessions() as s:
        expected = list(s.scalars(select(Event.id).where(Event.id > since).order_by(Event.id)))
    ids = [m["id"] for m in got]
    assert len(ids) == len(set(ids)), "duplicates"
    assert ids == expected  # every event after `since`, in order, each once
    assert len(ids) == 1290 + 60 + 1


def test_ready_reports_the_last_replayed_id(client: TestClient, app: FastAPI, people: Any) -> None:
    rec = record(app)
    evs = [rec.emit(CREATED, call_id=f"c{i}", queue_id=i % 2) for i in range(6)]
    with client.websocket_connect(f"{WS}?token={people.admin}&since=0&queue_id=1") as ws:
        replayed = [ws.receive_json() for _ in range(3)]
        assert [m["id"] for m in replayed] == [e.id for e in evs if e.queue_id == 1]
        assert ready(ws)["last_id"] == evs[5].id


def test_keepalive_ping(client: TestClient, app: FastAPI, people: Any) -> None:
    app.state.events_ws_ping_seconds = 0.05
    with client.websocket_connect(f"{WS}?token={people.admin}") as ws:
        ready(ws)
        ping = ws.receive_json()
        assert ping["type"] == "ping" and ping["ts_ms"] > 1_600_000_000_000


def test_slow_consumer_is_closed_with_its_resume_point(client: TestClient, app: FastAPI, people: Any) -> None:
    app.state.events_ws_queue_size = 4
    with client.websocket_connect(f"{WS}?token={people.admin}") as ws:
        ready(ws)

        def burst() -> None:  # runs on the server's loop: all 20 land before the stream can read one
            for i in range(1, 21):
                app.state.bus.publish_nowait(
                    EventEnvelope(id=i, node_id="x", seq=i, type="call.created", ts_ms=1)
                )

        assert client.portal is not None
        client.portal.call(burst)
        with pytest.raises(WebSocketDisconnect) as exc:
            while True:
                ws.receive_json()
    assert exc.value.code == 4008
    assert "since=" in exc.value.reason


def test_rest_list_pages_and_filters(client: TestClient, app: FastAPI, people: Any) -> None:
    rec = record(app)
    evs = [rec.emit(CREATED if i % 2 else QueueEntered(), call_id=f"c{i}", queue_id=3) for i in range(7)]
    auth = {"Authorization": f"Bearer {people.admin}"}
    page1 = client.get(WS, params={"limit": 3}, headers=auth).json()
    assert [e["id"] for e in page1["items"]] == [e.id for e in evs[:3]]
    page2 = client.get(WS, params={"limit": 3, "since": page1["next_since"]}, headers=auth).json()
    page3 = client.get(WS, params={"limit": 3, "since": page2["next_since"]}, headers=auth).json()
    assert [e["id"] for e in page2["items"] + page3["items"]] == [e.id for e in evs[3:]]
    assert page3["next_since"] is None
    calls = client.get(WS, params={"types": "call.*"}, headers=auth).json()["items"]
    assert [e["call_id"] for e in calls] == ["c1", "c3", "c5"]
    bad = client.get(WS, params={"types": "nope.*"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "types"]
    assert client.get(WS).status_code == 401
    assert client.get(WS, headers={"Authorization": f"Bearer {people.agent}"}).status_code == 403


def test_rest_post_records_an_event(client: TestClient, app: FastAPI, people: Any) -> None:
    auth = {"Authorization": f"Bearer {people.admin}"}
    r = client.post(WS, json={"type": "csat.recorded", "call_id": "c1", "data": {"score": 5}}, headers=auth)
    assert r.status_code == 201, r.text
    with app.state.sessions() as s:
        row = s.get(Event, r.json()["id"])
    assert row is not None and (row.type, row.call_id) == ("csat.recorded", "c1")
    assert row.data == r.json()["data"] == {"score": 5}  # as posted: an unset optional field stays out
    bad = client.post(WS, json={"type": "csat.exploded"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "type"]
    for data, field in (({"score": "5"}, "score"), ({"score": 5, "stars": 5}, "stars"), ({}, "score")):
        bad = client.post(WS, json={"type": "csat.recorded", "data": data}, headers=auth)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "data", field], bad.text
        assert f"csat.recorded payload, field '{field}'" in bad.json()["detail"][0]["msg"]
    sup = {"Authorization": f"Bearer {people.supervisor}"}
    assert client.post(WS, json={"type": "csat.recorded"}, headers=sup).status_code == 403
