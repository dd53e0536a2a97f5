"""A running campaign: the dialer cores driven by the live call layer.

Every `tick` seconds the pacer of the campaign's dial mode is asked how many calls it wants for the live agent
count, the trunk gate (`dialer.pacing.DialGate`, the trunk's CPS and channels) cuts that down, the lead hopper
gives that many due leads, and the compliance engine decides, at that moment, for each one: dial, or skip with
its reason. Every decision is an event (`lead.dialed`, `lead.skipped`); a campaign over its abandon limit dials
nothing and says so (`campaign.pacing` with the rate). Each dialed lead runs as an `attempt`, and its outcome
goes to the event record (`call.outcome`), the retry rules (the hopper), the abandon ledger and the pacer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import phonenumbers

from duplex.dialer.compliance import (
    CallingWindow,
    ComplianceEngine,
    ComplianceRules,
    Consent,
    LeadToCheck,
    SkipReason,
    callee_time_zones,
)
from duplex.dialer.compliance_abandon import AbandonLedger
from duplex.dialer.hopper import DEFAULT_RETRY_RULES, HopperLead, LeadHopper
from duplex.dialer.pacing import (
    AgentReleased,
    DialGate,
    DialOutcome,
    Pacer,
    PacingState,
    PowerPacer,
    ProgressivePacer,
    TrunkLimits,
)
from duplex.dialer.pacing_predictive import PredictiveConfig, PredictivePacer
from duplex.dialer.types import CampaignStatus, DialMode, LeadStatus
from duplex.media.amd import AmdParameters
from duplex.services.calls.call import Call, CallControl
from duplex.services.campaigns.agents import AgentPool
from duplex.services.campaigns.attempt import AttemptPlan, AttemptResult, run_attempt
from duplex.services.campaigns.outcomes import for_pacer, for_retry
from duplex.stores.campaign_store import CampaignRow, CampaignStore, LeadRow

__all__ = ["SKIP_REASONS", "CampaignRuntime", "RuntimeOptions", "local_presence_caller_id"]

log = logging.getLogger("duplex.services.campaigns.runtime")

# The compliance core's reasons as the event catalogue names them (`lead.skipped`'s reason).
SKIP_REASONS: Mapping[SkipReason, str] = {
    SkipReason.INVALID_NUMBER: "invalid_number", SkipReason.NO_TIME_ZONE: "no_timezone",
    SkipReason.OUTSIDE_WINDOW: "outside_window", SkipReason.SUNDAY: "outside_window",
    SkipReason.HOLIDAY: "outside_window", SkipReason.INTERNAL_DNC: "dnc", SkipReason.NATIONAL_DNC: "dnc",
    SkipReason.DNC_LIST_MISSING: "dnc_list_stale", SkipReason.DNC_LIST_STALE: "dnc_list_stale",
    SkipReason.NO_CONSENT: "no_consent", SkipReason.CONSENT_REVOKED: "consent_revoked",
    SkipReason.RECENT_ABANDON: "recent_abandon",
}  # fmt: skip
# Skips that end a lead for this campaign; the others are checked again after `recheck_after`.
_FINAL = {SkipReason.INVALID_NUMBER: LeadStatus.INVALID, SkipReason.INTERNAL_DNC: LeadStatus.DNC,
          SkipReason.NATIONAL_DNC: LeadStatus.DNC}  # fmt: skip
MIN_RING_SECONDS = 15.0  # a callee gets at least 15 s (four rings) to answer (47 CFR 64.1200(a)(6))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeOptions:
    tick: float = 0.25
    ring_seconds: float = 25.0  # raised to MIN_RING_SECONDS when set lower
    connect_within: float = 2.0  # a person hears an agent or the safe-harbour message within this
    safe_harbour: str = "Sorry, all our agents are busy. We will not call you again today. Goodbye."
    machine_message: bool = False  # leave the campaign's message (broadcast_prompt) after the beep
    require_national_dnc: bool = True
    dnc_max_age: dt.timedelta = dt.timedelta(days=31)
    consent_scope: str | None = None
    amd: AmdParameters = field(default_factory=AmdParameters)
    amd_false_positive: float = 0.02  # the detector's measured rate, counted as abandons
    recall_after_abandon: dt.timedelta = dt.timedelta(hours=72)
    recheck_after: dt.timedelta = dt.timedelta(minutes=5)  # a lead skipped for a passing reason
    preview_timeout: float = 30.0  # an offered preview lead not accepted by then goes back
    caller_id_pool: tuple[str, ...] = ()  # local presence: the number sharing the lead's area code
    # the predictive pacer's tuning (its abandon target and AMD false positives come from the campaign and
    # the options above); None: the defaults, a cautious start included
    predictive: PredictiveConfig | None = None
    region: str = "US"  # for numbers given without a country code
    clock: Callable[[], dt.datetime] = _utcnow


def _area(phone: str) -> str | None:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(number)
    length = phonenumbers.length_of_geographical_area_code(number)
    return f"{number.country_code}:{national[:length]}" if length else None


def local_presence_caller_id(phone: str, pool: tuple[str, ...], fixed: str | None) -> str | None:
    """The pool's number in the lead's area code, else the fixed caller ID."""
    area = _area(phone)
    if area is not None:
        for candidate in pool:
            if _area(candidate) == area:
                return candidate
    return fixed


def _pacer(campaign: CampaignRow, options: RuntimeOptions) -> Pacer:
    if campaign.dial_mode is DialMode.POWER:
        return PowerPacer(max(1.0, campaign.lines_per_agent))
    if campaign.dial_mode is DialMode.PREDICTIVE:
        config = replace(options.predictive or PredictiveConfig(), abandon_target=campaign.max_abandon_rate,
                         amd_false_positive=options.amd_false_positive)  # fmt: skip
        return PredictivePacer(config)
    return ProgressivePacer()


def _window(campaign: CampaignRow) -> CallingWindow:
    start, end = (
        dt.time.fromisoformat(x) for x in (campaign.calling_hours_start, campaign.calling_hours_end)
    )
    return CallingWindow(start=start, end=end)


@dataclass(slots=True)
class _InFlight:
    lead: HopperLead
    placed_at: float
    call: Call


class CampaignRuntime:
    def __init__(self, control: CallControl, store: CampaignStore, campaign: CampaignRow, agents: AgentPool,
                 *, options: RuntimeOptions | None = None,
                 answers: Sequence[tuple[dt.datetime, str, bool]] = ()) -> None:  # fmt: skip
        self.control, self.store, self.agents = control, store, agents
        self.campaign = campaign
        self.options = options or RuntimeOptions()
        self.status = campaign.status
        rules = ComplianceRules(
            window=_window(campaign), dnc_max_age=self.options.dnc_max_age,
            require_national_dnc=self.options.require_national_dnc, consent_scope=self.options.consent_scope,
            abandon_limit=campaign.max_abandon_rate, amd_false_positive=self.options.amd_false_positive,
            recall_after_abandon=self.options.recall_after_abandon,
        )  # fmt: skip
        ledger = AbandonLedger(campaign_started=campaign.created_at,
                               amd_false_positive=self.options.amd_false_positive)  # fmt: skip
        for at, phone, abandoned in answers:  # the record's live answers: the limits hold across restarts
            ledger.record(at=at, phone=phone, abandoned=abandoned)
        self.compliance = ComplianceEngine(campaign_id=campaign.id, campaign_started=campaign.created_at,
                                           rules=rules, ledger=ledger)  # fmt: skip
        retry = dict(DEFAULT_RETRY_RULES)
        self.hopper = LeadHopper(window=rules.window, retry_rules=retry, max_attempts=campaign.max_attempts)
        self.pacer = _pacer(campaign, self.options)
        self.gate: DialGate | None = None
        self.in_flight: dict[int, _InFlight] = {}  # lead id -> the attempt ringing or being analysed
        self.live_calls: set[str] = set()  # calls of this campaign still up (channels in use)
        self.phones: dict[int, LeadRow] = {}
        self.held_for_abandon = False
        self.decisions: Counter[str] = Counter()  # "dialed" and each skip reason, since start
        self.previews: dict[int, tuple[HopperLead, float]] = {}  # lead id -> (lead, offer deadline)
        self.manual_calls: dict[int, Call] = {}  # agent id -> the last call that agent dialled by hand
        self.consents: dict[str, tuple[Consent, ...]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self.stopped = asyncio.Event()

    # -- events -----------------------------------------------------------------------------------------
    def emit(self, type_: str, data: dict[str, Any], *, lead_id: int | None = None,
             call_id: str | None = None) -> None:  # fmt: skip
        self.control.store.emit(
            type_, campaign_id=self.campaign.id, lead_id=lead_id, call_id=call_id, data=data
        )

    def _set_status(self, status: CampaignStatus) -> None:
        if status is self.status:
            return
        self.emit("campaign.status_changed", {"from": self.status.value, "to": status.value})
        self.status = status
        self.store.set_status(self.campaign.id, status)

    # -- lifecycle --------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.status is CampaignStatus.RUNNING:
            return
        if self._loop_task is None:
            await asyncio.to_thread(self._load)
        self._set_status(CampaignStatus.RUNNING)
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._run())

    def pause(self) -> None:
        """No new calls; the calls up now go on."""
        if self.status is CampaignStatus.RUNNING:
            self._set_status(CampaignStatus.PAUSED)

    async def stop(self) -> None:
        """No new calls; ringing attempts are cancelled, connected calls go on to their end."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        for flight in list(self.in_flight.values()):
            await flight.call.hangup("campaign_stopped")
        self._set_status(CampaignStatus.FINISHED)
        self.stopped.set()

    def _load(self) -> None:
        dnc = self.store.dnc_lists(self.options.clock())
        self.compliance.internal_dnc.update(dnc.internal)
        self.compliance.national_dnc = dnc.national
        leads = [lead for lead in self.store.leads(self.campaign.id, self.campaign.lead_filter)
                 if lead.status in (LeadStatus.NEW, LeadStatus.RETRY, LeadStatus.CALLBACK, LeadStatus.DIALING)]  # fmt: skip
        self.consents = self.store.consents(lead.phone for lead in leads)
        for lead in leads:
            self.phones[lead.id] = lead
            zones = (lead.timezone,) if lead.timezone else callee_time_zones(lead.phone)
            if len(set(zones)) != 1:
                # the hopper orders by one zone; the compliance check skips a lead with none or several
                decision = self.compliance.check(self._to_check(lead.id, lead.phone), self.options.clock())
                if not decision.dial:
                    self._skipped(lead.id, decision.reason, decision.detail)
                    continue
            status = LeadStatus.NEW if lead.status is LeadStatus.DIALING else lead.status
            self.hopper.add(HopperLead(lead_id=lead.id, phone=lead.phone, time_zone=zones[0],
                                       priority=lead.priority, attempts=lead.attempts,
                                       next_attempt_at=lead.next_attempt_at, status=status,
                                       agent_id=lead.callback_agent_id if status is LeadStatus.CALLBACK else None))  # fmt: skip
        trunk = self._trunk()
        if trunk is not None:
            self.gate = DialGate(TrunkLimits(cps=trunk.max_cps, channels=trunk.max_channels))

    def _to_check(self, lead_id: int, phone: str) -> LeadToCheck:
        row = self.phones.get(lead_id)
        return LeadToCheck(lead_id=lead_id, phone=phone, time_zone=row.timezone if row else None,
                           consents=self.consents.get(phone, ()))  # fmt: skip

    def _trunk(self) -> Any:
        trunks = self.control.trunks
        if self.campaign.trunk_id is not None:
            return trunks.get(self.campaign.trunk_id)
        listed = trunks.trunks
        return listed[0] if listed else None

    # -- the dialing loop -------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if self.status is CampaignStatus.RUNNING:
                try:
                    self.tick()
                except Exception:
                    log.exception("campaign %s: tick failed", self.campaign.id)
            await asyncio.sleep(self.options.tick)

    def pacing_state(self, now: float) -> PacingState:
        return PacingState(now=now, agents_ready=self.agents.free_agents(),
                           agents_talking=self.agents.busy_agents(),
                           agents_wrapping=self.agents.wrapping_agents(),
                           calls_dialing=len(self.in_flight))  # fmt: skip

    def wanted(self, now: float) -> int:
        """Calls the dial mode wants now, before the trunk's limits."""
        mode = self.campaign.dial_mode
        if mode is DialMode.PREVIEW:
            return 0  # an agent starts each preview call (`accept_preview`)
        if mode is DialMode.AGENTLESS:
            trunk = self._trunk()
            return max(0, (trunk.max_channels if trunk else 0) - len(self.live_calls))
        return self.pacer.calls_to_place(self.pacing_state(now))

    def tick(self) -> int:
        """Place the calls the pacer wants that the trunk and the rules allow; returns how many were placed."""
        now = self.control.now()
        wall = self.options.clock()
        self._expire_previews(now)
        if self._over_abandon_limit(wall):
            return 0
        wanted = self.wanted(now)
        if wanted <= 0 or self.gate is None:
            return 0
        allowed = self.gate.admit(now, wanted, len(self.live_calls))
        placed = 0
        for lead in self.hopper.next_batch(wall, allowed, free_agents=self.agents.free_agent_ids()):
            placed += self._consider(lead, wall, agent_id=lead.agent_id)
        if isinstance(self.pacer, PredictivePacer):
            self.pacer.placed(now, placed)
        return placed

    def _over_abandon_limit(self, wall: dt.datetime) -> bool:
        rates = self.compliance.ledger.rates(wall)
        over = max(rates.values(), default=0.0) > self.campaign.max_abandon_rate
        if over != self.held_for_abandon:
            self.held_for_abandon = over
            self.emit("campaign.pacing", {"mode": self.campaign.dial_mode.value,
                                          "lines_per_agent": 0.0 if over else 1.0,
                                          "abandon_rate": max(rates.values(), default=0.0),
                                          "agents_available": self.agents.free_agents()})  # fmt: skip
        return over

    def _consider(self, lead: HopperLead, wall: dt.datetime, *, agent_id: int | None = None) -> int:
        decision = self.compliance.check(self._to_check(lead.lead_id, lead.phone), wall)
        if decision.reason is SkipReason.ABANDON_LIMIT:  # the campaign holds, the lead is not at fault
            self.hopper.add(replace(lead, status=LeadStatus.RETRY, next_attempt_at=wall))
            self._over_abandon_limit(wall)
            return 0
        if not decision.dial:
            assert decision.reason is not None
            self._skipped(lead.lead_id, decision.reason, decision.detail, hopper_lead=lead)
            return 0
        if self.place(lead, lead.phone, agent_id=agent_id) is None:
            self.hopper.add(replace(lead, status=LeadStatus.RETRY, next_attempt_at=wall))
            return 0
        return 1

    def place(self, lead: HopperLead | None, phone: str, *, agent_id: int | None = None,
              manual: bool = False) -> Call | None:  # fmt: skip
        """Dial `phone` now (the compliance check done) through the campaign's trunk with its caller ID, as an
        attempt of `lead` (None: a number an agent dials by hand that no lead has), answered by `agent_id` when
        given. `manual`: an agent dialled it by hand, so no AMD, no machine message and the pacer does not learn
        from it. None when the trunk has no CPS token or channel free."""
        lead_id = lead.lead_id if lead is not None else None
        trunk = self._trunk()
        call_id = str(uuid.uuid4())
        # the campaign's trunk only: its CPS token and channel are taken here, released when the call ends
        exclude = [t.id for t in self.control.trunks.trunks if trunk is None or t.id != trunk.id]
        picked = self.control.trunks.pick(self.control.now(), call_id, exclude=exclude)
        mode = "manual" if manual else self.campaign.dial_mode.value
        if picked is None:
            self.decisions["trunk_limit"] += 1
            self.emit("lead.skipped", {"reason": "trunk_limit", "detail": "no CPS token or channel"}
                      | ({"mode": mode} if manual else {}), lead_id=lead_id)  # fmt: skip
            return None
        call = Call(self.control, direction="outbound", from_number=self.campaign.caller_id or "",
                    to_number=phone, call_id=call_id)  # fmt: skip
        caller_id = local_presence_caller_id(phone, self.options.caller_id_pool, self.campaign.caller_id)
        self.decisions["dialed"] += 1
        self.emit("lead.dialed", {"phone": phone, "attempt": (lead.attempts if lead else 0) + 1, "mode": mode,
                                  "caller_id": caller_id, "trunk_id": picked.id}, lead_id=lead_id, call_id=call.id)  # fmt: skip
        agentless = not manual and self.campaign.dial_mode is DialMode.AGENTLESS
        plan = AttemptPlan(
            phone=phone, trunk=picked, caller_id=caller_id,
            ring_seconds=max(self.options.ring_seconds, MIN_RING_SECONDS),
            amd=self.options.amd if self.campaign.amd_enabled and not manual else None,
            machine_message=self.campaign.broadcast_prompt if self.options.machine_message and not manual else None,
            agentless=agentless, message=self.campaign.broadcast_prompt,
            safe_harbour=self.options.safe_harbour, connect_within=self.options.connect_within, agent_id=agent_id,
        )  # fmt: skip
        if lead is not None:
            self.in_flight[lead.lead_id] = _InFlight(lead=lead, placed_at=self.control.now(), call=call)
        self.live_calls.add(call.id)
        task = asyncio.get_running_loop().create_task(self._attempt(lead, call, plan, paced=not manual))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return call

    # -- preview mode: an agent sees the lead first ---------------------------------------------------
    def preview_next(self, agent_id: int | None = None) -> HopperLead | None:
        """The next due lead for an agent to accept or skip within `preview_timeout` (that agent's personal
        callbacks included)."""
        wall = self.options.clock()
        batch = self.hopper.next_batch(wall, 1, free_agents=() if agent_id is None else (agent_id,))
        if not batch:
            return None
        self.previews[batch[0].lead_id] = (batch[0], self.control.now() + self.options.preview_timeout)
        return batch[0]

    def accept_preview(self, lead_id: int, agent_id: int | None = None) -> bool:
        """The agent accepted: the lead is checked and dialed now, and connected to that agent when answered;
        False when it was skipped."""
        offered = self.previews.pop(lead_id, None)
        if offered is None:
            return False
        return self._consider(offered[0], self.options.clock(), agent_id=agent_id or offered[0].agent_id) == 1

    def schedule_callback(self, lead_id: int, at: dt.datetime, agent_id: int | None) -> None:
        """A callback set by an agent (a disposition or the desktop): the hopper dials it at `at`."""
        row = self.phones.get(lead_id)
        try:
            known = self.hopper.get(lead_id)
        except KeyError:
            if row is None:
                return  # not a lead this run loaded (another list or filter): the next start reads its row
            zones = (row.timezone,) if row.timezone else callee_time_zones(row.phone)
            if len(set(zones)) != 1:
                return
            known = HopperLead(lead_id=lead_id, phone=row.phone, time_zone=zones[0], priority=row.priority,
                               attempts=row.attempts)  # fmt: skip
        self.hopper.schedule_callback(known, at, agent_id)

    def skip_preview(self, lead_id: int, *, why: str = "agent") -> bool:
        """The agent passed (or the offer timed out): the lead goes back to the hopper."""
        offered = self.previews.pop(lead_id, None)
        if offered is None:
            return False
        lead = offered[0]
        # an agent's pass defers the lead (the next offer is another one); a timed-out offer is due again now
        due = self.options.clock() + (self.options.recheck_after if why == "agent" else dt.timedelta(0))
        self.hopper.add(replace(lead, status=LeadStatus.RETRY, next_attempt_at=due))
        self.emit("lead.updated", {"action": f"preview_{why}_skip", "id": lead_id, "phone": lead.phone,
                                   "status": LeadStatus.RETRY.value}, lead_id=lead_id)  # fmt: skip
        return True

    def _expire_previews(self, now: float) -> None:
        for lead_id, (_, deadline) in list(self.previews.items()):
            if deadline <= now:
                self.skip_preview(lead_id, why="timeout")

    def _skipped(self, lead_id: int, reason: SkipReason | None, detail: str,
                 *, hopper_lead: HopperLead | None = None) -> None:  # fmt: skip
        assert reason is not None
        self.decisions[SKIP_REASONS[reason]] += 1
        self.emit("lead.skipped", {"reason": SKIP_REASONS[reason], "detail": detail or None}, lead_id=lead_id)
        final = _FINAL.get(reason)
        if final is not None:
            self.store.update_lead(lead_id, status=final)
            self.emit(
                "lead.updated", {"action": "status", "id": lead_id, "status": final.value}, lead_id=lead_id
            )
        elif hopper_lead is not None:
            later = self.options.clock() + self.options.recheck_after
            self.hopper.add(replace(hopper_lead, status=LeadStatus.RETRY, next_attempt_at=later))

    # -- one attempt ------------------------------------------------------------------------------------
    async def _attempt(
        self, lead: HopperLead | None, call: Call, plan: AttemptPlan, *, paced: bool = True
    ) -> None:
        result = AttemptResult()
        placed_at = self.control.now()
        try:
            result = await run_attempt(call, plan, self.agents)
        except Exception:
            log.exception("campaign %s: attempt to %s failed", self.campaign.id, plan.phone)
            if not call.ended.is_set():
                await call.hangup("error")
        finally:
            self.control.trunks.release(call.id)
            flight = self.in_flight.pop(lead.lead_id, None) if lead is not None else None
        placed_at = flight.placed_at if flight else placed_at
        await self._resolved(lead, plan.phone, call, result, placed_at if paced else None)
        if result.connected and result.agent_id is not None and paced:
            started = self.control.now()
            await call.ended.wait()
            self.pacer.observe(
                AgentReleased(now=self.control.now(), handle_seconds=self.control.now() - started)
            )
        else:
            await call.ended.wait()
        self.live_calls.discard(call.id)

    async def _resolved(self, lead: HopperLead | None, phone: str, call: Call, result: AttemptResult,
                        placed_at: float | None) -> None:  # fmt: skip
        """The attempt's outcome on the record, the abandon ledger, the pacer (`placed_at` None: a call dialled
        by hand, which the pacer does not learn from) and the lead's retry rule (no lead: nothing more)."""
        wall = self.options.clock()
        lead_id = lead.lead_id if lead is not None else None
        self.emit("call.outcome", {"outcome": result.outcome, "amd_ms": result.amd_ms},
                  lead_id=lead_id, call_id=call.id)  # fmt: skip
        if result.outcome in ("human", "not_sure") and not result.opted_out and result.answered:
            self.compliance.ledger.record(at=wall, phone=phone, abandoned=result.abandoned)
        if placed_at is not None:
            self.pacer.observe(DialOutcome(now=self.control.now(), placed_at=placed_at,
                                           result=for_pacer(result.outcome), connected=not result.abandoned))  # fmt: skip
        if result.opted_out:
            self.opt_out(phone, source="dtmf", lead_id=lead_id)
        if lead is None:
            return
        retry = for_retry(result.outcome, connected=result.connected, opted_out=result.opted_out)
        updated = self.hopper.record(lead.lead_id, retry, wall)
        values = {"status": updated.status, "attempts": updated.attempts, "last_outcome": result.outcome,
                  "next_attempt_at": updated.next_attempt_at, "last_attempt_at": wall}  # fmt: skip
        await asyncio.to_thread(self.store.update_lead, lead.lead_id, **values)
        self.emit("lead.updated", {"action": "status", "id": lead.lead_id, "phone": lead.phone,
                                   "status": updated.status.value}, lead_id=lead.lead_id)  # fmt: skip

    def opt_out(self, phone: str, *, source: str, lead_id: int | None = None) -> None:
        """An opt-out (DTMF or a disposition): on the internal list at once, for this and every campaign."""
        self.compliance.add_internal_dnc(phone)
        entry_id = self.store.add_dnc(phone, reason=f"opt-out ({source}) in campaign {self.campaign.id}")
        self.emit("dnc.added", {"phone": phone, "id": entry_id, "source": source}, lead_id=lead_id)
