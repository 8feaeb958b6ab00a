"""Retention offers: what an agent may offer a customer of each value tier who wants to leave."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type
from contact_center.models.customers import CustomerTier

__all__ = ["RetentionOffer"]


class RetentionOffer(SQLModel, table=True):
    """One tier's offer, shown in the agent desktop's view of the customer."""

    __tablename__ = "retention_offers"

    tier: CustomerTier = Field(primary_key=True, sa_type=enum_type(CustomerTier))
    offer: str = Field(max_length=500)
    updated_at: datetime = Field(sa_type=UTCDateTime)
