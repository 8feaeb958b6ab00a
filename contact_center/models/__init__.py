"""Every table of the case store; importing this module registers them all on `SQLModel.metadata`."""

from sqlmodel import SQLModel

from contact_center.models.agents import Agent, AgentSkill, Queue, Skill, Team, TeamKind
from contact_center.models.cases import (
    ActorKind,
    Case,
    CaseEvent,
    CasePriority,
    CaseStatus,
    Channel,
    Contact,
    Direction,
    EventKind,
    case_number,
    parse_case_number,
)
from contact_center.models.customers import Customer, CustomerTier, Identity, IdentityKind
from contact_center.models.email import EmailAttachment, EmailAutoReply, EmailUnprocessable, ImapState, StoredEmail
from contact_center.models.outbox import OutboxChannel, OutboxMessage, OutboxStatus
from contact_center.models.sla import CalendarRecord, SlaPolicy
from contact_center.models.telephony import SmsDelivery, SmsOptOut, TwilioCall, TwilioCallTurn
from contact_center.models.users import Role, User, WebSession

# Field service owns its tables; importing them registers them on the same metadata.
from field_service import models as field_service_models  # noqa: F401

metadata = SQLModel.metadata

__all__ = [
    "ActorKind",
    "Agent",
    "AgentSkill",
    "CalendarRecord",
    "Case",
    "CaseEvent",
    "CasePriority",
    "CaseStatus",
    "Channel",
    "Contact",
    "Customer",
    "CustomerTier",
    "Direction",
    "EmailAttachment",
    "EmailAutoReply",
    "EmailUnprocessable",
    "EventKind",
    "Identity",
    "IdentityKind",
    "ImapState",
    "OutboxChannel",
    "OutboxMessage",
    "OutboxStatus",
    "Queue",
    "Role",
    "Skill",
    "SlaPolicy",
    "SmsDelivery",
    "SmsOptOut",
    "StoredEmail",
    "Team",
    "TeamKind",
    "TwilioCall",
    "TwilioCallTurn",
    "User",
    "WebSession",
    "case_number",
    "metadata",
    "parse_case_number",
]
