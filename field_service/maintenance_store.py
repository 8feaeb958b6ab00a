"""Preventive maintenance against the store: create the due plans' work orders ahead of time, move plans on.

Running is idempotent and safe from several processes at once: each plan row is locked while its work order is
created, a plan remembers its open work order, and the work order's code (``PM-<plan>-<due date>``) is unique in
the database, so a plan and due date get one work order however many runners race.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.maintenance import PlanView, Reading, advance, plans_due, service_window
from field_service.models import Asset, MeterReading, WorkOrderRecord, WorkOrderStatus
from field_service.operations import MaintenancePlan
from field_service.problem import JobType, ProblemError

__all__ = ["CreatedOrder", "add_plan", "advance_plan_on_completion", "run_maintenance"]

_CLOSED = (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANNOT_COMPLETE)


@dataclass(frozen=True)
class CreatedOrder:
    """A preventive work order a run created."""

    plan_id: int
    work_order: str
    due_on: date


async def add_plan(
    session: AsyncSession,
    asset_code: str,
    name: str,
    *,
    starts_on: date,
    now: datetime,
    interval_days: int | None = None,
    meter_interval: float | None = None,
    lead_days: int = 14,
    window_days: int = 3,
    duration_minutes: int = 60,
    required_skills: dict[str, int] | None = None,
    parts: dict[str, int] | None = None,
    priority: int = 3,
) -> MaintenancePlan:
    """Add a plan for an asset, counting its first cycle from ``starts_on``."""
    if (interval_days is None) == (meter_interval is None):
        raise ProblemError("a plan runs either every N days or every N meter units")
    if (interval_days is not None and interval_days < 1) or (meter_interval is not None and meter_interval <= 0):
        raise ProblemError("a plan's interval must be positive")
    if lead_days < 0 or window_days < 0 or duration_minutes < 1:
        raise ProblemError("lead and window days must be at least zero, the duration at least a minute")
    if any(quantity < 1 for quantity in (parts or {}).values()):
        raise ProblemError("a plan's part quantities must be at least 1")
    asset = (await session.execute(select(Asset).where(Asset.code == asset_code))).scalar_one_or_none()
    if asset is None:
        raise ProblemError(f"no asset {asset_code}")
    if meter_interval is not None and not asset.meter_unit:
        raise ProblemError(f"asset {asset_code} has no meter")
    plan = MaintenancePlan(
        asset_id=asset.id or 0,
        name=name,
        interval_days=interval_days,
        meter_interval=meter_interval,
        lead_days=lead_days,
        window_days=window_days,
        duration_minutes=duration_minutes,
        required_skills=dict(required_skills or {}),
        parts=dict(parts or {}),
        priority=priority,
        last_service_on=starts_on,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    await session.flush()
    return plan


async def run_maintenance(session: AsyncSession, on: date, now: datetime) -> list[CreatedOrder]:
    """Create the work orders of every plan due within its lead time on ``on``; return what was created."""
    candidates = (
        (
            await session.execute(
                select(MaintenancePlan)
                .where(col(MaintenancePlan.active), col(MaintenancePlan.open_work_order_id).is_(None))
                .order_by(col(MaintenancePlan.id))
            )
        )
        .scalars()
        .all()
    )
    readings = await _readings(session, {plan.asset_id for plan in candidates})
    due = plans_due([_view(plan) for plan in candidates], readings, on)
    created = []
    for item in due:
        # Lock the plan and read it afresh: another runner may have created its work order meanwhile.
        plan = (
            await session.execute(
                select(MaintenancePlan)
                .where(MaintenancePlan.id == item.plan_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        if plan.open_work_order_id is not None or not plan.active:
            continue
        asset = await session.get(Asset, plan.asset_id)
        if asset is None:  # pragma: no cover - a foreign key guards it
            continue
        order = await _create_order(session, plan, asset, item.due_on, on, now)
        plan.open_work_order_id, plan.open_due_on, plan.updated_at = order.id, item.due_on, now
        created.append(CreatedOrder(plan.id or 0, order.code, item.due_on))
    await session.flush()
    return created


async def advance_plan_on_completion(
    session: AsyncSession, order: WorkOrderRecord, now: datetime
) -> MaintenancePlan | None:
    """Move the plan of a closed preventive work order on; return the plan, or None when no plan waits on it.

    A completed job starts the next cycle from today (and, for a meter plan, from the latest reading). A job that
    could not be completed leaves the plan due: the next run creates a new work order for the same due date.
    """
    if order.id is None or order.status not in _CLOSED:
        return None
    plan = (
        await session.execute(
            select(MaintenancePlan)
            .where(MaintenancePlan.open_work_order_id == order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if plan is None:
        return None
    if order.status is WorkOrderStatus.COMPLETED:
        latest = (
            await session.execute(
                select(MeterReading.value)
                .where(MeterReading.asset_id == plan.asset_id, col(MeterReading.read_at) <= now)
                .order_by(col(MeterReading.read_at).desc(), col(MeterReading.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        moved = advance(_view(plan), now.astimezone(UTC).date(), latest)
        plan.last_service_on, plan.last_service_meter = moved.last_service_on, moved.last_service_meter
    plan.open_work_order_id = plan.open_due_on = None
    plan.updated_at = now
    await session.flush()
    return plan


def _view(plan: MaintenancePlan) -> PlanView:
    return PlanView(
        id=plan.id or 0,
        asset_id=plan.asset_id,
        last_service_on=plan.last_service_on,
        interval_days=plan.interval_days,
        meter_interval=plan.meter_interval,
        last_service_meter=plan.last_service_meter,
        lead_days=plan.lead_days,
        has_open_order=plan.open_work_order_id is not None,
        active=plan.active,
    )


async def _readings(session: AsyncSession, asset_ids: set[int]) -> dict[int, list[Reading]]:
    found: dict[int, list[Reading]] = defaultdict(list)
    if not asset_ids:
        return found
    rows = await session.execute(
        select(MeterReading)
        .where(col(MeterReading.asset_id).in_(sorted(asset_ids)))
        .order_by(col(MeterReading.read_at))
    )
    for reading in rows.scalars():
        found[reading.asset_id].append(Reading(reading.read_at, reading.value))
    return found


async def _create_order(
    session: AsyncSession, plan: MaintenancePlan, asset: Asset, due: date, on: date, now: datetime
) -> WorkOrderRecord:
    base = f"PM-{plan.id}-{due:%Y%m%d}"
    # A work order of this plan and due date that could not be completed keeps its code; the retry gets a suffix.
    tried = (
        await session.execute(select(col(WorkOrderRecord.code)).where(col(WorkOrderRecord.code).startswith(base)))
    ).all()
    code = base if not tried else f"{base}-{len(tried) + 1}"
    start, end = service_window(due, on, plan.window_days)
    order = WorkOrderRecord(
        code=code,
        job_type=JobType.PREVENTIVE_MAINTENANCE,
        address=asset.address,
        lat=asset.lat,
        lon=asset.lon,
        required_skills=dict(plan.required_skills),
        duration_minutes=plan.duration_minutes,
        window_start=start,
        window_end=end,
        priority=plan.priority,
        sla_deadline=end - timedelta(seconds=1),
        parts=dict(plan.parts),
        asset_id=asset.id,
        notes=f"Preventive maintenance: {plan.name} (due {due.isoformat()})",
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    return order
