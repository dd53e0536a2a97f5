"""What the campaign runtime asks of agents, behind a small interface.

`AgentPool`: how many agents are free for the campaign (and which: a personal callback waits for its agent), how
many are busy on it or in its wrap-up, whether an agent works the campaign and is free, reserve one for a lead who answered (a given one for a preview the agent
accepted or a personal callback), connect the lead's leg to them, release them. `acd_pool.AcdAgentPool`
implements it over the node's contact center, so campaign calls and inbound calls share the ACD's agent states
(blending).
"""

from __future__ import annotations

from typing import Protocol

from duplex.services.calls.call import Leg
from duplex.stores.call_store import AgentInfo

__all__ = ["AgentPool"]


class AgentPool(Protocol):
    def free_agents(self) -> int:
        """Agents the campaign may give a call to now."""
        ...

    def free_agent_ids(self) -> frozenset[int]:
        """Which agents the campaign may give a call to now (a personal callback waits for its agent)."""
        ...

    def busy_agents(self) -> int:
        """Agents on a call of this campaign (the pacer counts them as logged in)."""
        ...

    def wrapping_agents(self) -> int:
        """The campaign's agents in after-call work (free again soon)."""
        ...

    def works(self, agent_id: int) -> bool:
        """The agent is one of the campaign's (a member of its queue, or any agent when it has none)."""
        ...

    def is_free(self, agent_id: int) -> bool:
        """The agent may take a call now: available and offered nothing (not ringing, on a call, in wrap-up)."""
        ...

    def reserve(self, call_id: str, agent_id: int | None = None) -> AgentInfo | None:
        """Take one free agent (that one, when `agent_id` is given: the preview's, the personal callback's or
        the agent who dialled by hand, while free) for the call `call_id`; None when none may be given one.
        The same agent and call again: the reservation made when a manual dial was placed."""
        ...

    async def connect(self, agent: AgentInfo, lead: Leg, *, within: float) -> Leg | None:
        """Connect the answered `lead` leg to `agent` within `within` seconds; the agent's leg, or None."""
        ...

    def release(self, agent: AgentInfo) -> None:
        """The agent's call of this campaign is over (or was never connected)."""
        ...
