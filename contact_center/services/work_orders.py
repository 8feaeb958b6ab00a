"""Every change to a work order made from the contact center: created from a case, edited, pinned.

Each change to a work order that belongs to a case is written on the case's timeline in the same transaction, as
every change to a case is (services.cases). Status changes after scheduling belong to the technician's page.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from contact_center.actors import Actor
from contact_center.errors import Conflict, DomainError, InvalidInput, NotFound
from contact_center.models import Case, EventKind
from contact_center.services.timeline import record_event
from field_service.models import Asset, Part, TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.problem import JobType
from field_service.store import FIXED_STATUSES

__all__ = [
    "CLOSED_STATUSES",
    "KEEP",
    "NewWorkOrder",
    "Unprocessable",
    "WorkOrderChanges",
    "do_create_work_order",
    "do_record_planning",
    "do_update_work_order",
    "get_work_order",
    "list_work_orders",
]

CLOSED_STATUSES = (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANNOT_COMPLETE)


class Unprocessable(DomainError):
    """Well-formed input that refers to something that does not exist (a part, an asset)."""

    code = "unprocessable"
    status = 422


class _Keep(enum.Enum):
    KEEP = "keep"


#: Leaves a field as it is (where None means "clear it").
KEEP = _Keep.KEEP


@dataclass
class NewWorkOrder:
    """What an agent says about a visit: the site comes from the asset unless given."""

    job_type: JobType
    duration_minutes: int
    asset: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    required_skills: dict[str, int] = field(default_factory=dict)
    window: tuple[datetime, datetime] | None = None
    priority: int = 3
    sla_deadline: datetime | None = None
    parts: dict[str, int] = field(default_factory=dict)
    notes: str = ""


@dataclass
class WorkOrderChanges:
    """Fields a dispatcher or agent may edit; KEEP (or None for priority and notes) leaves a field as it is."""

    window: tuple[datetime, datetime] | _Keep | None = KEEP
    priority: int | None = None
    notes: str | None = None
    pinned_technician: str | _Keep | None = KEEP


async def get_work_order(session: AsyncSession, code: str, *, for_update: bool = False) -> WorkOrderRecord:
    """Return a work order by code, or raise NotFound."""
    query = select(WorkOrderRecord).where(WorkOrderRecord.code == code)
    order = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if order is None:
        raise NotFound(f"work order {code} does not exist", resource="work_order")
    return order


async def do_create_work_order(
    session: AsyncSession, case: Case, new: NewWorkOrder, actor: Actor, now: datetime
) -> WorkOrderRecord:
    """Create an unscheduled work order for a case and note it on the case's timeline."""
    asset = None
    if new.asset is not None:
        asset = (await session.scalars(select(Asset).where(Asset.code == new.asset))).first()
        if asset is None:
            raise Unprocessable(f"unknown asset {new.asset}", field="asset", asset=new.asset)
    lat = new.lat if new.lat is not None else (asset.lat if asset else None)
    lon = new.lon if new.lon is not None else (asset.lon if asset else None)
    if lat is None or lon is None:
        raise InvalidInput("give the site's lat and lon, or an asset to take them from", field="site")
    address = new.address if new.address is not None else (asset.address if asset else "")
    _check_window(new.window)
    await _check_parts(session, new.parts)
    order = WorkOrderRecord(
        # A unique placeholder until the id that names it exists.
        code=f"new-{secrets.token_hex(8)}",
        case_id=case.id,
        job_type=new.job_type,
        address=address[:500],
        lat=lat,
        lon=lon,
        required_skills=dict(new.required_skills),
        duration_minutes=new.duration_minutes,
        window_start=new.window[0] if new.window else None,
        window_end=new.window[1] if new.window else None,
        priority=new.priority,
        sla_deadline=new.sla_deadline,
        parts=dict(new.parts),
        asset_id=asset.id if asset else None,
        notes=new.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    order.code = f"WO-{order.id:06d}"
    await session.flush()
    await record_event(
        session,
        case,
        EventKind.WORK_ORDER,
        actor,
        now,
        body=f"Work order {order.code} ({order.job_type.value.replace('_', ' ')}) created",
        data={"work_order": order.code, "action": "created"},
    )
    return order


async def do_update_work_order(
    session: AsyncSession, order: WorkOrderRecord, changes: WorkOrderChanges, actor: Actor, now: datetime
) -> list[str]:
    """Apply the changes and note them on the case's timeline; return the names of the fields that changed."""
    if order.status in CLOSED_STATUSES:
        raise Conflict(f"work order {order.code} is closed ({order.status.value})")
    changed: dict[str, Any] = {}
    if not isinstance(changes.window, _Keep):
        _check_window(changes.window)
        start, end = changes.window if changes.window else (None, None)
        if (start, end) != (order.window_start, order.window_end):
            _check_movable(order, "its appointment window")
            order.window_start, order.window_end = start, end
            changed["window"] = [start.isoformat(), end.isoformat()] if start and end else None
    if changes.priority is not None and changes.priority != order.priority:
        order.priority = changes.priority
        changed["priority"] = changes.priority
    if changes.notes is not None and changes.notes != order.notes:
        order.notes = changes.notes
        changed["notes"] = changes.notes
    if not isinstance(changes.pinned_technician, _Keep) and changes.pinned_technician != order.pinned_technician:
        pin = changes.pinned_technician
        if pin is not None:
            known = (await session.scalars(select(TechnicianRecord).where(TechnicianRecord.code == pin))).first()
            if known is None:
                raise InvalidInput(f"technician {pin} does not exist", field="pinned_technician")
        if pin is not None and order.status in FIXED_STATUSES and pin != order.technician:
            raise Conflict(f"work order {order.code} is dispatched to {order.technician}; it cannot be pinned to {pin}")
        order.pinned_technician = pin
        changed["pinned_technician"] = pin
    if not changed:
        return []
    order.updated_at = now
    await session.flush()
    if order.case_id is not None:
        case = await session.get(Case, order.case_id)
        if case is not None:
            await record_event(
                session,
                case,
                EventKind.WORK_ORDER,
                actor,
                now,
                body=f"Work order {order.code} changed: {', '.join(sorted(changed))}",
                data={"work_order": order.code, "action": "updated", "changes": changed},
            )
    return sorted(changed)


async def do_record_planning(
    session: AsyncSession,
    order: WorkOrderRecord,
    before: tuple[str | None, datetime | None],
    actor: Actor,
    now: datetime,
    *,
    tz: tzinfo,
    reason: str | None = None,
) -> None:
    """Note on the case's timeline that planning gave the work order a technician and time, moved or dropped it."""
    if order.case_id is None or (order.technician, order.planned_start) == before:
        return
    case = await session.get(Case, order.case_id)
    if case is None:
        return
    if order.planned_start is not None and order.planned_end is not None:
        start, end = order.planned_start.astimezone(tz), order.planned_end.astimezone(tz)
        body = f"Work order {order.code} scheduled: {order.technician}, {start:%Y-%m-%d %H:%M}-{end:%H:%M}"
        data: dict[str, Any] = {
            "technician": order.technician,
            "planned_start": order.planned_start.isoformat(),
            "planned_end": order.planned_end.isoformat(),
        }
    else:
        body = f"Work order {order.code} unscheduled" + (f": {reason}" if reason else "")
        data = {"reason": reason}
    await record_event(
        session,
        case,
        EventKind.WORK_ORDER,
        actor,
        now,
        body=body,
        data={"work_order": order.code, "action": "scheduled" if order.planned_start else "unscheduled", **data},
    )


async def list_work_orders(
    session: AsyncSession,
    *,
    tz: tzinfo,
    day: date | None = None,
    status: WorkOrderStatus | None = None,
    technician: str | None = None,
    limit: int = 500,
) -> list[WorkOrderRecord]:
    """Return work orders, planned ones by start, filtered by local day (planned or wanted), status, technician."""
    query = select(WorkOrderRecord)
    if day is not None:
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = start + timedelta(days=1)
        planned = col(WorkOrderRecord.planned_start).is_not(None)
        query = query.where(
            or_(
                planned & (col(WorkOrderRecord.planned_start) >= start) & (col(WorkOrderRecord.planned_start) < end),
                ~planned & (col(WorkOrderRecord.window_start) < end) & (col(WorkOrderRecord.window_end) >= start),
            )
        )
    if status is not None:
        query = query.where(WorkOrderRecord.status == status)
    if technician is not None:
        query = query.where(WorkOrderRecord.technician == technician)
    query = query.order_by(
        col(WorkOrderRecord.planned_start).is_(None), col(WorkOrderRecord.planned_start), col(WorkOrderRecord.id)
    )
    return list((await session.scalars(query.limit(limit))).all())


def _check_window(window: tuple[datetime, datetime] | None) -> None:
    if window is not None and window[1] <= window[0]:
        raise InvalidInput("the appointment window must end after it starts", field="window")


def _check_movable(order: WorkOrderRecord, what: str) -> None:
    if order.status in FIXED_STATUSES:
        raise Conflict(f"work order {order.code} is {order.status.value.replace('_', ' ')}; {what} cannot change now")


async def _check_parts(session: AsyncSession, parts: dict[str, int]) -> None:
    if not parts:
        return
    known = set((await session.scalars(select(Part.sku).where(col(Part.sku).in_(list(parts))))).all())
    unknown = sorted(set(parts) - known)
    if unknown:
        raise Unprocessable(f"unknown part {', '.join(unknown)}", field="parts", skus=unknown)
