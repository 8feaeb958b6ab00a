"""Outbound messages, stored before they are sent and retried until delivered."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = ["OutboxAttachment", "OutboxChannel", "OutboxMessage", "OutboxStatus"]


class OutboxChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: OutboxChannel = Field(sa_type=enum_type(OutboxChannel))
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    to_address: str = Field(max_length=320)
    subject: str | None = Field(default=None, max_length=300)
    body: str = Field(sa_type=sa.Text)
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=enum_type(OutboxStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    # A claim that outlives a crashed sender expires, so another process picks the message up again.
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    provider_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxAttachment(SQLModel, table=True):
    """A file sent with an outbox email (an invoice's PDF), stored with the message so every retry sends it."""

    __tablename__ = "outbox_attachments"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    content: bytes = Field(sa_type=sa.LargeBinary)
