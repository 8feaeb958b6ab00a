"""Leases: which process runs a piece of background work that must run exactly once (see `contact_center.leases`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime


class Lease(SQLModel, table=True):
    """A named lease: its holder runs the work until `expires_at` unless it renews first."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=255)
    holder: str = Field(max_length=255)
    expires_at: datetime = Field(sa_type=UTCDateTime)
