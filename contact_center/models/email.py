"""The email channel's tables: stored messages and attachments, unprocessable mail, auto-replies, IMAP state.

A message's raw bytes are kept whatever happens to it (threaded, oversize or unprocessable), so it can be looked
at and reprocessed after a fix. The case store's own tables only learn that a contact happened.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime

__all__ = [
    "EmailAttachment",
    "EmailAutoReply",
    "EmailBounce",
    "EmailSuppression",
    "EmailTemplateRecord",
    "EmailUnprocessable",
    "ImapState",
    "SentEmail",
    "StoredEmail",
]


class StoredEmail(SQLModel, table=True):
    """One inbound message, unique by Message-ID (a hash of the raw bytes where it has none)."""

    __tablename__ = "email_messages"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=255, unique=True)
    #: None for an oversize message: it is kept raw and flagged, not made into a contact.
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id")
    sender: str | None = Field(default=None, max_length=320)
    #: Lower-case addresses of the sender and every To and Cc, for threading's participant check.
    participants: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    subject: str = Field(default="", sa_type=sa.Text)
    #: How threading decided (`email_response.threading.ThreadReason`).
    thread_reason: str | None = Field(default=None, max_length=32)
    size: int = 0
    oversize: bool = False
    #: "imap" or "import".
    source: str = Field(max_length=16)
    raw: bytes = Field(sa_type=sa.LargeBinary)
    received_at: datetime = Field(sa_type=UTCDateTime)


class EmailAttachment(SQLModel, table=True):
    """An attachment of a stored message; `content` is None when it was over the size limit."""

    __tablename__ = "email_attachments"

    id: int | None = Field(default=None, primary_key=True)
    email_id: int = Field(foreign_key="email_messages.id", index=True)
    filename: str | None = Field(default=None, max_length=255)
    content_type: str = Field(max_length=255)
    size: int
    too_large: bool = False
    inline: bool = False
    content: bytes | None = Field(default=None, sa_type=sa.LargeBinary)


class EmailUnprocessable(SQLModel, table=True):
    """A message nothing usable could be read from, kept raw for an admin to look at and reprocess."""

    __tablename__ = "email_unprocessable"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=255, unique=True)
    reason: str = Field(sa_type=sa.Text)
    size: int
    source: str = Field(max_length=16)
    raw: bytes = Field(sa_type=sa.LargeBinary)
    received_at: datetime = Field(sa_type=UTCDateTime)
    reprocessed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EmailAutoReply(SQLModel, table=True):
    """An automatic answer we queued: the history RFC 3834's rate limits per sender and per case count."""

    __tablename__ = "email_auto_replies"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=320, index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    outbox_id: int = Field(foreign_key="outbox.id")
    #: "acknowledgement" or "oversize".
    kind: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ImapState(SQLModel, table=True):
    """Per mailbox (`ImapAccount.state_key`), the UIDVALIDITY and the last UID whose message is committed."""

    __tablename__ = "imap_state"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    uidvalidity: int = Field(sa_type=sa.BigInteger)
    last_uid: int = Field(sa_type=sa.BigInteger)


class SentEmail(SQLModel, table=True):
    """The Message-ID of an email we queued, so replies to it thread and bounces of it are matched."""

    __tablename__ = "email_sent"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=255, unique=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    to_address: str = Field(max_length=320)
    #: "acknowledgement", "oversize" or "reply".
    kind: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)


class EmailBounce(SQLModel, table=True):
    """One recipient block of a delivery report, matched (when it could be) to the message it reports on."""

    __tablename__ = "email_bounces"

    id: int | None = Field(default=None, primary_key=True)
    #: The stored delivery report.
    email_id: int = Field(foreign_key="email_messages.id", index=True)
    sent_id: int | None = Field(default=None, foreign_key="email_sent.id", index=True)
    recipient: str = Field(max_length=320)
    action: str = Field(max_length=32)
    status: str = Field(max_length=32)
    diagnostic: str | None = Field(default=None, sa_type=sa.Text)
    permanent: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)


class EmailSuppression(SQLModel, table=True):
    """An address we no longer send to: a permanent delivery failure said it does not exist."""

    __tablename__ = "email_suppressions"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=320, unique=True)
    reason: str = Field(sa_type=sa.Text)
    bounce_id: int | None = Field(default=None, foreign_key="email_bounces.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class EmailTemplateRecord(SQLModel, table=True):
    """An admin's override of a reply template, per name, language and category ("" for every category)."""

    __tablename__ = "email_templates"
    __table_args__ = (sa.UniqueConstraint("name", "language", "category", name="uq_email_templates_key"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    language: str = Field(max_length=16)
    category: str = Field(default="", max_length=80)
    subject: str = Field(sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)
    html: str | None = Field(default=None, sa_type=sa.Text)
    updated_by_id: int | None = Field(default=None, foreign_key="users.id")
    updated_at: datetime = Field(sa_type=UTCDateTime)
