"""Manual dial: an agent of a campaign that allows it (`manual_dial`) dials a number by hand, under the campaign.

The number is checked by the campaign's own compliance engine at that moment (DNC lists, the national list's age,
consent, the calling window in the callee's zone, no re-call within 72 hours of an abandoned call), but not held
by the campaign's abandon rate: the agent who dialled is on the line when the callee answers, so pacing cannot
abandon the call. A refusal is recorded as `lead.skipped` with `mode` manual. A number allowed is placed exactly
as a preview lead the agent accepted (`CampaignRuntime.place`): through the campaign's trunk with its caller ID,
`lead.dialed` with mode `manual`, the callee's answer connected to this agent's phone, wrap-up held for the
disposition, and the lead's attempt and status updated by the retry rules when the number is a lead's. The agent
is reserved in the ACD from the moment the call is placed, so no inbound call takes them while it rings.

What the database says about the number (its lead, consents, DNC entries) is read by the caller and passed in,
so this module runs on the campaign's event loop without blocking it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from duplex.dialer.compliance import Consent, LeadToCheck, callee_time_zones
from duplex.dialer.hopper import HopperLead
from duplex.dialer.types import CampaignStatus, LeadStatus
from duplex.services.calls.call import Call
from duplex.services.campaigns.agents import AgentPool
from duplex.services.campaigns.runtime import SKIP_REASONS, CampaignRuntime
from duplex.stores.call_store import AgentInfo
from duplex.stores.campaign_store import LeadRow

__all__ = ["ManualDialRefused", "NumberFacts", "manual_dial"]


class ManualDialRefused(Exception):
    """Why the number is not dialled: `status` 403 (not this agent's to dial), 409 (not now) or 422 (a compliance
    rule; `reason` is the `lead.skipped` reason, e.g. dnc, outside_window)."""

    def __init__(self, status: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberFacts:
    """The number as the database has it now."""

    phone: str  # E.164
    lead: LeadRow | None  # the campaign's lead with this number (or the one the agent named)
    consents: tuple[Consent, ...] = ()
    dnc_sources: frozenset[str] = frozenset()  # the sources (internal, national, ...) of its DNC entries now


def _refresh_dnc(runtime: CampaignRuntime, facts: NumberFacts) -> None:
    """The engine's lists were read when the campaign started: add what was listed since for this number."""
    engine = runtime.compliance
    national = engine.national_dnc
    for source in facts.dnc_sources:
        if source == "national" and national is not None:
            if facts.phone not in national.numbers:
                engine.national_dnc = dataclasses.replace(national, numbers=national.numbers | {facts.phone})
        else:
            engine.add_internal_dnc(facts.phone)


def _hopper_lead(runtime: CampaignRuntime, lead: LeadRow) -> tuple[HopperLead, HopperLead]:
    """The lead as the hopper knows it (its attempts so far) and the same marked dialing, now in the hopper;
    added when it was not loaded (a finished lead, or one the campaign's filter leaves out) so its retry rule
    applies like any attempt's."""
    try:
        known = runtime.hopper.get(lead.id)
    except KeyError:
        zones = (lead.timezone,) if lead.timezone else callee_time_zones(lead.phone)
        known = HopperLead(lead_id=lead.id, phone=lead.phone, time_zone=zones[0] if zones else
                           runtime.campaign.default_timezone, priority=lead.priority, attempts=lead.attempts,
                           next_attempt_at=lead.next_attempt_at, status=lead.status)  # fmt: skip
    dialing = dataclasses.replace(known, status=LeadStatus.DIALING)
    runtime.hopper.add(dialing)
    return known, dialing


def manual_dial(runtime: CampaignRuntime, facts: NumberFacts, *, agent_id: int) -> Call:
    """Check and place the agent's call to `facts.phone`; the new call, or `ManualDialRefused`."""
    if runtime.status is not CampaignStatus.RUNNING:
        raise ManualDialRefused(409, f"the campaign is {runtime.status.value}: it places no calls")
    if not runtime.agents.works(agent_id):
        raise ManualDialRefused(403, "you are not an agent of this campaign")
    if not runtime.agents.is_free(agent_id):
        raise ManualDialRefused(409, "you are not free: finish the call, the wrap-up or the break first")
    placed = runtime.manual_calls.get(agent_id)
    if placed is not None and not placed.ended.is_set():
        raise ManualDialRefused(409, f"your call {placed.id} is still ringing")
    lead = facts.lead
    if lead is not None and (lead.id in runtime.in_flight or lead.id in runtime.previews):
        raise ManualDialRefused(409, f"lead {lead.id} is being dialled or offered to an agent now")
    _refresh_dnc(runtime, facts)
    check = LeadToCheck(lead_id=lead.id if lead else 0, phone=facts.phone, time_zone=lead.timezone if lead else None,
                        consents=facts.consents)  # fmt: skip
    decision = runtime.compliance.check(check, runtime.options.clock(), paced=False)
    if not decision.dial:
        assert decision.reason is not None
        reason = SKIP_REASONS[decision.reason]
        runtime.decisions[reason] += 1
        runtime.emit("lead.skipped", {"reason": reason, "detail": decision.detail or None, "mode": "manual"},
                     lead_id=lead.id if lead else None)  # fmt: skip
        detail = f" ({decision.detail})" if decision.detail else ""
        raise ManualDialRefused(422, f"{reason}: the campaign's rules do not allow this call now{detail}",
                                reason=reason)  # fmt: skip
    before, dialing = _hopper_lead(runtime, lead) if lead is not None else (None, None)
    call = runtime.place(dialing, facts.phone, agent_id=agent_id, manual=True)
    if call is None:
        if before is not None:
            runtime.hopper.add(before)
        raise ManualDialRefused(409, "the campaign's trunk has no channel free now: try again in a moment")
    runtime.manual_calls[agent_id] = call
    held = runtime.agents.reserve(call.id, agent_id)  # no inbound call is offered to them while it rings
    if held is not None:
        task = asyncio.get_running_loop().create_task(_release_after(call, runtime.agents, held))
        runtime.tasks.add(task)
        task.add_done_callback(runtime.tasks.discard)
    return call


async def _release_after(call: Call, agents: AgentPool, agent: AgentInfo) -> None:
    """The call is over: a reservation nobody answered for ends (after a connected call there is nothing to do)."""
    try:
        await call.ended.wait()
    finally:
        agents.release(agent)
