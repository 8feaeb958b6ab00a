"""Every table of the case store; importing this module registers them all on `SQLModel.metadata`."""

from sqlmodel import SQLModel

# Channel tables live with their channel; importing them here registers them on the one metadata.
from contact_center.channels.chat.models import ChatMessage, ChatSender, ChatSession, ChatStatus
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
from contact_center.models.field_dispatch import FieldNotice, FieldNoticeKind, SchedulePlan
from contact_center.models.leases import Lease
from contact_center.models.outbox import OutboxAttachment, OutboxChannel, OutboxMessage, OutboxStatus
from contact_center.models.portal import (
    PortalAttachment,
    PortalCode,
    PortalDraft,
    PortalLink,
    PortalSession,
    SurveyResponse,
)
from contact_center.models.retention import RetentionOffer
from contact_center.models.sla import CalendarRecord, SlaPolicy
from contact_center.models.telephony import SmsDelivery, SmsOptOut, TwilioCall, TwilioCallTurn
from contact_center.models.users import Role, User, WebSession

# The domain packages own their tables; importing them here puts them in the one metadata migrations compare.
from field_service import models as field_service_models  # noqa: F401
from field_service import operations as field_operations_models  # noqa: F401
from field_service import worklog as field_service_worklog  # noqa: F401
from knowledge_base.models import Article, ArticleFeedback, ArticleVersion, KbTerm

metadata = SQLModel.metadata

__all__ = [
    "ActorKind",
    "Agent",
    "AgentSkill",
    "Article",
    "ArticleFeedback",
    "ArticleVersion",
    "CalendarRecord",
    "Case",
    "CaseEvent",
    "CasePriority",
    "CaseStatus",
    "Channel",
    "ChatMessage",
    "ChatSender",
    "ChatSession",
    "ChatStatus",
    "Contact",
    "Customer",
    "CustomerTier",
    "Direction",
    "EmailAttachment",
    "EmailAutoReply",
    "EmailUnprocessable",
    "EventKind",
    "FieldNotice",
    "FieldNoticeKind",
    "Identity",
    "IdentityKind",
    "ImapState",
    "KbTerm",
    "Lease",
    "OutboxAttachment",
    "OutboxChannel",
    "OutboxMessage",
    "OutboxStatus",
    "PortalAttachment",
    "PortalCode",
    "PortalDraft",
    "PortalLink",
    "PortalSession",
    "Queue",
    "RetentionOffer",
    "Role",
    "SchedulePlan",
    "Skill",
    "SlaPolicy",
    "SmsDelivery",
    "SmsOptOut",
    "StoredEmail",
    "SurveyResponse",
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
