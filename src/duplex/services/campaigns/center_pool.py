"""Campaign agents as the contact center's ACD knows them: blended agents whose state the campaign respects.

`ContactCenterPool` is `RegisteredPhonePool` narrowed to the agents the ACD has available, so an agent on a
break, on an inbound call or in wrap-up gets no campaign call. A connected campaign call puts its agent on a
call in the ACD (`connect`), and its end into wrap-up; that wrap-up lasts until the agent makes themselves
available (the API asks for the call's disposition first), at most `WRAP_UP_HOLD_SECONDS`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from duplex.acd import AcdError
from duplex.acd.agent_state import AgentState
from duplex.services.calls.call import CallControl, Leg
from duplex.services.campaigns.agents import RegisteredPhonePool
from duplex.stores.call_store import AgentInfo

__all__ = ["WRAP_UP_HOLD_SECONDS", "AgentStates", "ContactCenterPool"]

log = logging.getLogger("duplex.services.campaigns.center_pool")

WRAP_UP_HOLD_SECONDS = 3600.0  # an agent who walks away is not left in wrap-up forever


class _Acd(Protocol):
    def agent_state(self, agent_id: str) -> AgentState: ...
    def connect(self, agent_id: str, call_id: str, now: float) -> None: ...
    def call_ended(self, agent_id: str, now: float) -> None: ...
    def extend_wrap_up(self, agent_id: str, seconds: float, now: float) -> None: ...


class AgentStates(Protocol):
    """What the pool needs of the contact center: its ACD, its clock, `drain` to record the ACD's events, and
    `talking` (agent id -> leg), which keeps a configuration reload from resetting agents on a call."""

    talking: dict[str, Leg]

    @property
    def acd(self) -> _Acd: ...

    def now(self) -> float: ...
    def drain(self) -> None: ...


class ContactCenterPool(RegisteredPhonePool):
    def __init__(self, control: CallControl, agent_ids: Sequence[int], center: AgentStates) -> None:
        super().__init__(control, agent_ids)
        self.center = center

    def _available(self, agent_id: int) -> bool:
        try:
            return self.center.acd.agent_state(str(agent_id)) is AgentState.AVAILABLE
        except AcdError:  # an agent the ACD has not loaded yet
            return False

    def _registered(self) -> list[AgentInfo]:
        return [a for a in super()._registered() if self._available(a.id)]

    async def connect(self, agent: AgentInfo, lead: Leg, *, within: float) -> Leg | None:
        leg = await super().connect(agent, lead, within=within)
        if leg is None:
            return None
        key = str(agent.id)
        try:
            self.center.acd.connect(key, lead.call.id, self.center.now())
        except (
            AcdError
        ) as exc:  # an inbound offer reached the agent while the lead rang: the ACD keeps its own
            log.warning(
                "campaign call %s: agent %s not put on call in the ACD: %s", lead.call.id, agent.id, exc
            )
            return leg
        self.center.talking[key] = leg
        self.center.drain()
        lead.call.control.spawn(self._wrap_up_after(key, leg))
        return leg

    async def _wrap_up_after(self, key: str, leg: Leg) -> None:
        await leg.ended.wait()
        self.center.talking.pop(key, None)
        try:
            self.center.acd.call_ended(key, self.center.now())
            if self.center.acd.agent_state(key) is AgentState.WRAP_UP:
                self.center.acd.extend_wrap_up(key, WRAP_UP_HOLD_SECONDS, self.center.now())
        except AcdError as exc:
            log.warning("agent %s: campaign call end not given to the ACD: %s", key, exc)
        self.center.drain()
