"""A call leg's life as a transition table, like the SIP transactions' (`duplex.sip.transaction`).

Rules of this module (h11 style):

1. Sans-IO: states and events are values, `next_state` is a pure function; the asyncio `Leg`
   (`duplex.services.calls.call`) holds the state and calls it on every change.
2. A (state, event) pair missing from `LEG_TRANSITIONS` is a bug in call control: `LocalProtocolError`.
"""

from __future__ import annotations

import enum

from duplex.sip.errors import LocalProtocolError

__all__ = ["LEG_TRANSITIONS", "LegEvent", "LegState", "next_state"]


class LegState(enum.StrEnum):
    """A leg's life, after its dialog (RFC 3261 §12): NEW before any response, RINGING once a provisional
    response was sent or received (an early dialog), ANSWERED after the 2xx (confirmed), ENDED (terminated)."""

    NEW = "new"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class LegEvent(enum.StrEnum):
    PROVISIONAL = "provisional"  # 180/183 sent (we are the UAS) or received (UAC)
    ANSWER = "answer"  # 2xx to the INVITE sent or received
    END = "end"  # BYE, CANCEL, a final failure or a local hang-up


# {state: {event: new state}}; a missing pair is an illegal transition and raises LocalProtocolError.
LEG_TRANSITIONS: dict[LegState, dict[LegEvent, LegState]] = {
    LegState.NEW: {LegEvent.PROVISIONAL: LegState.RINGING, LegEvent.ANSWER: LegState.ANSWERED,
                   LegEvent.END: LegState.ENDED},
    # "the UAS MAY send as many provisional responses as it wishes" (RFC 3261 §13.3.1.1)
    LegState.RINGING: {LegEvent.PROVISIONAL: LegState.RINGING, LegEvent.ANSWER: LegState.ANSWERED,
                       LegEvent.END: LegState.ENDED},
    LegState.ANSWERED: {LegEvent.END: LegState.ENDED},
    LegState.ENDED: {},
}  # fmt: skip


def next_state(state: LegState, event: LegEvent, *, who: str = "leg") -> LegState:
    """The state after ``event`` in ``state``.

    Raises:
        LocalProtocolError: the table has no such transition (``who`` names the leg in the message).
    """
    new = LEG_TRANSITIONS[state].get(event)
    if new is None:
        raise LocalProtocolError(f"{who}: {event.value} is not allowed in state {state.value}")
    return new
