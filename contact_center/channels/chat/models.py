"""Chats: one row per conversation, and its messages numbered 1, 2, 3... so a reconnecting client misses none."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = ["ChatMessage", "ChatSender", "ChatSession", "ChatStatus"]


class ChatStatus(enum.StrEnum):
    """Where a chat is: waiting for an agent, talking to one, or over."""

    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


class ChatSender(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class ChatSession(SQLModel, table=True):
    """One web chat; the customer proves it is theirs with a token whose hash alone is stored."""

    __tablename__ = "chat_sessions"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=40, unique=True)
    token_hash: str = Field(max_length=64)
    contact_id: int = Field(foreign_key="contacts.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    customer_id: int = Field(foreign_key="customers.id")
    agent_id: int | None = Field(default=None, foreign_key="agents.id", index=True)
    status: ChatStatus = Field(default=ChatStatus.WAITING, sa_type=enum_type(ChatStatus), index=True)
    language: str = Field(default="en", max_length=16)
    # The number of the last message; taken under the chat's row lock, so numbers never skip or repeat.
    last_seq: int = 0
    close_reason: str | None = Field(default=None, max_length=40)
    # Set when the customer's last socket went away, cleared when they come back: a waiting chat whose customer
    # stays away past a grace period has been abandoned (they closed the tab).
    customer_left_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChatMessage(SQLModel, table=True):
    """One line of a chat; the same text is on the case's timeline."""

    __tablename__ = "chat_messages"
    __table_args__ = (sa.UniqueConstraint("chat_id", "seq", name="uq_chat_messages_chat_id_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(foreign_key="chat_sessions.id", index=True)
    seq: int
    sender: ChatSender = Field(sa_type=enum_type(ChatSender))
    author: str | None = Field(default=None, max_length=200)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
