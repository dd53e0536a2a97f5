"""The report loader: the same KPIs as from every event, and only indexed reads of the events table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kpi_events import DAY, DAY_END, SALE, campaign_day, created, inbound_day
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from duplex.db.base import make_engine, make_session_factory
from duplex.db.migrate import upgrade
from duplex.events.record import EventRecord
from duplex.events.types import EventEnvelope
from duplex.reports.kpi_store import load_report_events
from duplex.reports.kpis import KpiInputs, agent_kpis, campaign_kpis, queue_kpis, source_kpis

INPUTS = KpiInputs(
    service_level_seconds={1: 20}, success_dispositions=frozenset({SALE}), cost_per_minute={5: 0.5}
)


def _day_before_and_after() -> list[EventEnvelope]:
    # other days' calls the loader must leave out, and a repeat caller a week later (+402: b not resolved)
    return [created(-80_000, "old", "+402", None), created(86_400 * 3, "later", "+402", None)]


def _fill(sessions: sessionmaker[Session]) -> list[EventEnvelope]:
    events = sorted([*inbound_day(), *campaign_day(), *_day_before_and_after()], key=lambda e: e.ts_ms)
    now = [0]
    record = EventRecord(sessions, node_id="t", clock_ms=lambda: now[0], projectors=())
    with sessions() as s, s.begin():
        for e in events:
            now[0] = e.ts_ms
            record.append(s, e.type, call_id=e.call_id, agent_id=e.agent_id, queue_id=e.queue_id,
                          campaign_id=e.campaign_id, lead_id=e.lead_id, data=e.data)  # fmt: skip
    return events


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.mark.parametrize("kpis", [queue_kpis, agent_kpis, campaign_kpis, source_kpis])
def test_loaded_events_give_the_kpis_of_the_whole_record(sessions: sessionmaker[Session], kpis: Any) -> None:
    everything = _fill(sessions)
    with sessions() as s:
        loaded = load_report_events(s, DAY, DAY_END)
    assert len(loaded) < len(everything)
    assert [r.to_dict() for r in kpis(loaded, DAY, DAY_END, INPUTS)] == [
        r.to_dict() for r in kpis(everything, DAY, DAY_END, INPUTS)
    ]
    if kpis is queue_kpis:
        assert kpis(loaded, DAY, DAY_END, INPUTS)[0].outcomes.first_call_resolution == 1 / 3  # a and b repeat


def test_no_query_scans_the_events_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    engine = make_engine(url)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "events" in statement:
            statements.append((statement, params))

    sessions = make_session_factory(engine)
    _fill(sessions)
    statements.clear()
    with sessions() as s:
        load_report_events(s, DAY, DAY_END)
    assert statements
    with engine.connect() as conn:
        for statement, params in statements:
            plan = " | ".join(
                str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            )
            assert "SCAN events" not in plan, (statement, plan)
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (statement, plan)
    engine.dispose()
