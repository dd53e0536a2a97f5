"""The campaign's agents as the ACD knows them: only agents the ACD has available (and registered) are free for
a campaign call; a break, an agent the ACD does not know and a reserved agent are not."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, cast

from duplex.acd import Acd, AgentConfig, Membership, QueueConfig
from duplex.services.calls.call import CallControl, Leg
from duplex.services.campaigns.center_pool import ContactCenterPool
from duplex.stores.call_store import AgentInfo


@dataclass
class Directory:
    agents: list[AgentInfo]


@dataclass
class Registrations:
    registered: set[str]

    def lookup(self, aor: str, now: float) -> list[object]:
        return [object()] if aor in self.registered else []


@dataclass
class Control:
    """The two things the pool reads of the switch: its directory of agents and the registrations."""

    directory: Directory
    registrations: Registrations

    def now(self) -> float:
        return 0.0


@dataclass
class Center:
    acd: Acd
    talking: dict[str, Leg] = field(default_factory=dict)

    def now(self) -> float:
        return 0.0

    def drain(self) -> None:
        self.acd.events()


def agent(agent_id: int) -> AgentInfo:
    return AgentInfo(
        id=agent_id, extension=f"20{agent_id:02d}", sip_username=f"a{agent_id}", sip_password="x"
    )


def test_only_agents_the_acd_has_available_take_campaign_calls() -> None:
    acd = Acd([QueueConfig(queue_id="sales")],
              [AgentConfig(agent_id=str(i), memberships=(Membership(queue_id="sales"),)) for i in (1, 2, 4)],
              rng=random.Random(1))  # fmt: skip
    for key in ("1", "2"):
        acd.login(key, 0.0)
    acd.aux("2", "lunch", 0.0)  # on a break; 4 never logged in; 3 is unknown to the ACD
    control: Any = Control(
        Directory([agent(i) for i in (1, 2, 3, 4)]), Registrations({"a1", "a2", "a3", "a4"})
    )
    pool = ContactCenterPool(cast(CallControl, control), [1, 2, 3, 4], Center(acd))
    assert pool.free_agent_ids() == frozenset({1}) and pool.free_agents() == 1
    assert pool.reserve(2) is None  # a personal callback's agent on a break is not taken
    reserved = pool.reserve()
    assert reserved is not None and reserved.id == 1
    assert pool.free_agent_ids() == frozenset() and pool.busy_agents() == 1
    pool.release(reserved)
    acd.ready("2", 1.0)
    assert pool.free_agent_ids() == frozenset({1, 2})
    control.registrations.registered.discard("a1")  # the phone went away
    assert pool.free_agent_ids() == frozenset({2})
