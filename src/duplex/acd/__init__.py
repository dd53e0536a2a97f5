"""Automatic call distribution: queues, skills, routing strategies and agent states.

A sans-IO core (no asyncio, sockets, database or wall clock): it is fed events and ``now`` and returns decisions,
so the live server and the simulator (`duplex.sim`) run the same code.
"""

from __future__ import annotations

from duplex.acd.agent_state import AgentInput, AgentState, AgentStateMachine
from duplex.acd.blending import InboundFirstBlending, ServiceLevelWindow
from duplex.acd.config import (
    AgentConfig,
    Escalation,
    Membership,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    RelaxationStep,
)
from duplex.acd.core import Acd
from duplex.acd.errors import AcdError, IllegalTransition, UnknownEntity
from duplex.acd.estimator import EwmaHandleTimeEstimator
from duplex.acd.events import (
    AcdEvent,
    AgentAccepted,
    AgentNoAnswer,
    AgentOffered,
    AgentRejected,
    AgentStateChanged,
    CallbackDue,
    CancelReason,
    LeftReason,
    OfferCancelled,
    QueueEntered,
    QueueLeft,
)
from duplex.acd.types import RoutingStrategy

__all__ = [
    "Acd",
    "AcdError",
    "AcdEvent",
    "AgentAccepted",
    "AgentConfig",
    "AgentInput",
    "AgentNoAnswer",
    "AgentOffered",
    "AgentRejected",
    "AgentState",
    "AgentStateChanged",
    "AgentStateMachine",
    "CallbackDue",
    "CancelReason",
    "Escalation",
    "EwmaHandleTimeEstimator",
    "IllegalTransition",
    "InboundFirstBlending",
    "LeftReason",
    "Membership",
    "OfferCancelled",
    "OverflowKind",
    "OverflowTarget",
    "QueueConfig",
    "QueueEntered",
    "QueueLeft",
    "RelaxationStep",
    "RoutingStrategy",
    "ServiceLevelWindow",
    "UnknownEntity",
]
