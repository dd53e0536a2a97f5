"""Routing of a new INVITE: security first, then by Request-URI user to an app, an agent or a trunk.

Order: banned/throttled source (drop/403) -> toll-fraud matrix (`security.authorize_invite`) -> SDP offer
(488) -> destination: a feature code from an agent's phone (*21 available...), a demo application number, a
number with an IVR flow or queue (the contact center), an agent extension or SIP user name (B2BUA to the registered phone), an external number
from an authenticated agent phone (B2BUA through a trunk). Unknown targets get 404.

Agents' extensions and SIP user names are passed to `authorize_invite` as extensions: a carrier (a trunk
source) may deliver a call to them like to a DID, an authenticated phone may call them, an unauthenticated
source is challenged (407) when its From user is an agent and refused (403) otherwise. Unauthenticated callers
whose From user is not an agent get 403 for external numbers instead of a challenge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping

from duplex.services.calls.b2bua import connect_to_agent, connect_via_trunk
from duplex.services.calls.call import Call, CallControl, Leg
from duplex.services.calls.control import agent_phone_at
from duplex.services.calls.transfer import on_replacing_invite
from duplex.services.calls.trunk_inbound import Admission, identify_trunk, release_when_ended, reserve_channel
from duplex.services.calls.uas import InboundLeg
from duplex.sip.events import Address, TransactionKey
from duplex.sip.message import SipRequest
from duplex.stores.call_store import AgentInfo
from duplex.telephony.security import VerdictAction, authorize_invite
from duplex.telephony.trunks import TrunkConfig

__all__ = ["Application", "FeatureCodes", "InboundRouter"]

Application = Callable[[Leg], Awaitable[None]]
FeatureCodes = Callable[[InboundLeg, AgentInfo, str], Awaitable[None]]

log = logging.getLogger("duplex.services.calls.inbound_router")


async def _authorize(control: Admission, request: SipRequest, key: TransactionKey, addr: Address,
                     user: str, codes: Collection[str] = ()) -> tuple[bool, AgentInfo | None, TrunkConfig | None]:  # fmt: skip
    regs = control.registrations
    verdict = regs.failures.check(addr[0], control.now())
    if verdict.action is VerdictAction.DROP:
        control.abandon(key)
        return False, None, None
    if verdict.action is VerdictAction.REJECT:
        control.respond(key, request, 403)
        return False, None, None
    directory = control.directory
    if directory.number(user) is None and directory.agent_by_target(user) is None:
        directory = await control.refresh_directory()
    agent: AgentInfo | None = None
    from_user = getattr(request.from_addr.uri, "user", None) or ""
    if user in codes:  # a feature code: only an agent's phone, always with digest credentials
        if "Proxy-Authorization" in request.headers:
            agent = await regs.authenticate(request, key, addr, proxy=True)
            return agent is not None, agent, None
        if directory.agent_by_user(from_user) is not None:
            regs.authenticate_challenge(request, key)
        else:
            control.respond(key, request, 403)
        return False, None, None
    carrier = identify_trunk(control, request, key, addr)  # by source IP or trunk credentials
    if carrier.handled:
        return False, None, None
    trunk = carrier.trunk
    if trunk is None and "Proxy-Authorization" in request.headers:
        agent = await regs.authenticate(request, key, addr, proxy=True)
        if agent is None:
            return False, None, None
    own = {n.number for n in directory.numbers}
    extensions = {a.extension for a in directory.agents} | {a.sip_username for a in directory.agents}
    decision = authorize_invite(
        source_authenticated=agent is not None,
        source_is_trunk=agent is None and trunk is not None,
        target=user, own_numbers=own, agent_extensions=extensions, allow_external=True,
        challenge_unauthenticated=directory.agent_by_user(from_user) is not None,
    )  # fmt: skip
    if decision.allow:
        return True, agent, trunk if agent is None else None
    if decision.challenge:
        regs.authenticate_challenge(request, key)
    else:
        if decision.status_code == 403:
            regs.failures.record_failure(addr[0], control.now())
        log.info("INVITE to %r from %s refused: %s", user, addr[0], decision.reason)
        control.respond(key, request, decision.status_code, reason=None)
    return False, None, None


class InboundRouter:
    """Routes each new INVITE (`Switch` calls it); ``applications`` maps a number's application name to the
    app that handles its calls, ``placeholder`` serves numbers with an IVR flow or a queue (the contact
    center), ``feature_codes`` the codes in ``codes`` dialled from an authenticated agent's phone;
    ``on_agent_call`` hears of every other call an agent's phone places (the contact center keeps the agent
    busy while it lasts)."""

    def __init__(self, applications: Mapping[str, Application], placeholder: Application, *,
                 feature_codes: FeatureCodes | None = None, codes: Collection[str] = (),
                 on_agent_call: Callable[[int, InboundLeg], None] | None = None) -> None:  # fmt: skip
        self.applications = applications
        self.placeholder = placeholder
        self.feature_codes = feature_codes
        self.codes = frozenset(codes)
        self.on_agent_call = on_agent_call

    async def __call__(
        self, control: CallControl, request: SipRequest, key: TransactionKey, addr: Address
    ) -> None:
        if "Replaces" in request.headers:  # RFC 3891: takes over one of our dialogs (attended transfer)
            if control.registrations.failures.check(addr[0], control.now()).action is VerdictAction.ALLOW:
                await on_replacing_invite(control, request, key, addr)
            else:
                control.abandon(key)
            return
        user = getattr(request.uri, "user", None) or ""
        allowed, agent, trunk = await _authorize(control, request, key, addr, user, self.codes)
        if not allowed:
            return
        if not control.store.accepting:  # the record cannot keep up: refuse rather than answer unrecorded
            control.respond(key, request, 503, headers=(("Retry-After", "2"),))
            return
        channel = None
        if trunk is not None and (channel := reserve_channel(control, trunk, request)) is None:
            control.respond(
                key, request, 503, headers=(("Retry-After", "5"),)
            )  # the trunk's channels are full
            return
        directory = control.directory
        number = directory.number(user)
        from_user = getattr(request.from_addr.uri, "user", None) or ""
        call = Call(control, direction="inbound" if agent is None else "internal", from_number=from_user,
                    to_number=user, number=number, trunk_id=trunk.id if trunk else None)  # fmt: skip
        if trunk is not None and channel is not None:
            release_when_ended(control, trunk, channel, call)
        leg = InboundLeg(call, request, key, addr, kind="caller" if agent is None else "agent",
                         agent_id=agent.id if agent else None)  # fmt: skip
        status = await leg.prepare()
        if status is not None:
            await leg.reject(status, "not_acceptable")
            return
        target_agent = directory.agent_by_target(user)
        # a call from an agent's phone: authenticated, or from the address the phone registered from
        if self.on_agent_call is not None and user not in self.codes:
            caller_agent = agent.id if agent is not None else agent_phone_at(control, addr)
            if caller_agent is not None:
                self.on_agent_call(caller_agent, leg)
        if user in self.codes:
            if agent is not None and self.feature_codes is not None:
                await self.feature_codes(leg, agent, user)
            else:
                await leg.reject(403, "feature_code_not_allowed")
        elif number is not None:
            app = self.applications.get(number.application or "")
            if app is not None:
                await app(leg)
            elif number.flow_id is not None or number.queue_id is not None:
                await self.placeholder(leg)
            else:
                await leg.reject(404, "no_route")
        elif target_agent is not None:
            await connect_to_agent(leg, target_agent)
        else:
            await connect_via_trunk(leg, user, agent)
