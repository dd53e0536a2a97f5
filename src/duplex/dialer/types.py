"""Value types of outbound dialing that other layers (database models, API) name."""

from __future__ import annotations

import enum

__all__ = ["CampaignStatus", "DialMode", "LeadStatus"]


class DialMode(enum.StrEnum):
    PREVIEW = "preview"  # agent sees the lead, then clicks to dial
    PROGRESSIVE = "progressive"  # one call per free agent, dialed automatically
    POWER = "power"  # a fixed number of lines per free agent
    PREDICTIVE = "predictive"  # lines per agent paced by answer rate and the abandon cap
    AGENTLESS = "agentless"  # prerecorded-message broadcast / IVR survey, no agent


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class LeadStatus(enum.StrEnum):
    NEW = "new"
    DIALING = "dialing"
    CALLBACK = "callback"
    RETRY = "retry"
    DONE = "done"
    DNC = "dnc"
    INVALID = "invalid"
