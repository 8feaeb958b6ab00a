"""An installed asset's service history: the work orders on it, how each ended, the parts used and the readings.

What a technician reads before touching the equipment, and what the asset history API returns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.models import (
    Asset,
    MeterReading,
    MovementKind,
    Part,
    StockMovement,
    WorkOrderRecord,
    WorkOrderStatus,
)
from field_service.problem import JobType
from field_service.worklog import WorkOrderEvent, WorkOrderEventKind

__all__ = ["AssetHistory", "PastVisit", "Reading", "asset_history"]


@dataclass(frozen=True)
class PastVisit:
    """One work order on the asset and its outcome: the parts it used and, if it failed, why."""

    work_order: str
    job_type: JobType
    status: WorkOrderStatus
    technician: str | None
    planned_start: datetime | None
    closed_at: datetime | None
    reason: str
    parts_used: dict[str, int]


@dataclass(frozen=True)
class Reading:
    """One meter reading."""

    value: float
    read_at: datetime
    work_order: str | None
    actor: str


@dataclass(frozen=True)
class AssetHistory:
    """An asset and what was done to it, newest first."""

    asset: Asset
    visits: tuple[PastVisit, ...]
    readings: tuple[Reading, ...]


async def asset_history(session: AsyncSession, asset: Asset, *, limit: int = 50) -> AssetHistory:
    """Return the asset's last ``limit`` work orders (newest first) and meter readings."""
    orders = (
        (
            await session.execute(
                select(WorkOrderRecord)
                .where(WorkOrderRecord.asset_id == asset.id)
                .order_by(col(WorkOrderRecord.created_at).desc(), col(WorkOrderRecord.id).desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    ids = [o.id for o in orders]
    codes = {o.code for o in orders}
    parts: dict[str, dict[str, int]] = defaultdict(dict)
    for code, sku, quantity in (
        await session.execute(
            select(StockMovement.work_order, Part.sku, StockMovement.quantity)
            .join(Part, col(Part.id) == col(StockMovement.part_id))
            .where(StockMovement.kind == MovementKind.CONSUMPTION, col(StockMovement.work_order).in_(codes))
            .order_by(col(StockMovement.id))
        )
    ).all():
        parts[code or ""][sku] = parts[code or ""].get(sku, 0) + quantity
    closing: dict[int, WorkOrderEvent] = {}
    for event in (
        await session.execute(
            select(WorkOrderEvent)
            .where(col(WorkOrderEvent.work_order_id).in_(ids), WorkOrderEvent.kind == WorkOrderEventKind.STATUS)
            .order_by(col(WorkOrderEvent.id))
        )
    ).scalars():
        if event.data.get("to") in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANNOT_COMPLETE):
            closing[event.work_order_id] = event
    visits = tuple(
        PastVisit(
            work_order=o.code,
            job_type=o.job_type,
            status=o.status,
            technician=o.technician,
            planned_start=o.planned_start,
            closed_at=closing[o.id].created_at if o.id in closing else None,
            reason=str(closing[o.id].data.get("reason", "")) if o.id in closing else "",
            parts_used=parts.get(o.code, {}),
        )
        for o in orders
    )
    readings = (
        await session.execute(
            select(MeterReading, WorkOrderRecord.code)
            .join(WorkOrderRecord, col(WorkOrderRecord.id) == col(MeterReading.work_order_id), isouter=True)
            .where(MeterReading.asset_id == asset.id)
            .order_by(col(MeterReading.read_at).desc(), col(MeterReading.id).desc())
            .limit(limit)
        )
    ).all()
    return AssetHistory(
        asset=asset,
        visits=visits,
        readings=tuple(Reading(r.value, r.read_at, code, r.actor) for r, code in readings),
    )
