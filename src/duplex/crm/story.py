"""What one call's events tell the agent who takes it: the IVR path and the caller's inputs, the time waited
in each queue, the notes written on it.

`call_story(events, now_ms)` is a pure function of the call's recorded events (in record order), so the
screen pop shows the same thing on every node and after a restart, and a test can feed it events directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from duplex.events.types import EventEnvelope

__all__ = ["CallStory", "IvrInput", "IvrStep", "KeyPress", "NoteEntry", "QueueWait", "call_story"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrStep:
    """A node the call entered (`ivr.node_entered`)."""

    flow_id: int
    node: str
    node_type: str
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrInput:
    """A variable the flow set (`ivr.variable_set`): collected digits, a lookup's field, a set node's value.
    `node_type` says which (input, lookup, set, csat...), from the path. A `sensitive` one's value is the mask
    the record holds ("••••"), never the digits."""

    node: str
    node_type: str | None
    variable: str
    value: str | int | float | bool | None
    at_ms: int
    sensitive: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPress:
    """A key the caller pressed before reaching an agent (`dtmf.received`), with the node it was pressed at."""

    digit: str
    node: str | None
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueWait:
    """One stay in a queue: from `queue.entered` to `agent.accepted` (answered) or `queue.left` (its
    reason), or to the call's end (abandoned); still waiting when `ended_ms` is None."""

    queue_id: int | None
    entered_ms: int
    ended_ms: int | None
    outcome: str | None  # answered, abandoned, overflow, timeout, callback; None while waiting
    agent_id: int | None  # who answered
    waited_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteEntry:
    """A note written on the call (`call.note_added`)."""

    text: str
    at_ms: int
    agent_id: int | None
    by_user_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStory:
    ivr_path: tuple[IvrStep, ...] = ()
    ivr_inputs: tuple[IvrInput, ...] = ()
    key_presses: tuple[KeyPress, ...] = ()
    ivr_exit: str | None = None  # where the flow sent the call: queue, transfer, voicemail, hangup...
    queue_waits: tuple[QueueWait, ...] = ()
    notes: tuple[NoteEntry, ...] = ()
    offered_agents: frozenset[int] = field(default_factory=frozenset)  # agents the call rang or reached

    @property
    def waited_ms(self) -> int:
        """Time waited in queues, all stays together."""
        return sum(w.waited_ms for w in self.queue_waits)


@dataclass(slots=True)
class _OpenWait:
    queue_id: int | None
    entered_ms: int


class _Reader:
    """Walks the events once, in order."""

    def __init__(self) -> None:
        self.path: list[IvrStep] = []
        self.node_types: dict[str, str] = {}
        self.inputs: list[IvrInput] = []
        self.keys: list[KeyPress] = []
        self.exit: str | None = None
        self.waits: list[QueueWait] = []
        self.open: list[_OpenWait] = []
        self.notes: list[NoteEntry] = []
        self.agents: set[int] = set()
        self.connected = False  # an agent took the call: later keys are not IVR input
        self.ended_ms: int | None = None

    def read(self, e: EventEnvelope) -> None:
        handler = _HANDLERS.get(e.type)
        if e.agent_id is not None and e.type in _AGENT_TYPES:
            self.agents.add(e.agent_id)
        if handler is not None:
            handler(self, e)

    def node_entered(self, e: EventEnvelope) -> None:
        node, node_type = str(e.data.get("node", "")), str(e.data.get("node_type", ""))
        self.node_types[node] = node_type
        self.path.append(IvrStep(flow_id=int(e.data.get("flow_id", 0)), node=node, node_type=node_type,
                                 at_ms=e.ts_ms))  # fmt: skip

    def variable_set(self, e: EventEnvelope) -> None:
        node = str(e.data.get("node", ""))
        self.inputs.append(IvrInput(node=node, node_type=self.node_types.get(node), at_ms=e.ts_ms,
                                    variable=str(e.data.get("variable", "")), value=e.data.get("value"),
                                    sensitive=bool(e.data.get("sensitive", False))))  # fmt: skip

    def dtmf(self, e: EventEnvelope) -> None:
        if not self.connected:
            node = self.path[-1].node if self.path else None
            self.keys.append(KeyPress(digit=str(e.data.get("digit", "")), node=node, at_ms=e.ts_ms))

    def ivr_left(self, e: EventEnvelope) -> None:
        self.exit = str(e.data.get("to", "")) or None

    def queue_entered(self, e: EventEnvelope) -> None:
        self.open.append(_OpenWait(queue_id=e.queue_id, entered_ms=e.ts_ms))

    def _close(self, queue_id: int | None, at_ms: int, outcome: str, agent_id: int | None) -> None:
        stay = next((w for w in reversed(self.open) if queue_id is None or w.queue_id == queue_id), None)
        if stay is None:
            return  # already closed (queue.left "answered" after agent.accepted)
        self.open.remove(stay)
        self.waits.append(QueueWait(queue_id=stay.queue_id, entered_ms=stay.entered_ms, ended_ms=at_ms,
                                    outcome=outcome, agent_id=agent_id,
                                    waited_ms=max(0, at_ms - stay.entered_ms)))  # fmt: skip

    def accepted(self, e: EventEnvelope) -> None:
        self.connected = True
        self._close(e.queue_id, e.ts_ms, "answered", e.agent_id)

    def queue_left(self, e: EventEnvelope) -> None:
        self._close(e.queue_id, e.ts_ms, str(e.data.get("reason", "")) or "left", None)

    def bridged(self, e: EventEnvelope) -> None:
        self.connected = True

    def note(self, e: EventEnvelope) -> None:
        by = e.data.get("by_user_id")
        self.notes.append(NoteEntry(text=str(e.data.get("text", "")), at_ms=e.ts_ms, agent_id=e.agent_id,
                                    by_user_id=by if isinstance(by, int) else None))  # fmt: skip

    def ended(self, e: EventEnvelope) -> None:
        self.ended_ms = e.ts_ms

    def story(self, now_ms: int) -> CallStory:
        waits = list(self.waits)
        for stay in self.open:  # still in the queue, or the call ended there
            end = self.ended_ms
            waits.append(QueueWait(queue_id=stay.queue_id, entered_ms=stay.entered_ms, ended_ms=end,
                                   outcome=None if end is None else "abandoned", agent_id=None,
                                   waited_ms=max(0, (now_ms if end is None else end) - stay.entered_ms)))  # fmt: skip
        waits.sort(key=lambda w: w.entered_ms)
        return CallStory(ivr_path=tuple(self.path), ivr_inputs=tuple(self.inputs), key_presses=tuple(self.keys),
                         ivr_exit=self.exit, queue_waits=tuple(waits), notes=tuple(self.notes),
                         offered_agents=frozenset(self.agents))  # fmt: skip


_HANDLERS = {
    "ivr.node_entered": _Reader.node_entered,
    "ivr.variable_set": _Reader.variable_set,
    "dtmf.received": _Reader.dtmf,
    "ivr.left": _Reader.ivr_left,
    "queue.entered": _Reader.queue_entered,
    "agent.accepted": _Reader.accepted,
    "queue.left": _Reader.queue_left,
    "call.bridged": _Reader.bridged,
    "call.note_added": _Reader.note,
    "call.ended": _Reader.ended,
}
# events whose agent_id is an agent the call was offered to or handled by
_AGENT_TYPES = frozenset({"agent.offered", "agent.accepted", "agent.rejected", "agent.no_answer", "call.bridged",
                          "leg.created"})  # fmt: skip


def call_story(events: Iterable[EventEnvelope], now_ms: int) -> CallStory:
    """The story of one call from its events in record order; `now_ms` ends a wait still under way."""
    reader = _Reader()
    for event in events:
        reader.read(event)
    return reader.story(now_ms)
