"""Contact-center KPIs per queue, agent, campaign and tracking source, computed from recorded events.

Pure functions over `EventEnvelope`s and a time range [start_ms, end_ms) (no database, no clock); the
definitions (formula, events read, edge cases) are in docs/kpis.md and on each field below. A call belongs
to the range it *started* in (call.created, else its first event), so a call spanning midnight counts once,
on the day it began, with all of its events (the caller passes the events after the range too). A rate
whose denominator is 0 is None, not 0.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from duplex.events.types import EventEnvelope
from duplex.reports.call_facts import AgentInterval, CallFacts, agent_intervals, calls_of

__all__ = [
    "AgentKpis", "CampaignKpis", "KpiInputs", "QueueKpis", "SourceKpis", "agent_kpis", "campaign_kpis",
    "queue_kpis", "source_kpis",
]  # fmt: skip

REPEAT_WINDOW_MS = 7 * 24 * 3600 * 1000  # a caller calling again within 7 days was not resolved first time
WRAP_GAP_MS = 10_000  # a wrap_up begins when the call ends; allow for the ACD's reaction time
NOT_LOGGED_IN = frozenset({"offline", "logged_out"})


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiInputs:
    """What the events alone do not say: the configuration that turns counts into KPIs."""

    service_level_seconds: Mapping[int, int]  # queue id -> Y of "X% answered within Y s" (default 20)
    success_dispositions: frozenset[int]  # disposition ids that count as a conversion (is_success)
    unresolved_dispositions: frozenset[int] = frozenset()  # ids whose contact is not resolved (FCR)
    cost_per_minute: Mapping[int, float]  # campaign id -> trunk cost per billed minute
    repeat_window_ms: int = REPEAT_WINDOW_MS


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _mean(values: list[float]) -> float | None:
    return None if not values else sum(values) / len(values)


def _in_range(call: CallFacts, start_ms: int, end_ms: int) -> bool:
    return start_ms <= call.started_ms < end_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcomes:
    """KPIs every grouping shares (over the calls of the group that started in the range)."""

    calls: int  # calls started
    answered_by_agent: int  # calls an agent accepted
    avg_handle_s: float | None  # (talk + hold + wrap) / calls an agent answered
    avg_talk_s: float | None
    avg_hold_s: float | None
    avg_wrap_s: float | None
    avg_duration_s: float | None  # created .. ended over ended calls
    transfer_rate: float | None  # calls with a call.transferred / calls an agent answered
    avg_transfer_s: float | None  # agent answered .. first transfer, over transferred calls
    first_call_resolution: float | None  # answered calls whose caller did not call again in the window
    csat_avg: float | None  # mean csat.recorded score (1-5)
    csat_responses: int
    mos_avg: float | None  # mean of each call's worst-leg MOS
    conversions: int  # calls whose last disposition code is a success code
    conversion_rate: float | None  # conversions / calls an agent answered
    revenue: float  # sum of those dispositions' revenue


def _outcomes(
    calls: list[CallFacts], wrap_ms: Mapping[str, int], repeats: set[str], inputs: KpiInputs
) -> Outcomes:
    handled = [c for c in calls if c.agent_answered_ms is not None and c.ended_ms is not None]
    ended = [c for c in calls if c.ended_ms is not None]
    transferred = [c for c in handled if c.transfer_ms]
    csats = [float(c.csat) for c in calls if c.csat is not None]
    mos = [c.mos for c in calls if c.mos is not None]
    success = [c for c in calls if c.disposition_id in inputs.success_dispositions]
    return Outcomes(
        calls=len(calls),
        answered_by_agent=len(handled),
        avg_handle_s=_mean([(c.talk_ms + c.hold_ms + wrap_ms.get(c.call_id, 0)) / 1000 for c in handled]),
        avg_talk_s=_mean([c.talk_ms / 1000 for c in handled]),
        avg_hold_s=_mean([c.hold_ms / 1000 for c in handled]),
        avg_wrap_s=_mean([wrap_ms.get(c.call_id, 0) / 1000 for c in handled]),
        avg_duration_s=_mean([(c.duration_ms or 0) / 1000 for c in ended]),
        transfer_rate=_ratio(len(transferred), len(handled)),
        avg_transfer_s=_mean([(c.transfer_ms[0] - (c.agent_answered_ms or 0)) / 1000 for c in transferred]),
        first_call_resolution=_ratio(sum(1 for c in handled if _resolved(c, repeats, inputs)), len(handled)),
        csat_avg=_mean(csats),
        csat_responses=len(csats),
        mos_avg=_mean(mos),
        conversions=len(success),
        conversion_rate=_ratio(len(success), len(handled)),
        revenue=sum(c.revenue or 0.0 for c in success),
    )


def _resolved(call: CallFacts, repeats: set[str], inputs: KpiInputs) -> bool:
    return call.call_id not in repeats and call.disposition_id not in inputs.unresolved_dispositions


def _repeated(calls: Iterable[CallFacts], window_ms: int) -> set[str]:
    """Inbound calls whose caller called again within `window_ms` of their start."""
    by_caller: dict[str, list[CallFacts]] = {}
    for c in calls:
        if c.direction == "inbound" and c.from_number:
            by_caller.setdefault(c.from_number, []).append(c)
    out: set[str] = set()
    for group in by_caller.values():
        group.sort(key=lambda c: c.started_ms)
        for c, nxt in zip(group, group[1:], strict=False):
            if nxt.started_ms - c.started_ms <= window_ms:
                out.add(c.call_id)
    return out


def _wrap_by_call(calls: Iterable[CallFacts], intervals: Iterable[AgentInterval]) -> dict[str, int]:
    """Each wrap_up interval goes to the agent's call that ended last at or before it began, if that was
    at most WRAP_GAP_MS before (a wrap-up long after any call of the agent is no call's after-call work)."""
    ends: dict[int, list[tuple[int, str]]] = {}
    for c in calls:
        if c.agent_id is not None and c.ended_ms is not None:
            ends.setdefault(c.agent_id, []).append((c.ended_ms, c.call_id))
    for lst in ends.values():
        lst.sort()
    out: dict[str, int] = {}
    for iv in intervals:
        agent_ends = ends.get(iv.agent_id)
        if iv.state != "wrap_up" or not agent_ends:
            continue
        i = bisect.bisect_right(agent_ends, (iv.start_ms, "\uffff")) - 1
        if i >= 0 and iv.start_ms - agent_ends[i][0] <= WRAP_GAP_MS:
            out[agent_ends[i][1]] = out.get(agent_ends[i][1], 0) + iv.ms
    return out


class _Prepared:
    def __init__(
        self,
        events: Iterable[EventEnvelope],
        start_ms: int,
        end_ms: int,
        inputs: KpiInputs,
        facts: Mapping[str, CallFacts] | None,  # calls_of(events), if the caller has it already
    ) -> None:
        evs = list(events)
        self.all_calls = facts if facts is not None else calls_of(evs)
        in_range = [c for c in self.all_calls.values() if _in_range(c, start_ms, end_ms)]
        self.calls = sorted(in_range, key=lambda c: (c.started_ms, c.call_id))  # sums in a fixed order
        self.intervals = agent_intervals(evs, start_ms, end_ms)
        self.wrap = _wrap_by_call(self.all_calls.values(), self.intervals)
        self.repeats = _repeated(self.all_calls.values(), inputs.repeat_window_ms)
        self.events = evs


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueKpis:
    queue_id: int
    entered: int  # queue.entered in the range (a call re-entering counts again)
    answered: int  # queue.left answered
    abandoned: int  # queue.left abandoned, short abandons excluded
    short_abandoned: int  # abandoned within 5 s: left out of abandon rate and service level
    overflowed: int  # queue.left overflow or timeout (went on elsewhere)
    waiting: int  # no queue.left yet
    abandon_rate: float | None  # abandoned / (entered - short abandoned - waiting)
    service_level: float | None  # answered within Y s / (entered - short abandoned - waiting)
    service_level_seconds: int
    avg_speed_of_answer_s: float | None  # mean wait of the answered
    avg_time_in_queue_s: float | None  # mean wait of every visit that ended
    longest_wait_s: float | None  # the longest ended wait
    outcomes: Outcomes  # over the calls answered from (or last waiting in) this queue

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


def queue_kpis(
    events: Iterable[EventEnvelope],
    start_ms: int,
    end_ms: int,
    inputs: KpiInputs,
    *,
    facts: Mapping[str, CallFacts] | None = None,
) -> list[QueueKpis]:
    p = _Prepared(events, start_ms, end_ms, inputs, facts)
    visits_by_queue: dict[int, list[Any]] = {}
    for c in sorted(p.all_calls.values(), key=lambda c: (c.started_ms, c.call_id)):
        for v in c.visits:
            if start_ms <= v.entered_ms < end_ms:
                visits_by_queue.setdefault(v.queue_id, []).append(v)
    calls_by_queue: dict[int, list[CallFacts]] = {}
    for c in p.calls:
        if c.queue_id is not None:
            calls_by_queue.setdefault(c.queue_id, []).append(c)
    out = []
    for qid in sorted(visits_by_queue.keys() | calls_by_queue.keys()):
        visits = visits_by_queue.get(qid, [])
        sl_s = inputs.service_level_seconds.get(qid, 20)
        done = [v for v in visits if v.left_ms is not None]
        short = [v for v in done if v.short_abandon]
        answered = [v for v in done if v.reason == "answered"]
        abandoned = [v for v in done if v.reason == "abandoned" and not v.short_abandon]
        counted = len(done) - len(short)
        waits = [v.waited_ms / 1000 for v in done]
        out.append(
            QueueKpis(
                queue_id=qid,
                entered=len(visits),
                answered=len(answered),
                abandoned=len(abandoned),
                short_abandoned=len(short),
                overflowed=sum(1 for v in done if v.reason in ("overflow", "timeout")),
                waiting=len(visits) - len(done),
                abandon_rate=_ratio(len(abandoned), counted),
                service_level=_ratio(sum(1 for v in answered if v.waited_ms <= sl_s * 1000), counted),
                service_level_seconds=sl_s,
                avg_speed_of_answer_s=_mean([v.waited_ms / 1000 for v in answered]),
                avg_time_in_queue_s=_mean(waits),
                longest_wait_s=max(waits) if waits else None,
                outcomes=_outcomes(calls_by_queue.get(qid, []), p.wrap, p.repeats, inputs),
            )
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentKpis:
    agent_id: int
    offered: int  # agent.offered
    accepted: int  # agent.accepted
    rejected: int  # agent.rejected
    no_answer: int  # agent.no_answer
    logged_in_s: float  # time in any state but offline/logged_out, within the range
    state_seconds: dict[str, float]  # time in each state, within the range
    talk_s: float  # of the calls it answered that started in the range
    hold_s: float
    wrap_s: float  # time in wrap_up within the range
    occupancy: float | None  # (on_call + wrap_up time) / (logged in time - break/away time)
    outcomes: Outcomes

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


def agent_kpis(
    events: Iterable[EventEnvelope],
    start_ms: int,
    end_ms: int,
    inputs: KpiInputs,
    *,
    facts: Mapping[str, CallFacts] | None = None,
) -> list[AgentKpis]:
    p = _Prepared(events, start_ms, end_ms, inputs, facts)
    counts: dict[int, dict[str, int]] = {}
    for env in p.events:
        if env.agent_id is not None and env.type.startswith("agent.") and start_ms <= env.ts_ms < end_ms:
            counts.setdefault(env.agent_id, {})
            counts[env.agent_id][env.type] = counts[env.agent_id].get(env.type, 0) + 1
    states: dict[int, dict[str, float]] = {}
    for iv in p.intervals:
        per = states.setdefault(iv.agent_id, {})
        per[iv.state] = per.get(iv.state, 0.0) + iv.ms / 1000
    calls: dict[int, list[CallFacts]] = {}
    for c in p.calls:
        if c.agent_id is not None:
            calls.setdefault(c.agent_id, []).append(c)
    out = []
    for aid in sorted(counts.keys() | states.keys() | calls.keys()):
        st = states.get(aid, {})
        logged = sum(s for name, s in st.items() if name not in NOT_LOGGED_IN)
        ready = logged - st.get("break", 0.0) - st.get("away", 0.0)
        n = counts.get(aid, {})
        mine = calls.get(aid, [])
        out.append(
            AgentKpis(
                agent_id=aid,
                offered=n.get("agent.offered", 0),
                accepted=n.get("agent.accepted", 0),
                rejected=n.get("agent.rejected", 0),
                no_answer=n.get("agent.no_answer", 0),
                logged_in_s=logged,
                state_seconds=dict(sorted(st.items())),
                talk_s=sum(c.talk_ms for c in mine) / 1000,
                hold_s=sum(c.hold_ms for c in mine) / 1000,
                wrap_s=st.get("wrap_up", 0.0),
                occupancy=_ratio(st.get("on_call", 0.0) + st.get("wrap_up", 0.0), ready),
                outcomes=_outcomes(mine, p.wrap, p.repeats, inputs),
            )
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignKpis:
    campaign_id: int
    dialed: int  # lead.dialed in the range
    skipped: int  # lead.skipped in the range
    connected: int  # calls answered (call.answered: a person, machine or fax picked up)
    humans: int  # call.outcome human
    machines: int  # call.outcome machine
    connect_rate: float | None  # connected / calls
    human_rate: float | None  # humans / calls
    abandoned: int  # humans no agent took
    abandon_rate: float | None  # abandoned / humans
    first_call_close: float | None  # conversions on the lead's first attempt / first attempts
    billed_minutes: float  # answered .. ended over the campaign's calls
    cost: float  # billed_minutes x cost_per_minute
    cost_per_call: float | None  # cost / calls
    outcomes: Outcomes

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


def campaign_kpis(
    events: Iterable[EventEnvelope],
    start_ms: int,
    end_ms: int,
    inputs: KpiInputs,
    *,
    facts: Mapping[str, CallFacts] | None = None,
) -> list[CampaignKpis]:
    p = _Prepared(events, start_ms, end_ms, inputs, facts)
    skipped: dict[int, int] = {}
    for env in p.events:
        if env.type == "lead.skipped" and env.campaign_id is not None and start_ms <= env.ts_ms < end_ms:
            skipped[env.campaign_id] = skipped.get(env.campaign_id, 0) + 1
    by_campaign: dict[int, list[CallFacts]] = {}
    for c in p.calls:
        if c.campaign_id is not None:
            by_campaign.setdefault(c.campaign_id, []).append(c)
    out = []
    for cid in sorted(by_campaign.keys() | skipped.keys()):
        calls = by_campaign.get(cid, [])
        humans = [c for c in calls if c.outcome == "human"]
        abandoned = [c for c in calls if c.outbound_abandoned]
        first = [c for c in calls if c.attempt == 1]
        minutes = sum(c.billed_ms for c in calls) / 60_000
        cost = minutes * inputs.cost_per_minute.get(cid, 0.0)
        out.append(
            CampaignKpis(
                campaign_id=cid,
                dialed=sum(1 for c in calls if c.attempt is not None),
                skipped=skipped.get(cid, 0),
                connected=sum(1 for c in calls if c.answered_ms is not None),
                humans=len(humans),
                machines=sum(1 for c in calls if c.outcome == "machine"),
                connect_rate=_ratio(sum(1 for c in calls if c.answered_ms is not None), len(calls)),
                human_rate=_ratio(len(humans), len(calls)),
                abandoned=len(abandoned),
                abandon_rate=_ratio(len(abandoned), len(humans)),
                first_call_close=_ratio(
                    sum(1 for c in first if c.disposition_id in inputs.success_dispositions), len(first)
                ),  # fmt: skip
                billed_minutes=minutes,
                cost=cost,
                cost_per_call=_ratio(cost, len(calls)),
                outcomes=_outcomes(calls, p.wrap, p.repeats, inputs),
            )
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceKpis:
    tracking_source: str  # the marketing channel of the number dialled ("" for calls without one)
    answered: int  # calls answered by the IVR or a person
    abandoned: int  # calls that left a queue abandoned (short abandons excluded) and no agent took
    outcomes: Outcomes

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


def source_kpis(
    events: Iterable[EventEnvelope],
    start_ms: int,
    end_ms: int,
    inputs: KpiInputs,
    *,
    facts: Mapping[str, CallFacts] | None = None,
) -> list[SourceKpis]:
    p = _Prepared(events, start_ms, end_ms, inputs, facts)
    by_source: dict[str, list[CallFacts]] = {}
    for c in p.calls:
        if c.direction == "inbound":
            by_source.setdefault(c.tracking_source or "", []).append(c)
    return [
        SourceKpis(
            tracking_source=src,
            answered=sum(1 for c in calls if c.answered_ms is not None),
            abandoned=sum(
                1
                for c in calls
                if c.agent_answered_ms is None
                and any(v.reason == "abandoned" and not v.short_abandon for v in c.visits)
            ),  # fmt: skip
            outcomes=_outcomes(calls, p.wrap, p.repeats, inputs),
        )
        for src, calls in sorted(by_source.items())
    ]


def _flat(row: Any) -> dict[str, Any]:
    """The row as one flat dict (the shared outcomes inlined; state_seconds as state_<name>_s)."""
    d = asdict(row)
    d.update(d.pop("outcomes"))
    for name, seconds in d.pop("state_seconds", {}).items():
        d[f"state_{name}_s"] = seconds
    return d
