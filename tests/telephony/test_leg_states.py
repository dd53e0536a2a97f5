"""`Leg` follows its transition table: every (state, event) pair either moves as the table says or raises."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from duplex.services.calls.call import Call, Leg
from duplex.sip.errors import LocalProtocolError
from duplex.telephony.legstate import LEG_TRANSITIONS, LegEvent, LegState


class _Store:
    def __init__(self) -> None:
        self.events: list[str] = []

    def emit(self, type: str, **fields: Any) -> None:
        self.events.append(type)


class _Control:
    """Only what creating a call and a leg touches (they record events, the call registers itself)."""

    def __init__(self) -> None:
        self.store = _Store()
        self.calls: dict[str, Call] = {}
        self.forgotten: list[Leg] = []

    def forget_leg(self, leg: Leg) -> None:
        self.forgotten.append(leg)


def _leg(state: LegState) -> Leg:
    call = Call(_Control(), direction="inbound", from_number="alice", to_number="1001")  # type: ignore[arg-type]
    leg = Leg(call, kind="caller", remote_uri="sip:alice@example.com")
    leg.state = state
    return leg


def test_every_state_and_event_is_in_the_table() -> None:
    assert set(LEG_TRANSITIONS) == set(LegState)
    assert LEG_TRANSITIONS[LegState.ENDED] == {}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(LegState, LegEvent)))
async def test_transition_follows_the_table_or_raises(state: LegState, event: LegEvent) -> None:
    leg = _leg(state)
    expected = LEG_TRANSITIONS[state].get(event)
    if expected is None:
        with pytest.raises(LocalProtocolError, match=f"{event.value} is not allowed in state {state.value}"):
            leg.transition(event)
        assert leg.state is state
    else:
        leg.transition(event)
        assert leg.state is expected


async def test_a_call_from_ringing_to_ended() -> None:
    leg = _leg(LegState.NEW)
    for event, state in ((LegEvent.PROVISIONAL, LegState.RINGING), (LegEvent.PROVISIONAL, LegState.RINGING),
                         (LegEvent.ANSWER, LegState.ANSWERED), (LegEvent.END, LegState.ENDED)):  # fmt: skip
        leg.transition(event)
        assert leg.state is state
    with pytest.raises(LocalProtocolError):
        leg.transition(LegEvent.ANSWER)  # no answer after the end


async def test_hangup_of_an_ended_leg_does_nothing() -> None:
    leg = _leg(LegState.NEW)
    leg._finish("normal", "duplex")  # noqa: SLF001
    assert leg.state is LegState.ENDED
    events = list(leg.call.control.store.events)  # type: ignore[attr-defined]
    leg._finish("normal", "duplex")  # noqa: SLF001
    assert leg.call.control.store.events == events  # type: ignore[attr-defined]
    assert leg.call.control.forgotten == [leg]  # type: ignore[attr-defined]
    assert events[-2:] == ["leg.ended", "call.ended"]
