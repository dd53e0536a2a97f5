"""The data model. Every table is imported here so `Base.metadata` is complete for Alembic."""

from duplex.db.models.calls import Call, CallLeg, Recording
from duplex.db.models.crm import Contact, ContactPhone
from duplex.db.models.events import Event, Webhook, WebhookDelivery
from duplex.db.models.identity import (
    Agent,
    AgentSkill,
    ApiKey,
    AuditLog,
    AuthToken,
    LoginFailure,
    Role,
    Skill,
    Team,
    TeamSupervisor,
    User,
)
from duplex.db.models.outbound import (
    CallScript,
    Campaign,
    ConsentRecord,
    Disposition,
    DncEntry,
    Lead,
    LeadList,
)
from duplex.db.models.quality import Evaluation, Scorecard
from duplex.db.models.routing import (
    IvrFlow,
    IvrFlowVersion,
    PhoneNumber,
    Queue,
    QueueMember,
    QueueSkill,
    SipRegistration,
    Trunk,
)

__all__ = [
    "Agent",
    "AgentSkill",
    "ApiKey",
    "AuditLog",
    "AuthToken",
    "Call",
    "CallLeg",
    "CallScript",
    "Campaign",
    "ConsentRecord",
    "Contact",
    "ContactPhone",
    "Disposition",
    "DncEntry",
    "Evaluation",
    "Event",
    "IvrFlow",
    "IvrFlowVersion",
    "Lead",
    "LeadList",
    "LoginFailure",
    "PhoneNumber",
    "Queue",
    "QueueMember",
    "QueueSkill",
    "Recording",
    "Role",
    "Scorecard",
    "SipRegistration",
    "Skill",
    "Team",
    "TeamSupervisor",
    "Trunk",
    "User",
    "Webhook",
    "WebhookDelivery",
]
