"""The customer portal's tables: sign-in links and SMS codes, portal sessions, new-case drafts, surveys.

Secrets (link tokens, codes, session cookies) are stored only as SHA-256 hashes, so a leaked table opens nothing.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime

__all__ = ["PortalAttachment", "PortalCode", "PortalDraft", "PortalLink", "PortalSession", "SurveyResponse"]


class PortalLink(SQLModel, table=True):
    """A one-time sign-in link sent by email: valid for ten minutes, once."""

    __tablename__ = "portal_links"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    address: str = Field(max_length=320, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PortalCode(SQLModel, table=True):
    """A six-digit code texted to the phone of a case's customer, for signing in with the case number."""

    __tablename__ = "portal_codes"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    customer_id: int = Field(foreign_key="customers.id")
    code_hash: str = Field(max_length=64)
    attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PortalSession(SQLModel, table=True):
    """A signed-in customer's browser; the id is the hash of the cookie value."""

    __tablename__ = "portal_sessions"

    id: str = Field(primary_key=True, max_length=64)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class PortalDraft(SQLModel, table=True):
    """A new-case form being filled in: an article opened from it and no case submitted counts as deflected."""

    __tablename__ = "portal_drafts"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    opened_article_id: int | None = Field(default=None, foreign_key="kb_articles.id")
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class SurveyResponse(SQLModel, table=True):
    """The one-question satisfaction survey after resolution: 1 (poor) to 5 (excellent), once per case."""

    __tablename__ = "survey_responses"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class PortalAttachment(SQLModel, table=True):
    """A file a customer attached to a reply in the portal; the reply's timeline event names it."""

    __tablename__ = "portal_attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    event_id: int = Field(foreign_key="case_events.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    content: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
