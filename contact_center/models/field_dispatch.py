"""The dispatcher's tables: each day's saved plan (with the lease that keeps planning runs of a day one at a time)
and the customer notifications sent about appointments.

A notification row is written in the same transaction as its outbox message, under a unique key (work order,
kind, appointment), so a reminder or confirmation goes out once however many processes try at the same moment.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from contact_center.models.base import UTCDateTime, enum_type

__all__ = ["FieldNotice", "FieldNoticeKind", "SchedulePlan"]


class SchedulePlan(SQLModel, table=True):
    """One planned day: the last optimiser run's figures and unassigned reasons."""

    __tablename__ = "schedule_plans"
    __table_args__ = (sa.UniqueConstraint("day", name="uq_schedule_plans_day"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    # plan_json of the last run plus {"reasons": {work order: why it is unassigned}}; empty until the first run.
    plan: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    planned_by: str = Field(default="", max_length=200)


class FieldNoticeKind(enum.StrEnum):
    """What a customer was told about a visit."""

    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    ON_THE_WAY = "on_the_way"


class FieldNotice(SQLModel, table=True):
    """A message sent to a customer about a work order's appointment."""

    __tablename__ = "field_notices"
    __table_args__ = (
        sa.UniqueConstraint("work_order_id", "kind", "appointment", name="uq_field_notices_order_kind_appointment"),
    )

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="work_orders.id", index=True)
    kind: FieldNoticeKind = Field(sa_type=enum_type(FieldNoticeKind))
    # The appointment the message was about ("2026-12-07T09:00:00+00:00/2026-12-07T11:00:00+00:00", or a day).
    appointment: str = Field(max_length=120)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
