"""What happened on a visit: one row per step (status change, parts, reading, note, photo) and the photos taken.

``work_order_events`` is the job's own history (who, when, what), kept whether or not the work order belongs to a
case; the service mirrors each step onto the case's timeline when there is one. Parts recorded on the job stay
events until completion books them all at once through the stock ledger, so a job never half-consumes stock.
Photos are stored in the database, so every server process can serve them and a backup holds them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from field_service.models import Instant

__all__ = ["WorkOrderEvent", "WorkOrderEventKind", "WorkOrderPhoto"]


class WorkOrderEventKind(enum.StrEnum):
    """What a step on a job was."""

    STATUS = "status"
    PARTS = "parts"
    READING = "reading"
    NOTE = "note"
    PHOTO = "photo"


class WorkOrderEvent(SQLModel, table=True):
    """One step on a job: ``data`` holds its details (statuses, ETA, parts by SKU, the reading, the photo's id)."""

    __tablename__ = "work_order_events"
    __table_args__ = (sa.Index("ix_work_order_events_work_order_created", "work_order_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="work_orders.id")
    kind: WorkOrderEventKind = Field(
        sa_type=sa.Enum(
            WorkOrderEventKind,
            native_enum=False,
            create_constraint=False,
            length=32,
            values_callable=lambda members: [m.value for m in members],
        )
    )
    body: str = Field(default="", sa_type=sa.Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    actor: str = Field(default="", max_length=200)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(sa_type=Instant)


class WorkOrderPhoto(SQLModel, table=True):
    """A photo taken on a job, its type checked from its bytes when it was uploaded."""

    __tablename__ = "work_order_photos"

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="work_orders.id", index=True)
    media_type: str = Field(max_length=32)
    size: int
    content: bytes = Field(sa_type=sa.LargeBinary)
    actor: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=Instant)
