"""Supervisor monitoring of live calls: listen, whisper, barge.

``CallMonitoring.start(call_id, ...)`` rings the supervisor's own registered phone (a SIP phone or the browser
softphone) as a leg of kind ``monitor`` on the monitored call; when it answers, the caller's and the agent's
media stop being relayed to each other and the three legs are mixed instead (`media_mix.MonitorMix`, the
sans-IO `duplex.media.monitoring.MonitorMixer`). ``change`` switches the mode on the fly; ``stop`` (or the
supervisor hanging up) takes the mixer away and bridges caller and agent again; the call ending (the caller
or the agent leaving) hangs the supervisor's leg up. A monitor leg ending never ends the call
(`Call.leg_ended`).

Mixing needs the legs' audio in this process: legs whose media is in rtpengine are refused
(`MonitorRefused`, 409). Events: ``monitor.started`` when the supervisor's phone answers,
``monitor.mode_changed``, ``monitor.ended``; the envelope carries the monitored call, the supervisor's leg
and the monitored agent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from duplex.media.monitoring import MonitorMode
from duplex.services.calls.call import MONITOR_LEG, Call, CallRegistry, Leg, LegState
from duplex.services.calls.conference import Conferences
from duplex.services.calls.control import PhoneReach
from duplex.services.calls.uac import OutboundLeg, originate
from duplex.services.media.leg_mix import local_endpoint
from duplex.services.media.monitor_mix import MonitorMix

__all__ = ["CallMonitoring", "Monitor", "MonitorControl", "MonitorRefused", "local_endpoint"]

log = logging.getLogger("duplex.services.calls.monitor")


class MonitorRefused(Exception):
    """A monitoring request that cannot be carried out; ``status`` is the HTTP status the API answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class Monitor:
    """One supervisor on one call."""

    call: Call
    caller: Leg
    agent: Leg
    leg: OutboundLeg  # the supervisor's phone
    by_user_id: int
    mode: MonitorMode
    mix: MonitorMix | None = None  # once the supervisor answered
    stop_reason: str | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def state(self) -> str:
        if self.done.is_set():
            return "ended"
        return "ringing" if self.mix is None else "active"

    def emit(self, event_type: str, data: dict[str, object]) -> None:
        self.leg.emit(event_type, {**data, "by_user_id": self.by_user_id}, agent_id=self.agent.agent_id)


def connected_pair(call: Call) -> tuple[Leg, Leg] | None:
    """(the other party's leg, the agent's leg) of a connected call. The agent is the one Duplex rang (an
    agent's phone calling another agent's extension has two agent legs: the callee is monitored); a call
    without an agent leg (a trunk bridge) gives its two bridged legs, the second the one a whisper reaches."""
    candidates = [leg for leg in call.legs if leg.kind != MONITOR_LEG and leg.is_up]
    for leg in sorted(candidates, key=lambda leg: (leg.kind != "agent", leg.direction != "outbound")):
        other = leg.bridged_to
        if other is not None and other.is_up and other.call is call:
            return other, leg
    return None


class MonitorControl(CallRegistry, PhoneReach, Protocol):
    """What monitoring needs of the switch: the live call, and the supervisor's registered phone."""


class CallMonitoring:
    """The node's monitors, one per call at most (call id -> `Monitor`)."""

    def __init__(self, control: MonitorControl, conferences: Conferences | None = None) -> None:
        self.control = control
        self.conferences = conferences  # a three-way conference is mixed already: not monitored
        self.monitors: dict[str, Monitor] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, call_id: str, *, sip_username: str, user_id: int, mode: MonitorMode) -> Monitor:
        """Ring the phone registered as ``sip_username`` to monitor ``call_id`` in ``mode``."""
        control = self.control
        call = control.calls.get(call_id)
        if call is None or call.ended.is_set():
            raise MonitorRefused(409, "the call is not live")
        if call_id in self.monitors:
            raise MonitorRefused(409, "a supervisor already monitors this call")
        if self.conferences is not None and call_id in self.conferences.active:
            raise MonitorRefused(409, "the call is a three-way conference; it cannot be monitored")
        pair = connected_pair(call)
        if pair is None:
            raise MonitorRefused(409, "the call is not connected to an agent")
        caller, agent = pair
        if local_endpoint(caller.media) is None or local_endpoint(agent.media) is None:
            raise MonitorRefused(409, "this call's media is in rtpengine; monitoring needs in-process media")
        bindings = sorted(control.registrations.lookup(sip_username, control.now()),
                          key=lambda b: (-b.q, -b.updated_at))  # fmt: skip
        if not bindings:
            raise MonitorRefused(409, "your phone is not registered")
        binding = bindings[0]
        addr = (binding.source.host, binding.source.port)
        control.use_stream(addr, binding.source.transport)
        headers = (("X-Duplex-Call-Id", call.id), ("X-Duplex-Monitor", mode.value))
        leg = await originate(call, binding.contact, contact=addr, kind=MONITOR_LEG,
                              from_value=f'"Monitor" <sip:monitor@{control.public_ip}>', extra=headers)  # fmt: skip
        monitor = Monitor(call=call, caller=caller, agent=agent, leg=leg, by_user_id=user_id, mode=mode)
        self.monitors[call_id] = monitor
        task = asyncio.get_running_loop().create_task(self._run(monitor))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return monitor

    def get(self, call_id: str) -> Monitor:
        monitor = self.monitors.get(call_id)
        if monitor is None:
            raise MonitorRefused(404, "nobody monitors this call")
        return monitor

    def change(self, call_id: str, mode: MonitorMode, *, user_id: int) -> Monitor:
        """Switch the monitor of ``call_id`` to ``mode`` (no new call: the mixer's routing changes)."""
        monitor = self.get(call_id)
        if mode is not monitor.mode:
            monitor.mode = mode
            if monitor.mix is not None:
                monitor.mix.set_mode(mode)
                monitor.by_user_id = user_id
                monitor.emit("monitor.mode_changed", {"mode": mode.value})
        return monitor

    def stop(self, call_id: str, reason: str = "stopped") -> Monitor:
        """Stop monitoring ``call_id``: the supervisor's leg is hung up, caller and agent bridged again."""
        monitor = self.get(call_id)
        monitor.stop_reason = monitor.stop_reason or reason
        monitor.stopping.set()
        return monitor

    async def close(self) -> None:
        for call_id in list(self.monitors):
            self.stop(call_id, "shutdown")
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one monitor's life -------------------------------------------------------------------------------

    async def _run(self, monitor: Monitor) -> None:
        try:
            if await self._until_answered(monitor):
                await self._mix_until_done(monitor)
        except Exception:
            log.exception("monitoring call %s failed", monitor.call.id)
        finally:
            if monitor.leg.state is not LegState.ENDED:
                await monitor.leg.hangup(monitor.stop_reason or "monitor_ended")
            self.monitors.pop(monitor.call.id, None)
            monitor.done.set()

    async def _until_answered(self, monitor: Monitor) -> bool:
        """Wait for the supervisor's phone; False if it did not answer, or the call or the request ended."""
        answered: asyncio.Future[bool] = asyncio.ensure_future(asyncio.shield(monitor.leg.answered))
        ends = [asyncio.ensure_future(e.wait()) for e in self._ends(monitor)]
        waiting: list[asyncio.Future[Any]] = [answered, *ends]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in ends:
                fut.cancel()
        if not answered.done():
            answered.cancel()
            return False
        return bool(answered.result()) and not any(e.is_set() for e in self._ends(monitor))

    def _ends(self, monitor: Monitor) -> tuple[asyncio.Event, ...]:
        return (monitor.caller.ended, monitor.agent.ended, monitor.stopping, monitor.leg.ended)

    async def _mix_until_done(self, monitor: Monitor) -> None:
        caller, agent, supervisor = (local_endpoint(leg.media) for leg in (monitor.caller, monitor.agent,
                                                                            monitor.leg))  # fmt: skip
        if caller is None or agent is None or supervisor is None:
            monitor.stop_reason = "no_local_media"
            return
        mix = MonitorMix(caller, agent, supervisor, monitor.mode)
        mix.start()
        monitor.mix = mix
        monitor.emit("monitor.started", {"mode": monitor.mode.value})
        ends = [asyncio.ensure_future(e.wait()) for e in self._ends(monitor)]
        try:
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in ends:
                fut.cancel()
            await mix.stop()
        if monitor.caller.ended.is_set() or monitor.agent.ended.is_set():
            reason = "call_ended"  # (the call hangs the supervisor's leg up with the others)
        elif monitor.leg.ended.is_set():
            reason = monitor.stop_reason or "supervisor_hangup"
        else:
            reason = monitor.stop_reason or "stopped"
        monitor.stop_reason = reason
        if monitor.caller.is_up and monitor.agent.is_up:
            caller.bridge(agent)  # the call goes on as the plain bridge it was
        monitor.emit("monitor.ended", {"reason": reason})
