"""The lead hopper: which leads to dial next, and when a lead is tried again after each outcome.

Leads that are due (new, or their retry time has come) are ordered: callbacks that have come due first (an agent
promised the callee that time), then by priority (higher first), then by how soon
their calling window closes in their own time zone (a lead whose evening ends sooner goes first, so it is not lost
for the day), then by retry time and lead id. A lead outside its window is not offered at all. A personal
callback (`agent_id`) is only handed out when that agent is among the free agents the caller names. Every
outcome applies its `RetryRule`: a delay before the next attempt, or done; `max_attempts` ends any lead.

Sans-IO: `now` is an aware datetime argument.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from duplex.dialer.compliance import CallingWindow
from duplex.dialer.types import LeadStatus

__all__ = ["DEFAULT_RETRY_RULES", "DialResult", "HopperLead", "LeadHopper", "RetryRule"]


class DialResult(enum.StrEnum):
    """The outcome of one attempt, as the retry rules know it."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"
    ABANDONED = "abandoned"  # answered, no agent: the 72-hour rule applies
    INVALID = "invalid"
    CONNECTED = "connected"  # reached an agent; a callback is the agent's disposition
    OPT_OUT = "opt_out"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryRule:
    retry_after: timedelta | None  # None: the lead is finished with `final_status`
    final_status: LeadStatus = LeadStatus.DONE


DEFAULT_RETRY_RULES: Mapping[DialResult, RetryRule] = {
    DialResult.BUSY: RetryRule(retry_after=timedelta(minutes=10)),
    DialResult.NO_ANSWER: RetryRule(retry_after=timedelta(hours=2)),
    DialResult.MACHINE: RetryRule(retry_after=timedelta(hours=4)),
    DialResult.ABANDONED: RetryRule(retry_after=timedelta(hours=72)),
    DialResult.INVALID: RetryRule(retry_after=None, final_status=LeadStatus.INVALID),
    DialResult.CONNECTED: RetryRule(retry_after=None),
    DialResult.OPT_OUT: RetryRule(retry_after=None, final_status=LeadStatus.DNC),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HopperLead:
    lead_id: int
    phone: str
    time_zone: str  # leads without a zone never enter the hopper: the compliance check skips them
    priority: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = None  # None: due now
    status: LeadStatus = LeadStatus.NEW
    agent_id: int | None = None  # a personal callback: only this agent may get the call


@dataclass
class LeadHopper:
    window: CallingWindow = field(default_factory=CallingWindow)
    retry_rules: Mapping[DialResult, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRY_RULES))
    max_attempts: int = 5
    _leads: dict[int, HopperLead] = field(default_factory=dict)

    def add(self, lead: HopperLead) -> None:
        ZoneInfo(lead.time_zone)  # an unknown zone is refused here, not at dial time
        self._leads[lead.lead_id] = lead

    def get(self, lead_id: int) -> HopperLead:
        return self._leads[lead_id]

    def _closes_in(self, lead: HopperLead, now: datetime) -> timedelta | None:
        """Time left in the lead's calling window today; None when it is outside the window now."""
        local = now.astimezone(ZoneInfo(lead.time_zone))
        window = self.window
        if local.date() in window.holidays or (not window.sundays and local.weekday() == 6):
            return None
        if not window.start <= local.time() < window.end:
            return None
        end = local.replace(hour=window.end.hour, minute=window.end.minute, second=0, microsecond=0)
        return end - local

    def next_batch(self, now: datetime, count: int, *, free_agents: Collection[int] = ()) -> list[HopperLead]:
        """Up to `count` due leads, best first; they are marked DIALING until `record()`. A personal callback
        is only among them when its agent is in `free_agents`."""
        ready: list[tuple[bool, int, timedelta, datetime, int]] = []
        for lead in self._leads.values():
            if lead.status not in (LeadStatus.NEW, LeadStatus.RETRY, LeadStatus.CALLBACK):
                continue
            if lead.next_attempt_at is not None and lead.next_attempt_at > now:
                continue
            if lead.agent_id is not None and lead.agent_id not in free_agents:
                continue
            closes = self._closes_in(lead, now)
            if closes is None:
                continue
            callback = lead.status is LeadStatus.CALLBACK
            ready.append((not callback, -lead.priority, closes, lead.next_attempt_at or now, lead.lead_id))
        ready.sort()
        batch = []
        for *_, lead_id in ready[: max(0, count)]:
            lead = replace(self._leads[lead_id], status=LeadStatus.DIALING)
            self._leads[lead_id] = lead
            batch.append(lead)
        return batch

    def schedule_callback(self, lead: HopperLead, at: datetime, agent_id: int | None) -> HopperLead:
        """An agent promised a call at `at` (personal when `agent_id` is set): the lead waits until then."""
        updated = replace(self._leads.get(lead.lead_id, lead), status=LeadStatus.CALLBACK, next_attempt_at=at,
                          agent_id=agent_id)  # fmt: skip
        self.add(updated)
        return updated

    def record(
        self, lead_id: int, result: DialResult, now: datetime, *, callback_at: datetime | None = None
    ) -> HopperLead:
        """Apply the outcome of an attempt; `callback_at` (an agent's callback disposition) overrides the rule."""
        lead = self._leads[lead_id]
        attempts = lead.attempts + 1
        if callback_at is not None:
            updated = replace(
                lead, attempts=attempts, next_attempt_at=callback_at, status=LeadStatus.CALLBACK
            )
        else:
            rule = self.retry_rules[result]
            if rule.retry_after is None:
                updated = replace(lead, attempts=attempts, next_attempt_at=None, status=rule.final_status)
            elif attempts >= self.max_attempts:
                updated = replace(lead, attempts=attempts, next_attempt_at=None, status=LeadStatus.DONE)
            else:
                updated = replace(
                    lead, attempts=attempts, next_attempt_at=now + rule.retry_after, status=LeadStatus.RETRY
                )
        self._leads[lead_id] = updated
        return updated
