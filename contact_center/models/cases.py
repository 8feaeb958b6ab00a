"""Cases, their timelines, and the contacts (one interaction on one channel) that belong to them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = [
    "ActorKind",
    "Case",
    "CaseEvent",
    "CasePriority",
    "CaseStatus",
    "Channel",
    "Contact",
    "Direction",
    "EventKind",
    "case_number",
    "parse_case_number",
]


class Channel(enum.StrEnum):
    """The ways a contact reaches us."""

    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"
    CHAT = "chat"
    WEB = "web"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CaseStatus(enum.StrEnum):
    """A case's life; the allowed moves between these live in `contact_center.case_status`."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


class CasePriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class EventKind(enum.StrEnum):
    """Everything that can happen to a case; its history is read from these rows alone."""

    CREATED = "created"
    MESSAGE_IN = "message_in"
    MESSAGE_OUT = "message_out"
    CONTACT_JOINED = "contact_joined"
    ASSIGNED = "assigned"
    STATUS = "status"
    UPDATED = "updated"
    NOTE = "note"
    DUPLICATE_FLAGGED = "duplicate_flagged"
    MERGED = "merged"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    WORK_ORDER = "work_order"


class ActorKind(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    CUSTOMER = "customer"


_NUMBER_PREFIX = "CS-"


def case_number(case_id: int) -> str:
    """Return the number people quote for a case, e.g. CS-000123."""
    return f"{_NUMBER_PREFIX}{case_id:06d}"


def parse_case_number(text: str) -> int | None:
    """Return the case id in "CS-000123", "cs-123" or "123", or None if it is not a case number."""
    raw = text.strip().upper().removeprefix(_NUMBER_PREFIX)
    # ASCII digits only ("²" is a digit to str.isdigit), and within the 32-bit ids the store holds.
    if not (raw.isascii() and raw.isdigit()) or not 0 < len(raw) <= 10 or int(raw) >= 2**31:
        return None
    return int(raw)


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    subject: str = Field(max_length=300)
    status: CaseStatus = Field(default=CaseStatus.NEW, sa_type=enum_type(CaseStatus), index=True)
    priority: CasePriority = Field(default=CasePriority.NORMAL, sa_type=enum_type(CasePriority))
    channel: Channel = Field(sa_type=enum_type(Channel))
    category: str | None = Field(default=None, max_length=80)
    required_skills: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    language: str = Field(default="en", max_length=16)
    assignee_id: int | None = Field(default=None, foreign_key="agents.id", index=True)
    team_id: int | None = Field(default=None, foreign_key="teams.id")
    queue_id: int | None = Field(default=None, foreign_key="queues.id")
    sla_policy_id: int | None = Field(default=None, foreign_key="sla_policies.id")
    first_response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    resolution_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    first_responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The SLA clock stops while the case waits on the customer; paused business time pushes the due times out.
    sla_paused_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_paused_seconds: float = 0.0
    first_response_breached: bool = False
    resolution_breached: bool = False
    duplicate_of_id: int | None = Field(default=None, foreign_key="cases.id")
    merged_into_id: int | None = Field(default=None, foreign_key="cases.id")
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def number(self) -> str:
        """Return the human case number."""
        assert self.id is not None, "a case gets its number when it is saved"
        return case_number(self.id)


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: EventKind = Field(sa_type=enum_type(EventKind))
    actor_kind: ActorKind = Field(default=ActorKind.SYSTEM, sa_type=enum_type(ActorKind))
    actor_id: int | None = None
    actor_name: str | None = Field(default=None, max_length=200)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    body: str | None = Field(default=None, sa_type=sa.Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Public events are the ones a customer may see in the portal (their messages and our replies).
    public: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    # A retried webhook or a re-fetched email carries the same external id: it must find the first contact.
    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_contacts_channel_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    channel: Channel = Field(sa_type=enum_type(Channel))
    direction: Direction = Field(default=Direction.INBOUND, sa_type=enum_type(Direction))
    external_id: str = Field(max_length=255)
    address: str | None = Field(default=None, max_length=320)
    thread_key: str | None = Field(default=None, max_length=255, index=True)
    queue_id: int | None = Field(default=None, foreign_key="queues.id")
    # The routing queue of a contact routed to a queue without a `queues` row (one of the routing rules only, or
    # the default): what puts it back in that queue when routing state is rebuilt (`Dispatcher.rebuild`).
    queue_name: str | None = Field(default=None, max_length=255)
    agent_id: int | None = Field(default=None, foreign_key="agents.id")
    started_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    wait_seconds: float | None = None
    handle_seconds: float | None = None
    disposition: str | None = Field(default=None, max_length=80)
