"""The agents a campaign connects its answered calls to, behind the small interface the runtime needs.

`AgentPool` is all the campaign runtime asks of agents: how many are free and busy, reserve one, connect an
answered lead's leg to it, release it. `RegisteredPhonePool` implements it with the registered phones of the
campaign's queue: a reserved agent's phone is called at its registrar binding and bridged to the lead. The
live agent states (ready, wrap-up, a blended agent taking inbound first) belong to the ACD service; it
implements the same protocol when it lands, and the runtime does not change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from duplex.services.calls.call import CallControl, Leg, LegState
from duplex.services.calls.uac import originate
from duplex.stores.call_store import AgentInfo

__all__ = ["AgentPool", "RegisteredPhonePool"]

log = logging.getLogger("duplex.services.campaigns.agents")


class AgentPool(Protocol):
    def free_agents(self) -> int:
        """Agents ready to take a call of this campaign now."""
        ...

    def busy_agents(self) -> int:
        """Agents on a call of this campaign (the pacer counts them as logged in)."""
        ...

    def free_agent_ids(self) -> frozenset[int]:
        """Which agents are free (a personal callback waits for its agent)."""
        ...

    def reserve(self, agent_id: int | None = None) -> AgentInfo | None:
        """Take one free agent (that one, when `agent_id` is given) for a call about to be connected; None
        when none is free."""
        ...

    async def connect(self, agent: AgentInfo, lead: Leg, *, within: float) -> Leg | None:
        """Connect the answered `lead` leg to `agent` within `within` seconds; the agent's leg, or None."""
        ...

    def release(self, agent: AgentInfo) -> None:
        """The agent's call of this campaign is over (or was never connected)."""
        ...


class RegisteredPhonePool:
    """The campaign queue's agents whose phones are registered; an agent on a campaign call is busy."""

    def __init__(self, control: CallControl, agent_ids: Sequence[int]) -> None:
        self.control = control
        self.agent_ids = tuple(agent_ids)
        self._busy: set[int] = set()

    def _registered(self) -> list[AgentInfo]:
        directory, now = self.control.directory, self.control.now()
        agents = [a for a in directory.agents if a.id in self.agent_ids]
        return [a for a in agents if self.control.registrations.lookup(a.sip_username, now)]

    def free_agents(self) -> int:
        return sum(1 for a in self._registered() if a.id not in self._busy)

    def busy_agents(self) -> int:
        return len(self._busy)

    def free_agent_ids(self) -> frozenset[int]:
        return frozenset(a.id for a in self._registered() if a.id not in self._busy)

    def reserve(self, agent_id: int | None = None) -> AgentInfo | None:
        free = (a for a in self._registered() if a.id not in self._busy and agent_id in (None, a.id))
        agent = next(free, None)
        if agent is not None:
            self._busy.add(agent.id)
        return agent

    def release(self, agent: AgentInfo) -> None:
        self._busy.discard(agent.id)

    async def connect(self, agent: AgentInfo, lead: Leg, *, within: float) -> Leg | None:
        control = self.control
        bindings = sorted(control.registrations.lookup(agent.sip_username, control.now()),
                          key=lambda b: (-b.q, -b.updated_at))  # fmt: skip
        if not bindings or lead.media is None:
            return None
        binding = bindings[0]
        addr = (binding.source.host, binding.source.port)
        control.use_stream(addr, binding.source.transport)
        call = lead.call
        call.hangup_together = False  # an agent phone that does not answer must not end the lead's call
        try:
            # answer-after=0: the phone answers at once (a person is on the line and the safe-harbour rule
            # gives 2 s to connect them); the call id lets the agent's desktop tie its forms to this call
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
            if not answered or lead.state is LegState.ENDED:
                await leg.hangup("not_in_time")
                return None
            await lead.bridge(leg)
            return leg
        finally:
            call.hangup_together = True
