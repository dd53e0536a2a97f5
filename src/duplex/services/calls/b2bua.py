"""Back-to-back user agent: connect an inbound leg to an agent's registered phone or out through a trunk.

The caller's leg is answered only when the far side answers (its 180 is passed on as 180); the media is then
bridged. Early media from the far side (a 183 with SDP) is passed on as a 183 with the caller's answer and
relayed to the caller before the answer. While the outbound leg is being set up the caller may CANCEL (the outbound INVITE is cancelled too)
and a trunk failure that calls for failover (408, 503, no response ...) moves on to the next trunk.
"""

from __future__ import annotations

import asyncio
import logging

from duplex.services.calls.call import Call, Leg
from duplex.services.calls.control import PhoneReach, TrunkAccess
from duplex.services.calls.uac import OutboundLeg, dial_trunk, originate
from duplex.services.calls.uas import InboundLeg
from duplex.stores.call_store import AgentInfo
from duplex.telephony.trunks import TrunkConfig, TrunkSelector, caller_id_headers, select_caller_id

__all__ = ["CPS_WAIT", "bridge_when_answered", "connect_to_agent", "connect_via_trunk", "pick_trunk"]

log = logging.getLogger("duplex.services.calls.b2bua")

CPS_WAIT = 5.0  # seconds a call waits for a trunk's CPS token before it is refused 503


async def pick_trunk(
    selector: TrunkSelector, call_id: str, ended: asyncio.Event, *, max_wait: float = CPS_WAIT
) -> TrunkConfig | None:
    """The first usable trunk for ``call_id`` (see `TrunkSelector.pick`), waiting up to ``max_wait`` for a
    CPS token when that is all a trunk lacks. A trunk's ``max_cps`` spaces calls 1/max_cps apart (a bucket
    of one token); INVITEs handled in the same event-loop iteration (uvloop's clock does not move within
    one) found the token taken and were refused 503 at once: 4% of the calls at 20 CPS in the bench."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while True:
        now = loop.time()
        trunk = selector.pick(now, call_id)
        if trunk is not None or ended.is_set():
            return trunk
        wait = selector.retry_after(now)
        if wait is None or now + wait > deadline:
            return None  # every trunk is full (or disabled), or the wait would be too long
        await asyncio.sleep(max(wait, 0.001))


async def bridge_when_answered(a: InboundLeg, b: OutboundLeg) -> str:
    """Pass ringing on, answer ``a`` and bridge when ``b`` answers. Returns answered/failed/cancelled; on
    failure ``a`` is left ringing (no media sent) so the caller can fail over or reject with ``b.sip_status``.

    Early media (``b`` got a 183 with SDP: ringback, "not in service", a busy announcement): ``a`` sends a
    183 with its SDP answer and the legs' media are bridged before the answer, so the caller hears it.
    ``b`` still sends nothing before its 2xx (RFC 3264 §6), so the callee hears nothing of the caller."""
    call = a.call
    call.hangup_together = False
    answered: asyncio.Future[bool] = asyncio.ensure_future(asyncio.shield(b.answered))
    ringing: asyncio.Future[object] = asyncio.ensure_future(b.ringing.wait())
    early: asyncio.Future[object] = asyncio.ensure_future(b.early_media.wait())
    cancelled: asyncio.Future[object] = asyncio.ensure_future(a.ended.wait())
    early_bridged = joined = False
    try:
        while not answered.done():
            waiting: set[asyncio.Future[object]] = {answered, ringing, early, cancelled}  # type: ignore[arg-type]
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if cancelled in done:
                await b.hangup("caller_cancel")
                return "cancelled"
            if early in done:
                early = asyncio.ensure_future(asyncio.Event().wait())
                if not b.ended.is_set() and a.media is not None and b.media is not None and a.early_media():
                    a.media.bridge(b.media)
                    early_bridged = True
            if ringing in done:
                a.ring()  # no-op after the 183
                ringing = asyncio.ensure_future(asyncio.Event().wait())
        if not answered.result():
            if early_bridged and a.media is not None:
                a.media.bridge(None)
                a.end_early_media()
            return "failed"
        # bridged, and one call again, before the caller's 200, which waits for its events to commit: a
        # REFER from the callee, who is already talking, must find its peer and the call as it will stay
        # (the caller's RTP is gated until that 200)
        if early_bridged:  # the media already flows: only the leg state and the event
            a.bridged_to, b.bridged_to = b, a
            a.emit("call.bridged", {"legs": [a.id, b.id]}, agent_id=a.agent_id or b.agent_id)
        else:
            await a.bridge(b)
        call.hangup_together = joined = True
        await a.answer()
        return "answered"
    finally:
        if not joined:  # once joined, a transfer under way may hold it False (`transfer.kept_apart`)
            call.hangup_together = True
        for fut in (answered, ringing, early, cancelled):
            if not fut.done():
                fut.cancel()


def _reject_status(leg: Leg) -> int:
    status = leg.sip_status
    return status if status is not None and 400 <= status < 700 and status != 487 else 480


def call_info_headers(call: Call) -> tuple[tuple[str, str], ...]:
    """What the agent's phone shows on ringing besides the caller: the number called, its tracking source,
    and the call's id (the agent desktop looks the call up by it)."""
    info = [("X-Duplex-Call-Id", call.id), ("X-Duplex-Called", call.to_number or "")]
    if call.tracking_source:
        info.append(("X-Duplex-Tracking-Source", call.tracking_source))
    return tuple(info)


async def connect_to_agent(a: InboundLeg, agent: AgentInfo) -> None:
    """Ring the agent's registered phone(s) (the most recently registered contact) and bridge."""
    control: PhoneReach = a.control
    bindings = sorted(control.registrations.lookup(agent.sip_username, control.now()),
                      key=lambda b: (-b.q, -b.updated_at))  # fmt: skip
    if not bindings:
        await a.reject(480, "agent_not_registered")
        return
    binding = bindings[0]
    addr = (binding.source.host, binding.source.port)
    control.use_stream(addr, binding.source.transport)  # tcp/tls: reuse (or reopen) the stream
    caller = a.invite.from_addr
    caller_user = getattr(caller.uri, "user", None) or "anonymous"
    name = f'"{caller.display_name}" ' if caller.display_name else ""
    b = await originate(a.call, binding.contact, contact=addr, agent_id=agent.id, kind="agent",
                               from_value=f"{name}<sip:{caller_user}@{control.public_ip}>",
                               extra=call_info_headers(a.call), codecs=a.codecs)  # fmt: skip
    if await bridge_when_answered(a, b) == "failed":
        await a.reject(_reject_status(b), b.end_reason)


async def connect_via_trunk(a: InboundLeg, number: str, agent: AgentInfo | None) -> None:
    """Call ``number`` through the first usable trunk; fail over per `trunks.should_fail_over`."""
    control: TrunkAccess = a.control
    call = a.call
    selector = control.trunks
    trunk = await pick_trunk(selector, call.id, a.ended)
    if trunk is None:
        await a.reject(503, "no_trunk")  # no-op when the caller cancelled meanwhile
        return
    last: Leg | None = None
    try:
        while trunk is not None and not a.ended.is_set():
            status: int | None = None  # RFC 3263 §4.3: a timeout or 503 tries the trunk's next address
            for addr in await control.trunk_addresses(trunk):
                cid = caller_id_headers(select_caller_id(None, trunk), trunk)
                extra = tuple((n, v) for n, v in (("P-Asserted-Identity", cid.p_asserted_identity),
                                                    ("Privacy", cid.privacy)) if v)  # fmt: skip
                b = await dial_trunk(call, trunk, addr, number, agent_id=agent.id if agent else None,
                                     from_value=cid.from_, extra=extra, codecs=a.codecs)  # fmt: skip
                outcome = await bridge_when_answered(a, b)
                if outcome != "failed":
                    if outcome == "answered":  # the CDR's trunk is the answered leg's (leg.created trunk_id)
                        await call.ended.wait()
                    return
                last, status = b, b.sip_status
                if a.ended.is_set() or status not in (None, 408, 503):
                    break
                control.trunk_address_failed(addr)
            trunk = selector.next_after_failure(control.now(), call.id, trunk.id, status)
        if last is not None:
            await a.reject(_reject_status(last), last.end_reason)
        elif not a.ended.is_set():
            await a.reject(503, "no_trunk")
    finally:
        selector.release(call.id)
