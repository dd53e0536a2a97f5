"""One attempt to reach a lead: out through the campaign's trunk, listen, and do what the outcome calls for.

Unanswered: the SIP status and any call-progress tone in early media name the outcome. Answered: with AMD on,
the leg's first seconds of audio decide person, machine or fax. A person is connected to a reserved agent
within `connect_within` seconds (2 s, the safe-harbour limit), or hears the safe-harbour message and the
call ends as an abandon. A machine is hung up on, or gets the campaign's message after its beep. In agentless
mode a person hears the message, then may press 1 for an agent or 9 to opt out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from duplex.media.amd import AmdParameters
from duplex.services.calls.call import Call, Leg
from duplex.services.calls.control import TrunkAccess
from duplex.services.calls.uac import OutboundLeg, dial_trunk
from duplex.services.campaigns.agents import AgentPool
from duplex.services.campaigns.listening import (
    ProgressListener,
    detect_answering_machine,
    wait_for_greeting_end,
)
from duplex.services.campaigns.outcomes import Outcome, amd_outcome, failed_outcome
from duplex.stores.call_store import AgentInfo
from duplex.telephony.trunks import TrunkConfig, caller_id_headers

__all__ = ["AttemptPlan", "AttemptResult", "run_attempt"]

log = logging.getLogger("duplex.services.campaigns.attempt")

OPT_OUT_DIGIT = "9"
AGENT_DIGIT = "1"


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptPlan:
    phone: str
    trunk: TrunkConfig
    caller_id: str | None
    ring_seconds: float  # at least the 15-s minimum ring
    amd: AmdParameters | None  # None: AMD off
    machine_message: str | None  # None: hang up on machines
    agentless: bool
    message: str | None  # agentless mode's message (TTS text or a WAV path)
    safe_harbour: str
    connect_within: float = 2.0
    agent_id: int | None = None  # the agent who accepted the preview, or a personal callback's agent


@dataclass(slots=True)
class AttemptResult:
    outcome: Outcome = "failed"
    sip_status: int | None = None
    amd_ms: int | None = None
    answered: bool = False
    connected: bool = False  # a person reached an agent
    abandoned: bool = False  # a person was answered and no agent took the call
    opted_out: bool = False
    agent_id: int | None = None
    notes: list[str] = field(default_factory=list)


async def _play(leg: Leg, prompt: str) -> None:
    """A prompt is a WAV file's path or a text for TTS."""
    if prompt.endswith(".wav"):
        await leg.play(wav=Path(prompt))
    else:
        await leg.play(tts=prompt)


async def run_attempt(call: Call, plan: AttemptPlan, agents: AgentPool) -> AttemptResult:
    """Place the call and carry it to its end; the result says what happened."""
    control: TrunkAccess = call.control
    result = AttemptResult()
    addresses = await control.trunk_addresses(plan.trunk)
    if not addresses:
        result.outcome = "congestion"
        return result
    cid = caller_id_headers(plan.caller_id, plan.trunk)
    extra = tuple((n, v) for n, v in (("P-Asserted-Identity", cid.p_asserted_identity),
                                        ("Privacy", cid.privacy)) if v)  # fmt: skip
    leg = await dial_trunk(call, plan.trunk, addresses[0], plan.phone, kind="lead", from_value=cid.from_,
                           extra=extra, timeout=plan.ring_seconds)  # fmt: skip
    assert leg.media is not None
    progress = ProgressListener(leg.media)
    try:
        answered = await leg.answered
    finally:
        progress.close()
    result.sip_status = leg.final_status
    if not answered:
        result.outcome = failed_outcome(leg.final_status, progress.heard)
        return result
    result.answered = True
    try:
        await _answered(leg, plan, agents, result)
    finally:
        if not call.ended.is_set() and result.agent_id is None:
            await call.hangup("normal")
    return result


async def _answered(leg: OutboundLeg, plan: AttemptPlan, agents: AgentPool, result: AttemptResult) -> None:
    assert leg.media is not None
    if plan.amd is not None:
        verdict = await detect_answering_machine(leg.media, plan.amd)
        result.outcome = amd_outcome(verdict.outcome if verdict else None)
        result.amd_ms = verdict.elapsed_ms if verdict else None
    else:
        result.outcome = "human"
    if result.outcome in ("machine", "fax"):
        if result.outcome == "machine" and plan.machine_message:
            if await wait_for_greeting_end(leg.media):
                await _play(leg, plan.machine_message)
        return
    if plan.agentless:
        await _agentless(leg, plan, agents, result)
        return
    await _connect(leg, plan, agents, result)


async def _connect(leg: OutboundLeg, plan: AttemptPlan, agents: AgentPool, result: AttemptResult) -> None:
    """A person is on the line: an agent within `connect_within`, or the safe-harbour message."""
    agent = agents.reserve(leg.call.id, plan.agent_id)
    if agent is not None:
        agent_leg = await agents.connect(agent, leg, within=plan.connect_within)
        if agent_leg is not None:
            result.connected, result.agent_id = True, agent.id
            leg.call.control.spawn(_release_when_ended(leg.call, agents, agent))
            return
        agents.release(agent)
    result.abandoned = True
    await _play(leg, plan.safe_harbour)


async def _release_when_ended(call: Call, agents: AgentPool, agent: AgentInfo) -> None:
    try:
        await call.ended.wait()
    finally:
        agents.release(agent)


async def _agentless(leg: OutboundLeg, plan: AttemptPlan, agents: AgentPool, result: AttemptResult) -> None:
    """The message, then 1 for an agent (when one is free) or 9 to opt out."""
    if plan.message:
        await _play(leg, plan.message)
    digit = await leg.collect_digits(1, timeout=5.0, terminator=None)
    if digit == OPT_OUT_DIGIT:
        result.opted_out = True
        return
    if digit == AGENT_DIGIT:
        await _connect(leg, plan, agents, result)
        return
    result.connected = True  # the message reached a person: the call did what it was for
