"""The agent state machine.

Rules of this module (h11 style):

1. Sans-IO: no clock; the ACD core feeds inputs and keeps the timers (offer timeout, wrap-up end).
2. The machine is a ``{state: {input: new_state}}`` table. An input missing from the current state's row raises
   :class:`IllegalTransition`; nothing changes then.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from duplex.acd.errors import IllegalTransition

__all__ = ["TRANSITIONS", "AgentInput", "AgentState", "AgentStateMachine", "mermaid_diagram"]


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # a call is offered: the agent's phone rings
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_RESPONDING = "not_responding"  # let an offer ring out; offered nothing until the agent is ready again
    AUX = "aux"  # break, lunch, training...: the reason code says which


class AgentInput(enum.StrEnum):
    LOGIN = "login"
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    NO_ANSWER = "no_answer"
    OFFER_CANCELLED = "offer_cancelled"  # the caller hung up, or another agent took a ring-all call
    CONNECT = "connect"  # a call put through without an offer or a reservation
    HANG_UP = "hang_up"
    WRAP_UP_END = "wrap_up_end"
    EXTEND_WRAP_UP = "extend_wrap_up"
    AUX = "aux"
    READY = "ready"
    LOGOUT = "logout"


S = AgentState
I = AgentInput  # noqa: E741 - short alias for the table only

TRANSITIONS: Mapping[AgentState, Mapping[AgentInput, AgentState]] = {
    S.LOGGED_OUT: {I.LOGIN: S.AVAILABLE},
    S.AVAILABLE: {I.OFFER: S.RESERVED, I.CONNECT: S.ON_CALL, I.AUX: S.AUX, I.LOGOUT: S.LOGGED_OUT},
    S.RESERVED: {
        I.ACCEPT: S.ON_CALL,
        I.REJECT: S.AVAILABLE,
        I.NO_ANSWER: S.NOT_RESPONDING,
        I.OFFER_CANCELLED: S.AVAILABLE,
        I.LOGOUT: S.LOGGED_OUT,
    },
    S.ON_CALL: {I.HANG_UP: S.WRAP_UP},
    S.WRAP_UP: {
        I.WRAP_UP_END: S.AVAILABLE,
        I.EXTEND_WRAP_UP: S.WRAP_UP,
        I.READY: S.AVAILABLE,
        I.AUX: S.AUX,
        I.LOGOUT: S.LOGGED_OUT,
    },
    S.NOT_RESPONDING: {I.READY: S.AVAILABLE, I.AUX: S.AUX, I.LOGOUT: S.LOGGED_OUT},
    S.AUX: {I.READY: S.AVAILABLE, I.AUX: S.AUX, I.LOGOUT: S.LOGGED_OUT},
}


class AgentStateMachine:
    """One agent's state and aux reason code."""

    def __init__(self) -> None:
        self.state = S.LOGGED_OUT
        self.reason = ""

    def apply(self, inp: AgentInput, reason: str = "") -> AgentState:
        """Walk the table; returns the new state.

        Raises:
            IllegalTransition: the current state has no row entry for ``inp``.
        """
        new = TRANSITIONS[self.state].get(inp)
        if new is None:
            raise IllegalTransition(f"agent input {inp.value!r} is not allowed in state {self.state.value!r}")
        self.state = new
        self.reason = reason if new is S.AUX else ""
        return new


def mermaid_diagram() -> str:
    """The table as a Mermaid state diagram (for the docs)."""
    lines = ["stateDiagram-v2", f"    [*] --> {S.LOGGED_OUT.value}"]
    for state, row in TRANSITIONS.items():
        lines.extend(f"    {state.value} --> {new.value}: {inp.value}" for inp, new in row.items())
    return "\n".join(lines)
