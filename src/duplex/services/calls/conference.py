"""Three-way conference out of an attended transfer's consultation.

An agent talks to a customer (call A: the customer's leg and the agent's), puts them on hold and calls a third
party from the same phone (call B, the consultation: the agent's second leg and the consulted party's).
``Conferences.start(A, B)`` joins them: the consulted party's leg moves into call A (``leg.left`` in B,
``leg.moved`` in A, so A's CDR keeps all three legs), the agent's consultation leg is hung up (B ends,
``conferenced``), and the three legs of A are mixed every 20 ms by the conference mixer (`leg_mix.ConferenceMix`
on `duplex.media.mixer.ConferenceMixer`): each party hears the other two. The agent's phone then takes the
customer's call off hold (the desktop does it once the API answers); Duplex cannot do it for a phone that holds.

Why an API call and not SIP: JsSIP, like most phones, has no conference of its own, and a REFER or a
re-INVITE has no standard meaning of "join my two calls"; the two calls are Duplex's (a B2BUA), so Duplex
joins them, named by the agent's desktop: the customer's call by its id (``X-Duplex-Call-Id`` of the INVITE the
agent answered) and the consultation by its id or the SIP Call-ID of the agent's dialog on it (what a
softphone that placed the call knows).

When one of the three leaves, the conference becomes a plain call of the other two: the mixer stops and they
are bridged (``call.conference_ended``, then ``call.bridged``): the agent leaving leaves the customer with the
consulted party; the customer or the consulted party leaving leaves the agent with the other. While it
lasts no leg is bridged one-to-one, and ``bridged_to`` names a party the leg talks on with if the third
leaves first: the customer and the consulted party each other, the agent the consulted party. Code that
follows a leg's peer finds somebody in the call: the IVR flow of a queue call, which keeps its caller after
the agent leaves, sees them handed to the consulted party (as after an attended transfer), and does not hang
up an agent still talking to that party when the customer leaves; a SIP INFO digit of the agent reaches the
consulted party.

Mixing needs the legs' audio in this process: a leg whose media is in rtpengine is refused (409,
`ConferenceRefused`), as is a monitored call (monitoring a conference is refused too).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from duplex.services.calls.call import MONITOR_LEG, Call, CallControl, Leg
from duplex.services.calls.control import agent_phone_at
from duplex.services.calls.transfer import adopt, kept_apart
from duplex.services.media.leg_mix import ConferenceMix, local_endpoint

__all__ = ["Conference", "ConferenceRefused", "Conferences"]

log = logging.getLogger("duplex.services.calls.conference")


class ConferenceRefused(Exception):
    """A conference that cannot be made; ``status`` is the HTTP status the API answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class Conference:
    """One three-way call: ``customer`` and ``agent`` were call A's, ``joined`` came from ``from_call_id``."""

    call: Call
    customer: Leg
    agent: Leg
    joined: Leg
    from_call_id: str
    by_user_id: int | None
    mix: ConferenceMix
    hangup_together: bool  # the call's own setting, back once two parties are left
    end_reason: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def legs(self) -> tuple[Leg, Leg, Leg]:
        return self.customer, self.agent, self.joined

    @property
    def state(self) -> str:
        return "ended" if self.done.is_set() else "active"


def _talking(leg: Leg | None, call: Call) -> bool:
    return leg is not None and leg.is_up and leg.call is call and leg.kind != MONITOR_LEG


class Conferences:
    """The node's conferences (call id -> `Conference`)."""

    def __init__(self, control: CallControl) -> None:
        self.control = control
        self.active: dict[str, Conference] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def find_call(self, name: str) -> Call | None:
        """A live call by its id, or by the SIP Call-ID of one of its live legs."""
        call = self.control.calls.get(name)
        if call is not None:
            return call
        for call in self.control.calls.values():
            if any(leg.sip_call_id == name and not leg.ended.is_set() for leg in call.legs):
                return call
        return None

    def get(self, call_id: str) -> Conference:
        conference = self.active.get(call_id)
        if conference is None:
            raise ConferenceRefused(404, "this call is not a conference")
        return conference

    async def start(self, call_id: str, consultation: str, *, agent_id: int | None,
                    user_id: int | None = None) -> Conference:  # fmt: skip
        """Join the consultation ``consultation`` (a call id or a SIP Call-ID) into ``call_id``.

        ``agent_id`` is the agent asking (their leg must be on both calls: 403 otherwise); None (a supervisor)
        takes the one agent the two calls have in common."""
        call = self.control.calls.get(call_id)
        if call is None or call.ended.is_set():
            raise ConferenceRefused(409, "the call is not live")
        consult = self.find_call(consultation)
        if consult is None or consult.ended.is_set():
            raise ConferenceRefused(409, "the consultation call is not live")
        if consult is call:
            raise ConferenceRefused(409, "the consultation must be another call than the customer's")
        if call.id in self.active or consult.id in self.active:
            raise ConferenceRefused(409, "the call is a conference already")
        agent, agent_consult = self._agent_legs(call, consult, agent_id)
        customer, joined = agent.bridged_to, agent_consult.bridged_to
        if customer is None or not _talking(customer, call):
            raise ConferenceRefused(409, "the agent is not connected to anybody on the call")
        if joined is None or not _talking(joined, consult):
            raise ConferenceRefused(409, "the consultation is not connected to anybody")
        if any(leg.kind == MONITOR_LEG and not leg.ended.is_set() for leg in (*call.legs, *consult.legs)):
            raise ConferenceRefused(409, "a supervisor monitors this call; stop monitoring first")
        endpoints = [local_endpoint(leg.media) for leg in (customer, agent, joined)]
        if any(ep is None for ep in endpoints):
            raise ConferenceRefused(
                409, "this call's media is in rtpengine; a conference needs in-process media"
            )
        mix = ConferenceMix([ep for ep in endpoints if ep is not None])
        conference = Conference(call=call, customer=customer, agent=agent, joined=joined,
                                from_call_id=consult.id, by_user_id=user_id, mix=mix,
                                hangup_together=call.hangup_together)  # fmt: skip
        self.active[call.id] = conference
        call.hangup_together = False  # one party leaving leaves the other two talking
        with kept_apart(consult):
            agent_consult.bridged_to = None
            adopt(call, joined)
            customer.bridged_to, joined.bridged_to, agent.bridged_to = joined, customer, joined
            mix.start()
            joined.emit("call.conferenced", {"legs": [leg.id for leg in conference.legs],
                        "from_call_id": consult.id, "by_user_id": user_id}, agent_id=agent.agent_id)  # fmt: skip
            await agent_consult.hangup("conferenced")  # the consultation call ends with its last leg
        task = asyncio.get_running_loop().create_task(self._run(conference))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return conference

    def _agent_legs(self, call: Call, consult: Call, agent_id: int | None) -> tuple[Leg, Leg]:
        """The asking agent's leg on the customer's call and on the consultation."""
        on_call, on_consult = self._agents(call), self._agents(consult)
        if agent_id is not None:
            if agent_id not in on_call:
                raise ConferenceRefused(403, "only the agent on the call can make it a conference")
            if agent_id not in on_consult:
                raise ConferenceRefused(409, "the consultation call is not this agent's")
            return on_call[agent_id], on_consult[agent_id]
        common = set(on_call) & set(on_consult)
        if len(common) != 1:
            raise ConferenceRefused(409, "the two calls do not have one agent in common")
        (agent_id,) = common
        return on_call[agent_id], on_consult[agent_id]

    def _agents(self, call: Call) -> dict[int, Leg]:
        """The talking legs of ``call`` that are agents' phones: rung by Duplex as an agent, or calling from
        the address an agent's phone registered from (a call to an extension is not challenged, so the
        consultation leg of a phone that called a colleague carries no agent of its own)."""
        out = dict[int, Leg]()
        for leg in call.legs:
            if not _talking(leg, call):
                continue
            agent_id = leg.agent_id
            if agent_id is None and leg.direction == "inbound" and leg.peer is not None:
                agent_id = agent_phone_at(self.control, leg.peer)
            if agent_id is not None:
                out.setdefault(agent_id, leg)
        return out

    # -- one conference's life --------------------------------------------------------------------------------

    async def _run(self, conference: Conference) -> None:
        """Mix until a party leaves; then bridge the two who stay (or end the call if nobody does)."""
        call = conference.call
        ends = [asyncio.ensure_future(leg.ended.wait()) for leg in conference.legs]
        try:
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in ends:
                fut.cancel()
            await conference.mix.stop()
        try:
            left = next(leg for leg in conference.legs if leg.ended.is_set())
            staying = [leg for leg in conference.legs if leg.is_up]
            if len(staying) == 2:
                conference.end_reason = "agent_left" if left is conference.agent else "party_left"
                first, second = staying
                left.emit("call.conference_ended", {"reason": conference.end_reason,
                          "legs": [first.id, second.id]}, agent_id=conference.agent.agent_id)  # fmt: skip
                await first.bridge(second)
                # a call whose application keeps the customer after the agent (an IVR flow) is a plain
                # call of two once the customer is gone
                call.hangup_together = conference.hangup_together or left is conference.customer
            else:
                conference.end_reason = "call_ended"
                left.emit("call.conference_ended", {"reason": "call_ended", "legs": []},
                          agent_id=conference.agent.agent_id)  # fmt: skip
                call.hangup_together = conference.hangup_together
                for leg in staying:
                    await leg.hangup("peer_hangup")
        except Exception:
            log.exception("ending the conference of call %s failed", call.id)
        finally:
            self.active.pop(call.id, None)
            conference.done.set()
