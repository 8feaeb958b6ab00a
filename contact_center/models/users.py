"""People who sign in, and their sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = ["Role", "User", "WebSession"]


class Role(enum.StrEnum):
    """What a signed-in person may do; see `contact_center.auth.roles` for who includes whom."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    role: Role = Field(sa_type=enum_type(Role))
    agent_id: int | None = Field(default=None, foreign_key="agents.id")
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    password_changed_at: datetime = Field(sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in browser. Only a hash of the cookie value is stored, so a leaked table opens no session."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
