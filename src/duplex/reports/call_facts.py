"""What each call and each agent did, read from recorded events: the inputs of the KPIs (`duplex.reports.kpis`).

Pure: a sequence of `EventEnvelope`s in, frozen values out (no database, no clock). Times are milliseconds
since the epoch, as on the envelope. Events may come in any order; they are sorted by (ts_ms, id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from duplex.events.types import EventEnvelope

__all__ = ["AgentInterval", "CallFacts", "QueueVisit", "agent_intervals", "calls_of"]

SHORT_ABANDON_MS = 5_000  # an abandon this quick is a misdial or an impatient redial, not a lost customer


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueVisit:
    """One stay of a call in one queue (queue.entered .. queue.left)."""

    queue_id: int
    entered_ms: int
    left_ms: int | None  # None: still waiting at the last event read
    reason: str | None  # queue.left's reason: answered, abandoned, overflow, timeout, callback
    waited_ms: int | None  # queue.left's waited_ms, else left - entered

    @property
    def short_abandon(self) -> bool:
        return self.reason == "abandoned" and self.waited_ms is not None and self.waited_ms < SHORT_ABANDON_MS


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFacts:
    """One call summarised: who, where, when, and what came of it."""

    call_id: str
    direction: str | None  # call.created's direction (None: the call started before the events read)
    from_number: str | None
    tracking_source: str | None
    trunk_id: int | None
    campaign_id: int | None
    lead_id: int | None
    attempt: int | None  # lead.dialed's attempt (1 = the lead's first call)
    started_ms: int  # call.created, else the first event read
    answered_ms: int | None  # call.answered (the IVR or the callee answered)
    agent_id: int | None  # the first agent that accepted or was bridged
    agent_answered_ms: int | None
    ended_ms: int | None
    visits: tuple[QueueVisit, ...]
    hold_ms: int  # call.held .. call.resumed, summed (a hold still open at the end counts until the end)
    transfer_ms: tuple[int, ...]  # the times of the call.transferred events
    outcome: str | None  # call.outcome
    disposition_id: int | None  # the last disposition.set
    disposition_code: str | None
    revenue: float | None  # that disposition's revenue
    csat: int | None  # the last csat.recorded score
    mos: float | None  # the worst call.quality mos of its legs

    @property
    def queue_id(self) -> int | None:
        """The queue the call was answered from, else the last queue it visited."""
        for visit in reversed(self.visits):
            if visit.reason == "answered":
                return visit.queue_id
        return self.visits[-1].queue_id if self.visits else None

    @property
    def talk_ms(self) -> int:
        """Agent connected .. call ended, less hold (0 if no agent answered or the call is live)."""
        if self.agent_answered_ms is None or self.ended_ms is None:
            return 0
        return max(0, self.ended_ms - self.agent_answered_ms - self.hold_ms)

    @property
    def duration_ms(self) -> int | None:
        return None if self.ended_ms is None else self.ended_ms - self.started_ms

    @property
    def billed_ms(self) -> int:
        """Answered .. ended: what a carrier bills (per second, no rounding)."""
        if self.answered_ms is None or self.ended_ms is None:
            return 0
        return self.ended_ms - self.answered_ms

    @property
    def outbound_abandoned(self) -> bool:
        """An outbound call that reached a person and no agent took it (the regulators' abandoned call)."""
        return self.outcome == "human" and self.agent_answered_ms is None and self.ended_ms is not None


def _order(events: Iterable[EventEnvelope]) -> list[EventEnvelope]:
    return sorted(events, key=lambda e: (e.ts_ms, e.id))


def calls_of(events: Iterable[EventEnvelope]) -> dict[str, CallFacts]:
    """Each call's facts, by call id, from the events that carry a call id."""
    by_call: dict[str, list[EventEnvelope]] = {}
    for env in events:
        if env.call_id is not None:
            by_call.setdefault(env.call_id, []).append(env)
    return {call_id: _facts(call_id, _order(evs)) for call_id, evs in by_call.items()}


def _facts(call_id: str, events: Sequence[EventEnvelope]) -> CallFacts:  # noqa: C901 - one branch per type
    f: dict[str, object] = {"direction": None, "from_number": None, "tracking_source": None, "trunk_id": None}
    campaign_id = lead_id = attempt = agent_id = None
    answered = agent_answered = ended = None
    outcome = code = disposition_id = None
    revenue = None
    csat = None
    worst_mos: float | None = None
    visits: list[QueueVisit] = []
    open_visits: dict[int, int] = {}  # queue id -> index in visits
    hold_from: int | None = None
    hold_ms = 0
    transfers: list[int] = []
    for env in events:
        d = env.data
        campaign_id = env.campaign_id if env.campaign_id is not None else campaign_id
        lead_id = env.lead_id if env.lead_id is not None else lead_id
        match env.type:
            case "call.created":
                f = {
                    "direction": d.get("direction"),
                    "from_number": d.get("from"),
                    "tracking_source": d.get("tracking_source"),
                    "trunk_id": d.get("trunk_id"),
                }
            case "lead.dialed":
                attempt = d.get("attempt")
            case "call.answered":
                answered = env.ts_ms if answered is None else answered
            case "queue.entered" if env.queue_id is not None:
                open_visits[env.queue_id] = len(visits)
                visits.append(QueueVisit(queue_id=env.queue_id, entered_ms=env.ts_ms, left_ms=None, reason=None,
                                         waited_ms=None))  # fmt: skip
            case "queue.left" if env.queue_id is not None and env.queue_id in open_visits:
                i = open_visits.pop(env.queue_id)
                waited = d.get("waited_ms")
                v = visits[i]
                visits[i] = QueueVisit(
                    queue_id=v.queue_id,
                    entered_ms=v.entered_ms,
                    left_ms=env.ts_ms,
                    reason=d.get("reason"),
                    waited_ms=int(waited) if waited is not None else env.ts_ms - v.entered_ms,
                )
            case "agent.accepted" | "call.bridged":
                if agent_answered is None and (env.agent_id is not None or env.type == "call.bridged"):
                    agent_answered = env.ts_ms
                    agent_id = env.agent_id
                elif agent_id is None and env.agent_id is not None:
                    agent_id = env.agent_id
            case "call.held":
                hold_from = env.ts_ms if hold_from is None else hold_from
            case "call.resumed" if hold_from is not None:
                hold_ms += env.ts_ms - hold_from
                hold_from = None
            case "call.transferred":
                transfers.append(env.ts_ms)
            case "call.outcome":
                outcome = d.get("outcome")
            case "disposition.set":
                code = d.get("code")
                disposition_id = d.get("disposition_id")
                revenue = d.get("revenue")
            case "csat.recorded":
                csat = d.get("score")
            case "call.quality":
                mos = d.get("mos")
                if mos is not None and (worst_mos is None or mos < worst_mos):
                    worst_mos = float(mos)
            case "call.ended":
                ended = env.ts_ms if ended is None else ended
    if hold_from is not None and ended is not None:
        hold_ms += max(0, ended - hold_from)
    started = next((e.ts_ms for e in events if e.type == "call.created"), events[0].ts_ms)
    return CallFacts(
        call_id=call_id, direction=_str(f["direction"]), from_number=_str(f["from_number"]),
        tracking_source=_str(f["tracking_source"]), trunk_id=_int(f["trunk_id"]), campaign_id=campaign_id,
        lead_id=lead_id, attempt=attempt, started_ms=started, answered_ms=answered, agent_id=agent_id,
        agent_answered_ms=agent_answered, ended_ms=ended, visits=tuple(visits), hold_ms=hold_ms,
        transfer_ms=tuple(transfers), outcome=outcome, disposition_id=disposition_id,
        disposition_code=code,
        revenue=float(revenue) if revenue is not None else None, csat=csat, mos=worst_mos,
    )  # fmt: skip


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInterval:
    """An agent in one state from `start_ms` to `end_ms` (clipped to the range asked for)."""

    agent_id: int
    state: str
    start_ms: int
    end_ms: int

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


def agent_intervals(events: Iterable[EventEnvelope], start_ms: int, end_ms: int) -> list[AgentInterval]:
    """The agents' states over [start_ms, end_ms) from agent.state_changed events (events before the range
    give the state at its start; an agent's last state lasts until `end_ms`)."""
    by_agent: dict[int, list[EventEnvelope]] = {}
    for env in events:
        if env.type == "agent.state_changed" and env.agent_id is not None:
            by_agent.setdefault(env.agent_id, []).append(env)
    out: list[AgentInterval] = []
    for agent_id, evs in sorted(by_agent.items()):
        ordered = _order(evs)
        for env, nxt in zip(ordered, [*ordered[1:], None], strict=True):
            a = max(env.ts_ms, start_ms)
            b = min(nxt.ts_ms if nxt is not None else end_ms, end_ms)
            if b > a:
                out.append(
                    AgentInterval(agent_id=agent_id, state=str(env.data.get("to")), start_ms=a, end_ms=b)
                )
    return out
