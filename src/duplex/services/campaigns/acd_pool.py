"""`AcdAgentPool`: a campaign's agents are the contact center's agents, in the ACD's agent states (blending).

An agent may take a campaign call when the ACD has them free (available, offered nothing): never while on an
inbound call, ringing, in wrap-up, on a break or not responding. The campaign's agents are the members of its
queue (the ACD's memberships already hold the queue's skill minimum), or every agent when it has none. Inbound
comes first: `InboundFirstBlending.agents_to_lend` (the center's policy) says how many of the free ones the
campaign may borrow, from the inbound calls waiting in the queues these agents serve and the inbound service
level of those queues (`ServiceLevelWindow`). A preview campaign's call is started by an agent waiting for it,
so it may have any free agent.

`reserve(call_id, agent_id)` may name the agent: the one who accepted a preview lead, the agent of a personal
callback (the hopper hands one out only while its agent is among `free_agent_ids`) or the agent who dialled the
number by hand; that agent must be free too (the blending rule is not applied again: the call was placed for them).
An agent who dials by hand is reserved when the call is placed (no inbound call is offered to them while it rings);
the reservation is theirs again when the callee answers, and `release` ends it when nobody answered.

A reserved agent is reserved in the ACD (`Acd.reserve_outbound`), so no inbound call is offered to them while
their phone rings. Their phone is asked to answer at once (`Call-Info: ...;answer-after=0`: a person is on the
line and the safe-harbour rule gives 2 s) and told the call's id (`X-Duplex-Call-Id`: the agent's desktop ties
its forms to the call). When it answers they are on the call (`connect_outbound`); when the call ends the ACD
starts the campaign queue's wrap-up (the default wrap-up when the campaign has no queue) and the pool holds it
until the agent makes themselves available, which the API allows once the call has a disposition
(`WRAP_UP_HOLD_SECONDS` at most: an agent who walks away is not left there forever). An inbound call's wrap-up
keeps its queue's timer. A phone that does not answer in time, or a lead who hung up first, returns the agent to
available (`release_outbound`). Every step is recorded as for an inbound call: `agent.offered`, `agent.state_changed`,
`agent.accepted` or `agent.no_answer` / `agent.rejected`, so occupancy and handle time count outbound calls too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from duplex.acd import AgentConfig, AgentState
from duplex.dialer.types import DialMode
from duplex.services.calls.call import Leg, LegState
from duplex.services.calls.control import PhoneReach
from duplex.services.calls.uac import originate
from duplex.services.contact_center import ContactCenter
from duplex.stores.call_store import AgentInfo
from duplex.stores.campaign_store import CampaignRow

__all__ = ["WRAP_UP_HOLD_SECONDS", "AcdAgentPool"]

log = logging.getLogger("duplex.services.campaigns.acd_pool")

OUTBOUND_STRATEGY = "longest_idle"  # which free agent a campaign call goes to
WRAP_UP_HOLD_SECONDS = 3600.0  # a campaign call's wrap-up waits this long at most for the agent's disposition


class AcdAgentPool:
    """The `AgentPool` of one campaign over the node's `ContactCenter`."""

    def __init__(
        self, center: ContactCenter, campaign: CampaignRow, *, ring_timeout: float | None = None
    ) -> None:
        self.center = center
        self.ring_timeout = ring_timeout  # what the dialer gives the agent's phone (recorded with the offer)
        self.campaign_id = campaign.id
        self.campaign_queue = str(campaign.queue_id) if campaign.queue_id is not None else None
        # a preview call is started by an agent who waits for it: nothing to keep back for inbound then
        self.blended = campaign.dial_mode is not DialMode.PREVIEW
        self._mine: dict[str, str] = {}  # agent id -> the call of this campaign it is reserved for or on
        self._offered_at: dict[str, float] = {}

    # -- counts the pacer asks for ------------------------------------------------------------------------

    def _queue(self) -> str | None:
        """The campaign's queue if the ACD has it (a queue deleted since leaves the campaign without agents)."""
        known = {q.queue_id for q in self.center.config.queues}
        return self.campaign_queue if self.campaign_queue in known else None

    def _members(self) -> list[AgentConfig]:
        agents = self.center.config.agents
        if self.campaign_queue is None:
            return list(agents)
        return [a for a in agents if any(m.queue_id == self.campaign_queue for m in a.memberships)]

    def lendable(self) -> list[str]:
        """The free agents the campaign may borrow now, longest idle first."""
        acd, members = self.center.acd, self._members()
        free = sorted(
            (since, a.agent_id) for a in members if (since := acd.free_since(a.agent_id)) is not None
        )
        if not self.blended:
            return [agent_id for _, agent_id in free]
        queues = {m.queue_id for a in members for m in a.memberships}  # the inbound these agents serve
        waiting = sum(acd.waiting_count(q) for q in queues)
        level = self.center.service_level.level(queues, self.center.now())
        lend = self.center.blending.agents_to_lend(waiting_calls=waiting, free_agents=len(free),
                                                   service_level=level)  # fmt: skip
        return [agent_id for _, agent_id in free[:lend]]

    def free_agents(self) -> int:
        return len(self.lendable())

    def works(self, agent_id: int) -> bool:
        return any(a.agent_id == str(agent_id) for a in self._members())

    def is_free(self, agent_id: int) -> bool:
        return self.center.acd.free_since(str(agent_id)) is not None

    def free_agent_ids(self) -> frozenset[int]:
        return frozenset(int(agent_id) for agent_id in self.lendable())

    def busy_agents(self) -> int:
        acd = self.center.acd
        return sum(1 for a in self._mine if acd.agent_state(a) in (AgentState.RESERVED, AgentState.ON_CALL))

    def wrapping_agents(self) -> int:
        acd = self.center.acd
        return sum(1 for a in self._members() if acd.agent_state(a.agent_id) is AgentState.WRAP_UP)

    # -- one call -------------------------------------------------------------------------------------------

    def _emit(self, type_: str, agent_id: str, call_id: str, data: dict[str, Any]) -> None:
        queue = self._queue()
        self.center.store.emit(type_, call_id=call_id, agent_id=int(agent_id), campaign_id=self.campaign_id,
                               queue_id=int(queue) if queue is not None else None, data=data)  # fmt: skip

    def reserve(self, call_id: str, agent_id: int | None = None) -> AgentInfo | None:
        control = self.center.control
        if control is None:
            return None
        key = str(agent_id)
        if (
            agent_id is not None
            and self._mine.get(key) == call_id
            and self.center.acd.lent_call(key) == call_id
        ):
            # reserved already for this call when it was placed (a manual dial): theirs when the callee answers
            return control.directory.agent(agent_id)
        if agent_id is not None:
            # the preview's, the personal callback's or the hand-dialled call's agent, who is waiting for this
            # call: only while free, but not held back for inbound (that agent was lent when the call was placed)
            lendable = [str(agent_id)] if self.works(agent_id) and self.is_free(agent_id) else []
        else:
            lendable = self.lendable()
        for key in lendable:
            info = control.directory.agent(int(key))
            if info is None:
                continue
            self._emit(
                "agent.offered",
                key,
                call_id,
                {"strategy": OUTBOUND_STRATEGY, "ring_timeout_s": self.ring_timeout},
            )
            self.center.acd.reserve_outbound(key, call_id, self.center.now(), queue_id=self._queue())
            self.center.lent[key] = self._mine[key] = call_id
            self._offered_at[key] = self.center.now()
            self.center.drain()
            return info
        return None

    async def connect(self, agent: AgentInfo, lead: Leg, *, within: float) -> Leg | None:
        """Ring the agent's registered phone (or browser) and bridge it to the lead when it answers in time."""
        key, center = str(agent.id), self.center
        control: PhoneReach = lead.control
        bindings = sorted(control.registrations.lookup(agent.sip_username, control.now()),
                          key=lambda b: (-b.q, -b.updated_at))  # fmt: skip
        if not bindings:
            # logged in but no phone registered: on a break, as an inbound offer to them would do
            released = center.acd.release_outbound(key, center.now())
            if (
                released and center.acd.agent_state(key) is AgentState.AVAILABLE
            ):  # not offered inbound at once
                center.acd.aux(key, "unreachable", center.now())
            center.drain()
            return None
        if lead.media is None:
            return None
        binding = bindings[0]
        addr = (binding.source.host, binding.source.port)
        control.use_stream(addr, binding.source.transport)
        call = lead.call
        call.hangup_together = False  # an agent phone that does not answer must not end the lead's call
        try:
            headers = (
                ("Call-Info", f"<sip:{control.public_ip}>;answer-after=0"),
                ("X-Duplex-Call-Id", call.id),
            )
            leg = await originate(call, binding.contact, contact=addr, agent_id=agent.id, kind="agent",
                                  from_value=f"<sip:{call.to_number}@{control.public_ip}>", extra=headers)  # fmt: skip
            try:
                answered = await asyncio.wait_for(asyncio.shield(leg.answered), within)
            except TimeoutError:
                answered = False
            ring_ms = int((center.now() - self._offered_at.get(key, center.now())) * 1000)
            if not answered or lead.state is LegState.ENDED or center.acd.lent_call(key) != call.id:
                await leg.hangup("not_in_time")
                if lead.state is not LegState.ENDED and center.acd.lent_call(key) == call.id:
                    status = leg.final_status
                    if status is not None and status >= 300:
                        self._emit("agent.rejected", key, call.id, {"sip_status": status})
                    else:
                        self._emit("agent.no_answer", key, call.id, {"ring_ms": ring_ms})
                return None
            self._emit("agent.accepted", key, call.id, {"ring_ms": ring_ms})
            center.acd.connect_outbound(key, center.now())
            center.drain()
            center.spawn(self._after_call(key, leg))
            await lead.bridge(leg)
            return leg
        finally:
            call.hangup_together = True

    async def _after_call(self, agent_id: str, leg: Leg) -> None:
        """The agent's leg ended: wrap-up, held until the agent (with the call's disposition) says available."""
        await leg.ended.wait()
        acd, now = self.center.acd, self.center.now()
        self.center.lent.pop(agent_id, None)
        if acd.agent_state(agent_id) is AgentState.ON_CALL:
            acd.call_ended(agent_id, now)
            if acd.agent_state(agent_id) is AgentState.WRAP_UP:  # a queue without wrap-up: available at once
                acd.extend_wrap_up(agent_id, WRAP_UP_HOLD_SECONDS, now)
            self.center.drain()

    def release(self, agent: AgentInfo) -> None:
        """After a call that was never put through: the agent is available again. After a connected call the
        agent's leg has ended the call (`_after_call`) and there is nothing to do."""
        key = str(agent.id)
        call_id = self._mine.pop(key, None)
        self._offered_at.pop(key, None)
        if call_id is not None and self.center.acd.lent_call(key) == call_id:
            self.center.lent.pop(key, None)
            self.center.acd.release_outbound(key, self.center.now())
            self.center.drain()
        elif call_id is not None and self.center.acd.agent_state(key) is not AgentState.ON_CALL:
            self.center.lent.pop(key, None)
