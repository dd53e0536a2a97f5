"""The envelope every recorded event travels in, and the type filter rule of the WebSocket and webhooks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EventEnvelope", "type_matches_any"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventEnvelope:
    """One recorded event as consumers see it. `id` is the row id (global order within one database);
    `(node_id, seq)` is the per-node monotonic sequence."""

    id: int
    node_id: str
    seq: int
    type: str
    ts_ms: int
    call_id: str | None = None
    leg_id: str | None = None
    agent_id: int | None = None
    queue_id: int | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, *, types: frozenset[str] = frozenset(), **correlations: int | str | None) -> bool:
        """True if the event's type is in `types` (an entry ending in ".*" matches a prefix; empty = all)
        and every given correlation id equals the event's."""
        if types and not any(_type_matches(self.type, pattern) for pattern in types):
            return False
        return all(value is None or getattr(self, key) == value for key, value in correlations.items())


def _type_matches(event_type: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def type_matches_any(event_type: str, patterns: list[str]) -> bool:
    """Webhook/WS filter rule: empty list = everything; "call.*" = a prefix; otherwise exact."""
    return not patterns or any(_type_matches(event_type, p) for p in patterns)
