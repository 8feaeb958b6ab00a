"""Customers and the addresses (identities) they reach us from."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = ["Customer", "CustomerTier", "Identity", "IdentityKind"]


class CustomerTier(enum.StrEnum):
    """Value tiers, from the seed material's ranking; routing priority and SLA targets use them."""

    LOW = "low"
    SUB = "sub"
    POTENTIAL = "potential"
    HIGH = "high"

    @classmethod
    def for_score(cls, score: int) -> CustomerTier:
        """Return the tier a value score 0-100 falls in."""
        if score >= 75:
            return cls.HIGH
        if score >= 50:
            return cls.POTENTIAL
        if score >= 25:
            return cls.SUB
        return cls.LOW


class IdentityKind(enum.StrEnum):
    """How a customer can be addressed: a phone number serves voice and SMS alike."""

    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    language: str = Field(default="en", max_length=16)
    value_score: int = Field(default=0, ge=0, le=100)
    tier: CustomerTier = Field(default=CustomerTier.LOW, sa_type=enum_type(CustomerTier))
    lifetime_value: Decimal = Field(default=Decimal(0), sa_type=sa.Numeric(14, 2))
    segment: str | None = Field(default=None, max_length=80)
    merged_into_id: int | None = Field(default=None, foreign_key="customers.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Identity(SQLModel, table=True):
    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("kind", "address", name="uq_identities_kind_address"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    kind: IdentityKind = Field(sa_type=enum_type(IdentityKind))
    address: str = Field(max_length=320)
    created_at: datetime = Field(sa_type=UTCDateTime)
