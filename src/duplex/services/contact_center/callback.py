"""A queued callback an agent accepted: call the customer, bridge them to the agent, hang up together.

The number is a local phone when it has a registration (the registrar's binding is rung, as for an agent);
otherwise it is an external number, dialled through a carrier with `uac.dial_trunk`: the first usable trunk
(`b2bua.pick_trunk`: channels and calls per second), each of its addresses in turn on a timeout or 503, then
the next trunk as `TrunkSelector.next_after_failure` allows, with the trunk's caller ID.
"""

from __future__ import annotations

import asyncio

from duplex.services.calls.b2bua import pick_trunk
from duplex.services.calls.call import Leg
from duplex.services.calls.control import TrunkAccess
from duplex.services.calls.uac import OutboundLeg, dial_trunk, originate
from duplex.telephony.trunks import caller_id_headers, select_caller_id

__all__ = ["call_customer_back"]


async def call_customer_back(agent_leg: Leg, number: str) -> None:
    """Ring ``number`` for the agent on ``agent_leg`` (answered), bridge, and end the call with either side."""
    control: TrunkAccess = agent_leg.control
    try:
        customer = await _ring_customer(agent_leg, number)
        if customer is None:
            await agent_leg.play(tts="The customer cannot be reached.")
            await agent_leg.hangup("callback_unreachable")
            return
        if not await customer.answered or agent_leg.media is None or customer.media is None:
            await agent_leg.hangup("callback_unanswered")
            return
        agent_leg.media.bridge(customer.media)
        agent_leg.bridged_to, customer.bridged_to = customer, agent_leg
        agent_leg.emit("call.bridged", {"legs": [agent_leg.id, customer.id]})
        done = [asyncio.ensure_future(agent_leg.ended.wait()), asyncio.ensure_future(customer.ended.wait())]
        await asyncio.wait(done, return_when=asyncio.FIRST_COMPLETED)
        for fut in done:
            fut.cancel()
        await agent_leg.call.hangup("normal")
    finally:
        control.trunks.release(agent_leg.call.id)  # a carrier channel, if one was taken


async def _ring_customer(agent_leg: Leg, number: str) -> OutboundLeg | None:
    """The customer's leg once it answered or failed for good; None when there is no way to reach them."""
    control, call = agent_leg.control, agent_leg.call
    bindings = control.registrations.lookup(number, control.now())
    if bindings:
        binding = bindings[0]
        addr = (binding.source.host, binding.source.port)
        control.use_stream(addr, binding.source.transport)
        return await originate(call, binding.contact, contact=addr, kind="caller")
    selector = control.trunks
    trunk = await pick_trunk(selector, call.id, agent_leg.ended)
    leg: OutboundLeg | None = None
    while trunk is not None and not agent_leg.ended.is_set():
        status: int | None = None
        cid = caller_id_headers(select_caller_id(None, trunk), trunk)
        extra = tuple((n, v) for n, v in (("P-Asserted-Identity", cid.p_asserted_identity),
                                            ("Privacy", cid.privacy)) if v)  # fmt: skip
        for addr in await control.trunk_addresses(trunk):
            leg = await dial_trunk(
                call, trunk, addr, number, kind="caller", from_value=cid.from_, extra=extra
            )
            if await leg.answered:
                return leg
            status = leg.sip_status
            if agent_leg.ended.is_set() or status not in (None, 408, 503):
                return leg
            control.trunk_address_failed(addr)
        trunk = selector.next_after_failure(control.now(), call.id, trunk.id, status)
    return leg
