"""Service-level policies and the business-hours calendars their clocks run on."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import enum_type
from contact_center.models.cases import CasePriority
from contact_center.models.customers import CustomerTier

__all__ = ["CalendarRecord", "SlaPolicy"]


class CalendarRecord(SQLModel, table=True):
    """A stored `routing.calendar.BusinessCalendar`."""

    __tablename__ = "calendars"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    time_zone: str = Field(default="UTC", max_length=64)
    hours: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    holidays: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class SlaPolicy(SQLModel, table=True):
    """Targets for a priority and/or customer tier; an empty match field matches any value."""

    __tablename__ = "sla_policies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    priority: CasePriority | None = Field(default=None, sa_type=enum_type(CasePriority))
    tier: CustomerTier | None = Field(default=None, sa_type=enum_type(CustomerTier))
    first_response_minutes: int = Field(gt=0)
    resolution_minutes: int = Field(gt=0)
    # Without a calendar the clock runs around the clock.
    calendar_id: int | None = Field(default=None, foreign_key="calendars.id")
