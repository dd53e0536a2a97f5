"""The wallboard: a live snapshot per queue and per campaign, computed from the event record.

Pure over events (`snapshot`); the API reads the last 24 hours of events (`kpi_store.load_report_events`)
and the 30-day campaign abandon rate from the CDR rows (`campaign_abandon_since`), one aggregate query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from duplex.events.types import EventEnvelope
from duplex.reports.call_facts import CallFacts, agent_intervals, calls_of
from duplex.reports.kpis import KpiInputs, campaign_kpis, queue_kpis

__all__ = ["CampaignBoard", "QueueBoard", "Wallboard", "snapshot"]

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueBoard:
    queue_id: int
    waiting: int  # calls in the queue now (queue.entered in the last 24 h, no queue.left yet)
    longest_wait_s: float | None  # now - the earliest of those
    service_level_today: float | None  # as queue_kpis, since midnight (UTC)
    abandon_rate_today: float | None
    answered_today: int
    agents_by_state: dict[str, int] = field(default_factory=dict)  # the queue's members by current state


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignBoard:
    campaign_id: int
    dial_level: float | None  # the last campaign.pacing lines_per_agent
    abandon_rate_24h: float | None  # abandoned / human-answered over the last 24 h
    abandon_rate_30d: float | None  # the same over 30 days (from the CDR rows)
    connects_today: int  # calls answered since midnight


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallboard:
    now_ms: int
    queues: list[QueueBoard]
    campaigns: list[CampaignBoard]
    agents_by_state: dict[str, int]  # every agent with a known state, by state


def snapshot(
    events: Iterable[EventEnvelope],
    now_ms: int,
    inputs: KpiInputs,
    *,
    queue_members: Mapping[int, frozenset[int]],
    queue_ids: Iterable[int] = (),
    campaign_ids: Iterable[int] = (),
    abandon_30d: Mapping[int, float | None] | None = None,
    facts: Mapping[str, CallFacts] | None = None,
) -> Wallboard:
    """The board at `now_ms` from the events of the 24 hours before it (and the agents' states before).
    `queue_ids`/`campaign_ids` are listed even without events; `facts` is calls_of(events) if known."""
    evs = list(events)
    midnight = now_ms - now_ms % DAY_MS
    end = now_ms + 1
    calls = (
        facts if facts is not None else calls_of(evs)
    )  # once: the costly step, shared by the three projections below
    today_q = {q.queue_id: q for q in queue_kpis(evs, midnight, end, inputs, facts=calls)}
    waiting: dict[int, list[int]] = {}
    for call in calls.values():
        for v in call.visits:
            if v.left_ms is None and now_ms - DAY_MS <= v.entered_ms <= now_ms:
                waiting.setdefault(v.queue_id, []).append(v.entered_ms)
    state_of: dict[int, str] = {}
    for iv in agent_intervals(evs, now_ms - DAY_MS, end):
        state_of[iv.agent_id] = iv.state  # intervals come in time order per agent: the last one wins
    queues = []
    for qid in sorted(set(queue_ids) | today_q.keys() | waiting.keys()):
        q = today_q.get(qid)
        by_state: dict[str, int] = {}
        for aid in queue_members.get(qid, frozenset()):
            if aid in state_of:
                by_state[state_of[aid]] = by_state.get(state_of[aid], 0) + 1
        queues.append(
            QueueBoard(
                queue_id=qid,
                waiting=len(waiting.get(qid, [])),
                longest_wait_s=(now_ms - min(waiting[qid])) / 1000 if qid in waiting else None,
                service_level_today=q.service_level if q else None,
                abandon_rate_today=q.abandon_rate if q else None,
                answered_today=q.answered if q else 0,
                agents_by_state=dict(sorted(by_state.items())),
            )
        )
    day = {c.campaign_id: c for c in campaign_kpis(evs, now_ms - DAY_MS, end, inputs, facts=calls)}
    today = {c.campaign_id: c for c in campaign_kpis(evs, midnight, end, inputs, facts=calls)}
    level: dict[int, tuple[int, float]] = {}
    for env in evs:
        if env.type == "campaign.pacing" and env.campaign_id is not None:
            prev = level.get(env.campaign_id)
            if prev is None or env.ts_ms >= prev[0]:
                level[env.campaign_id] = (env.ts_ms, float(env.data.get("lines_per_agent", 0.0)))
    campaigns = [
        CampaignBoard(
            campaign_id=cid,
            dial_level=level[cid][1] if cid in level else None,
            abandon_rate_24h=day[cid].abandon_rate if cid in day else None,
            abandon_rate_30d=(abandon_30d or {}).get(cid),
            connects_today=today[cid].connected if cid in today else 0,
        )
        for cid in sorted(set(campaign_ids) | day.keys() | level.keys())
    ]
    overall: dict[str, int] = {}
    for state in state_of.values():
        overall[state] = overall.get(state, 0) + 1
    return Wallboard(
        now_ms=now_ms, queues=queues, campaigns=campaigns, agents_by_state=dict(sorted(overall.items()))
    )
