"""Discrete-event simulation of a blended center in virtual time, driving a real pacing core.

One heap of (time, sequence, kind, payload) events. The pacer (any `duplex.dialer.pacing.Pacer`) is asked how
many calls to place every second and whenever an agent becomes ready; its wish passes through the real
`DialGate`. Random draws come from separate seeded streams (dial outcomes, talk times, inbound arrivals), each
draw tied to the call's index, so every mode sees the same callees in the same order (common random numbers).

Call model: a human answers after `answer_delay`, AMD then decides after its delay (a false positive hangs up on
the human: an abandon); a human verdict goes to the longest-idle ready agent, or waits at most 2 s (the
safe-harbour window) and is then dropped with the message. A machine answers and is detected, or (false
negative) holds an agent `MACHINE_HOLD` seconds plus wrap. Busy/invalid fail after `FAIL_SECONDS`; no-answer
after `no_answer_ring`. Inbound calls (optional) queue in an `InboundQueue` with exponential patience.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

from duplex.dialer.pacing import (
    AgentReleased,
    CallResult,
    DialGate,
    DialOutcome,
    Pacer,
    PacingState,
    TrunkLimits,
)
from duplex.sim.scenario import Scenario

__all__ = ["FifoInboundQueue", "InboundQueue", "RunResult", "Simulation", "simulate"]

SAFE_HARBOUR = 2.0  # seconds an answered human may wait for an agent before the message and hang-up
MACHINE_HOLD = 5.0  # seconds an agent spends on an undetected machine
FAIL_SECONDS = 3.0  # busy/invalid signalled after this
INBOUND_PATIENCE = 60.0  # mean seconds an inbound caller waits before hanging up
_TICK, _RESOLVE, _READY, _EXPIRE, _TALK_END, _WRAP_END, _ARRIVAL, _GIVE_UP, _STAFF, _HOUR = range(10)


class InboundQueue(Protocol):
    """Where inbound calls wait for an agent; an ACD core can stand in for the FIFO default."""

    def offer(self, call_id: int, now: float) -> None: ...

    def withdraw(self, call_id: int, now: float) -> bool: ...  # caller hung up; True if it was still queued

    def next_for_agent(self, now: float) -> int | None: ...


class FifoInboundQueue:
    def __init__(self) -> None:
        self._queue: dict[int, float] = {}

    def offer(self, call_id: int, now: float) -> None:
        self._queue[call_id] = now

    def withdraw(self, call_id: int, now: float) -> bool:
        return self._queue.pop(call_id, None) is not None

    def next_for_agent(self, now: float) -> int | None:
        for call_id in self._queue:
            del self._queue[call_id]
            return call_id
        return None


@dataclass(slots=True)
class RunResult:
    """What one replication measured (true counts, whatever the pacer believed)."""

    agent_seconds: float = 0.0
    talk_seconds: float = 0.0  # agents talking with humans (outbound and inbound)
    dials: int = 0
    humans: int = 0  # humans who answered an outbound call
    connected: int = 0
    dropped: int = 0  # human verdict, no agent within the safe-harbour window
    amd_false_positives: int = 0  # humans hung up on by AMD
    machines_to_agents: int = 0
    inbound_offered: int = 0
    inbound_abandoned: int = 0
    gate_refused: int = 0
    max_channels_used: int = 0  # calls ringing, waiting or talking (outbound) at the busiest moment
    dial_times: list[float] = field(default_factory=list)  # only with Simulation(record_dials=True)
    agent_waits: list[float] = field(default_factory=list)
    hourly_abandon: list[float] = field(default_factory=list)  # cumulative abandon rate at each hour's end

    @property
    def abandoned(self) -> int:
        return self.dropped + self.amd_false_positives

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.humans if self.humans else 0.0

    @property
    def talk_minutes_per_agent_hour(self) -> float:
        return self.talk_seconds / self.agent_seconds * 60 if self.agent_seconds else 0.0


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        pacer: Pacer,
        *,
        seed: int,
        trunk: TrunkLimits | None = None,
        inbound_queue: InboundQueue | None = None,
        record_dials: bool = False,
    ) -> None:
        self._record_dials = record_dials
        self.sc = scenario
        self.pacer = pacer
        self.gate = DialGate(trunk or TrunkLimits(cps=1000.0, channels=1_000_000, burst=1000.0))
        self.inbound = inbound_queue or FifoInboundQueue()
        self._dial_rng = random.Random(f"{seed}:dial")
        self._talk_rng = random.Random(f"{seed}:talk")
        self._arrival_rng = random.Random(f"{seed}:inbound")
        sigma2 = math.log(1 + scenario.talk_cv**2)
        self._talk_mu, self._talk_sigma = math.log(scenario.talk_mean) - sigma2 / 2, math.sqrt(sigma2)
        self._heap: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self.now = 0.0
        self.result = RunResult()
        self._ready: deque[tuple[int, float]] = deque()  # (agent, ready since), longest idle first
        self._next_agent = 0
        self._talk_started: dict[int, float] = {}  # agent's call -> talk start (their count = agents talking)
        self._wrap_started: dict[int, float] = {}
        self._logoffs_due = 0  # agents to log off when they finish their call
        self._dialing = 0
        self._waiting: dict[int, float] = {}  # outbound human call -> placed_at, in the safe-harbour window
        self._outbound_calls: dict[int, tuple[float, bool]] = {}  # answered call -> (placed_at, is a human)
        self._placed_notice = getattr(pacer, "placed", None)
        self._pace_on_ready: bool = getattr(pacer, "pace_on_ready", True)

    # -- plumbing -----------------------------------------------------------------------------------------
    def _at(self, when: float, kind: int, payload: object = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, payload))

    def run(self) -> RunResult:
        end = self.sc.shift_seconds
        self._staff(int(self.sc.agents.at(0)))
        for hour in self.sc.agents.change_hours():
            self._at(hour * 3600, _STAFF)
        for hour in range(1, math.ceil(self.sc.shift_hours) + 1):
            self._at(min(hour * 3600.0, end), _HOUR)
        if self.sc.inbound is not None:
            self._schedule_arrival(0.0)
        self._at(0.0, _TICK)
        handlers: dict[int, Callable[[object], None]] = {
            _TICK: self._on_tick,
            _RESOLVE: self._on_resolve,
            _READY: self._on_human_ready,
            _EXPIRE: self._on_expire,
            _TALK_END: self._on_talk_end,
            _WRAP_END: self._on_wrap_end,
            _ARRIVAL: self._on_arrival,
            _GIVE_UP: self._on_give_up,
            _STAFF: lambda _: self._staff(int(self.sc.agents.at(self.now))),
            _HOUR: lambda _: self.result.hourly_abandon.append(self.result.abandon_rate),
        }
        last = 0.0
        logged_in = self._logged_in()
        while self._heap and self._heap[0][0] <= end:
            when, _, kind, payload = heapq.heappop(self._heap)
            self.result.agent_seconds += (when - last) * logged_in
            self.now = last = when
            handlers[kind](payload)
            logged_in = self._logged_in()
        self.result.agent_seconds += (end - last) * logged_in
        self.result.gate_refused = self.gate.refused
        return self.result

    def _logged_in(self) -> int:
        return len(self._ready) + len(self._talk_started) + len(self._wrap_started)

    # -- pacing ---------------------------------------------------------------------------------------------
    def _on_tick(self, _: object) -> None:
        self._pace()
        self._at(self.now + 1.0, _TICK)

    def _pace(self) -> None:
        now = self.now
        state = PacingState(
            now=now,
            agents_ready=len(self._ready),
            agents_talking=len(self._talk_started),
            agents_wrapping=len(self._wrap_started),
            calls_dialing=self._dialing,
            calls_waiting=len(self._waiting),
            talk_started=tuple(self._talk_started.values()),
            wrap_started=tuple(self._wrap_started.values()),
        )
        wanted = self.pacer.calls_to_place(state)
        in_use = self._dialing + len(self._waiting) + len(self._talk_started)
        allowed = self.gate.admit(now, wanted, in_use)
        if in_use + allowed > self.result.max_channels_used:
            self.result.max_channels_used = in_use + allowed
        if self._record_dials:
            self.result.dial_times.extend([now] * allowed)
        if allowed != wanted and self._placed_notice is not None:
            self._placed_notice(self.now, allowed)
        for _ in range(allowed):
            self._dial()

    def _dial(self) -> None:
        sc, rng, now = self.sc, self._dial_rng, self.now
        # four draws per call whatever its outcome, so call k is the same callee in every mode
        u_kind, u_answer, u_amd, u_error = rng.random(), rng.random(), rng.random(), rng.random()
        self._dialing += 1
        self.result.dials += 1
        p_human, p_machine = sc.p_human.at(now), sc.p_machine.at(now)
        answer = now + sc.answer_delay[0] + u_answer * (sc.answer_delay[1] - sc.answer_delay[0])
        amd = sc.amd
        verdict_at = answer + (amd.delay_min + u_amd * (amd.delay_max - amd.delay_min) if amd else 0.0)
        if u_kind < p_human:
            if amd is not None and u_error < amd.false_positive:
                self._at(verdict_at, _RESOLVE, (now, CallResult.MACHINE, True))
            else:
                self._at(verdict_at, _READY, (now, True))
        elif u_kind < p_human + p_machine:
            if amd is None or u_error < amd.false_negative:
                self._at(verdict_at, _READY, (now, False))
            else:
                self._at(verdict_at, _RESOLVE, (now, CallResult.MACHINE, False))
        elif u_kind < p_human + p_machine + sc.p_busy_invalid.at(now):
            self._at(now + FAIL_SECONDS, _RESOLVE, (now, CallResult.BUSY, False))
        else:
            self._at(now + sc.no_answer_ring, _RESOLVE, (now, CallResult.NO_ANSWER, False))

    def _on_resolve(self, payload: object) -> None:
        placed_at, result, hung_up_on_human = cast(tuple[float, CallResult, bool], payload)
        self._dialing -= 1
        if hung_up_on_human:
            self.result.humans += 1
            self.result.amd_false_positives += 1
        self.pacer.observe(DialOutcome(now=self.now, placed_at=placed_at, result=result))

    # -- answered calls -------------------------------------------------------------------------------------
    def _on_human_ready(self, payload: object) -> None:
        placed_at, is_human = cast(tuple[float, bool], payload)
        self._dialing -= 1
        self._seq += 1
        call = self._seq
        self._outbound_calls[call] = (placed_at, is_human)
        self.result.humans += is_human
        if self._ready:
            self._connect_outbound(call)
        else:
            self._waiting[call] = placed_at
            self._at(self.now + SAFE_HARBOUR, _EXPIRE, call)

    def _connect_outbound(self, call: int) -> None:
        placed_at, is_human = self._outbound_calls.pop(call)
        token = self._take_agent()
        if is_human:
            self.result.connected += 1
            talk = self._talk_rng.lognormvariate(self._talk_mu, self._talk_sigma)
            self.result.talk_seconds += talk
        else:
            self.result.machines_to_agents += 1
            talk = MACHINE_HOLD
        self._at(self.now + talk, _TALK_END, (token, talk))
        self.pacer.observe(
            DialOutcome(now=self.now, placed_at=placed_at, result=CallResult.HUMAN, connected=True)
        )

    def _on_expire(self, call: object) -> None:
        assert isinstance(call, int)
        if self._waiting.pop(call, None) is None:
            return
        placed_at, is_human = self._outbound_calls.pop(call)
        self.result.dropped += is_human
        self.pacer.observe(DialOutcome(now=self.now, placed_at=placed_at, result=CallResult.HUMAN))

    # -- agents ---------------------------------------------------------------------------------------------
    def _take_agent(self) -> int:
        _, since = self._ready.popleft()
        self.result.agent_waits.append(self.now - since)
        self._seq += 1
        self._talk_started[self._seq] = self.now
        return self._seq

    def _on_talk_end(self, payload: object) -> None:
        token, talk = cast(tuple[int, float], payload)
        del self._talk_started[token]
        self._wrap_started[token] = self.now
        self._at(self.now + self.sc.wrap, _WRAP_END, payload)

    def _on_wrap_end(self, payload: object) -> None:
        token, talk = cast(tuple[int, float], payload)
        del self._wrap_started[token]
        self.pacer.observe(AgentReleased(now=self.now, handle_seconds=talk + self.sc.wrap))
        if self._logoffs_due:
            self._logoffs_due -= 1
            return
        self._agent_ready()

    def _agent_ready(self) -> None:
        self._next_agent += 1
        self._ready.append((self._next_agent, self.now))
        if self._waiting:
            call = next(iter(self._waiting))
            del self._waiting[call]
            self._connect_outbound(call)
        elif (inbound := self.inbound.next_for_agent(self.now)) is not None:
            self._connect_inbound(inbound)
        elif self._pace_on_ready:
            self._pace()

    def _staff(self, target: int) -> None:
        logged_in = self._logged_in() - self._logoffs_due
        for _ in range(target - logged_in):
            if self._logoffs_due:
                self._logoffs_due -= 1
            else:
                self._agent_ready()
        for _ in range(logged_in - target):
            if self._ready:
                self._ready.pop()
            else:
                self._logoffs_due += 1

    # -- inbound --------------------------------------------------------------------------------------------
    def _schedule_arrival(self, now: float) -> None:
        assert self.sc.inbound is not None
        rate = self.sc.inbound.at(now) / 3600
        later = [h * 3600 for h in self.sc.inbound.change_hours() if h * 3600 > now]
        gap = self._arrival_rng.expovariate(rate) if rate > 0 else math.inf
        if later and now + gap > later[0]:
            self._at(later[0], _ARRIVAL, False)  # rate changes first: redraw from there (memoryless)
        elif gap < math.inf:
            self._at(now + gap, _ARRIVAL, True)

    def _on_arrival(self, is_call: object) -> None:
        self._schedule_arrival(self.now)
        if not is_call:
            return
        self.result.inbound_offered += 1
        self._seq += 1
        call = self._seq
        patience = self._arrival_rng.expovariate(1 / INBOUND_PATIENCE)  # drawn always: same stream per mode
        if self._ready and not self._waiting:
            self._connect_inbound(call)
            return
        self.inbound.offer(call, self.now)
        self._at(self.now + patience, _GIVE_UP, call)

    def _on_give_up(self, call: object) -> None:
        assert isinstance(call, int)
        if self.inbound.withdraw(call, self.now):
            self.result.inbound_abandoned += 1

    def _connect_inbound(self, call: int) -> None:
        token = self._take_agent()
        talk = self._talk_rng.lognormvariate(self._talk_mu, self._talk_sigma)
        self.result.talk_seconds += talk
        self._at(self.now + talk, _TALK_END, (token, talk))


def simulate(scenario: Scenario, pacer: Pacer, *, seed: int, trunk: TrunkLimits | None = None) -> RunResult:
    return Simulation(scenario, pacer, seed=seed, trunk=trunk).run()
