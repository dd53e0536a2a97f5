"""GET /metrics (at the root, Prometheus text format).

No authentication, like most Prometheus exporters: scrapers rarely carry credentials. It exposes counts only
(no names, numbers or call ids); put it behind the reverse proxy's ACL if that matters to you.
HTTP metrics come from `routing.DuplexRoute`; agents by state and calls in progress are read from the
database at scrape time by a custom collector (a "gauge callback").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from duplex.api.routing import DuplexRoute
from duplex.db.models import Agent, Call

MOUNT_AT_ROOT = True

router = APIRouter(route_class=DuplexRoute)


class DatabaseGauges(Collector):
    """Agents by state and calls in progress, counted in the database when scraped."""

    def __init__(self, app_state: Any) -> None:
        self.app_state = app_state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        agents = GaugeMetricFamily("duplex_agents", "Agents by state.", labels=["state"])
        calls = GaugeMetricFamily(
            "duplex_calls_in_progress", "Calls not ended, by direction.", labels=["direction"]
        )
        with self.app_state.sessions() as session:
            for state, count in session.execute(select(Agent.state, func.count()).group_by(Agent.state)):
                agents.add_metric([state], count)
            in_progress = (
                select(Call.direction, func.count()).where(Call.ended_at.is_(None)).group_by(Call.direction)
            )
            for direction, count in session.execute(in_progress):
                calls.add_metric([direction], count)
        yield agents
        yield calls


def _render(app_state: Any) -> bytes:
    local = CollectorRegistry(auto_describe=False)
    local.register(DatabaseGauges(app_state))
    return generate_latest(REGISTRY) + generate_latest(local)


@router.get("/metrics", tags=["system"], include_in_schema=False)
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(_render, request.app.state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
