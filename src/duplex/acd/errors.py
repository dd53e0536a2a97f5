"""Errors of the ACD core."""

from __future__ import annotations

__all__ = ["AcdError", "IllegalTransition", "UnknownEntity"]


class AcdError(Exception):
    """Base of the ACD core's errors: the caller asked for something the current state does not allow."""


class IllegalTransition(AcdError):
    """An agent input that the agent state table has no entry for (for example ``accept`` while available)."""


class UnknownEntity(AcdError):
    """A call, queue or agent id the ACD does not know."""
