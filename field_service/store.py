"""Loading a day's scheduling problem from the store, and saving a plan back (statuses, times, part reservations).

A day's problem holds the active technicians and the work orders still to be done: unscheduled ones, and those
planned for that day. Work orders already dispatched (dispatched, en route, on site) are fixed: re-planning keeps
their technician and start. Van and warehouse stock is what is available, plus what the work orders being
re-planned hold themselves, since saving the new plan releases those holds first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from field_service.day import Day
from field_service.ledger import InsufficientStock, StockLedger, holdings
from field_service.models import (
    LocationKind,
    Part,
    StockLevel,
    StockLocation,
    TechnicianRecord,
    WorkOrderRecord,
    WorkOrderStatus,
)
from field_service.plan import Plan
from field_service.problem import (
    Break,
    FixedVisit,
    Location,
    Problem,
    ProblemError,
    Shift,
    Technician,
    TimeWindow,
    WorkOrder,
)

__all__ = ["FIXED_STATUSES", "SavedPlan", "close_work_order", "load_problem", "save_plan"]

FIXED_STATUSES = (WorkOrderStatus.DISPATCHED, WorkOrderStatus.EN_ROUTE, WorkOrderStatus.ON_SITE)
_PLANNABLE = (WorkOrderStatus.SCHEDULED, *FIXED_STATUSES)


@dataclass(frozen=True)
class SavedPlan:
    """What saving changed: work orders scheduled, left unscheduled, and dropped for want of parts."""

    scheduled: tuple[str, ...]
    unscheduled: tuple[str, ...]
    parts_short: tuple[str, ...]


async def load_problem(session: AsyncSession, day: date, tz: tzinfo) -> Problem:
    """Return the day's problem: active technicians, open work orders, stock by van and warehouse."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = start + timedelta(days=1)
    orders = (
        (
            await session.execute(
                select(WorkOrderRecord)
                .where(
                    or_(
                        col(WorkOrderRecord.status) == WorkOrderStatus.UNSCHEDULED,
                        col(WorkOrderRecord.status).in_(_PLANNABLE)
                        & (col(WorkOrderRecord.planned_start) >= start)
                        & (col(WorkOrderRecord.planned_start) < end),
                    )
                )
                .order_by(col(WorkOrderRecord.code))
            )
        )
        .scalars()
        .all()
    )
    replanned = {o.code for o in orders if o.status not in FIXED_STATUSES}
    stock = await _available_stock(session, replanned)
    records = (
        (
            await session.execute(
                select(TechnicianRecord).where(col(TechnicianRecord.active)).order_by(col(TechnicianRecord.code))
            )
        )
        .scalars()
        .all()
    )
    locations = {loc.id: loc for loc in (await session.execute(select(StockLocation))).scalars()}
    technicians = []
    for record in records:
        van = locations.get(record.van_id) if record.van_id else None
        warehouse = locations.get(van.warehouse_id) if van and van.warehouse_id else None
        technicians.append(
            Technician(
                id=record.code,
                name=record.name,
                skills=dict(record.skills),
                home=Location(record.home_lat, record.home_lon),
                shifts=_shifts(record),
                days_off=frozenset(date.fromisoformat(d) for d in record.days_off),
                van_stock=stock.get(van.code, {}) if van else {},
                warehouse=warehouse.code if warehouse else None,
            )
        )
    warehouses = {loc.code: stock.get(loc.code, {}) for loc in locations.values() if loc.kind is LocationKind.WAREHOUSE}
    known = {t.id for t in technicians}
    return Problem(day, tz, tuple(technicians), tuple(_work_order(o, known) for o in orders), warehouses)


async def save_plan(session: AsyncSession, day: Day, plan: Plan, now: datetime, actor: str = "") -> SavedPlan:
    """Store the plan: times and technicians, then the part reservations (van first, then warehouse).

    Fixed visits are left as they are. A work order whose parts are gone by the time of saving (compatibility is
    checked per job, not for the whole day's demand) is left unscheduled and listed in ``parts_short``.
    """
    problem = day.problem
    ledger = StockLedger(session, now, actor)
    codes = [job.id for job in day.jobs if job.fixed_start is None]
    records = {
        r.code: r
        for r in (await session.execute(select(WorkOrderRecord).where(col(WorkOrderRecord.code).in_(codes)))).scalars()
    }
    vans, warehouse_of = await _vans(session)
    # Release every hold of the re-planned work orders, so the new plan reserves from scratch.
    holdings = await ledger.holdings()
    for (location, sku, work_order), quantity in holdings.items():
        if work_order in records and quantity > 0:
            await ledger.release(location, sku, quantity, work_order)
    visits = {v.order_id: (route.technician_id, v) for route in plan.routes for v in route.visits}
    scheduled, unscheduled, short = [], [], []
    for code in codes:
        record = records[code]
        record.updated_at = now
        if code not in visits:
            _unschedule(record)
            unscheduled.append(code)
            continue
        technician, visit = visits[code]
        try:
            async with session.begin_nested():
                await _reserve(ledger, record, vans.get(technician), warehouse_of.get(technician))
        except InsufficientStock:
            _unschedule(record)
            short.append(code)
            continue
        record.status = WorkOrderStatus.SCHEDULED
        record.technician = technician
        record.planned_start = problem.instant(visit.start)
        record.planned_end = problem.instant(visit.end)
        scheduled.append(code)
    await session.flush()
    return SavedPlan(tuple(scheduled), tuple(unscheduled), tuple(short))


async def close_work_order(
    session: AsyncSession,
    code: str,
    *,
    completed: bool,
    parts_used: Mapping[str, int] | None = None,
    now: datetime,
    actor: str = "",
) -> WorkOrderRecord:
    """Close a work order as completed (booking the parts used) or as cannot complete; release what it still holds.

    Parts used come first out of what the work order holds (booked where they were held), the rest out of the
    technician's van.
    """
    record = (
        await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == code).with_for_update())
    ).scalar_one_or_none()
    if record is None:
        raise ProblemError(f"no work order {code}")
    if record.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANNOT_COMPLETE):
        raise ProblemError(f"work order {code} is already closed ({record.status.value})")
    if parts_used and not completed:
        raise ProblemError("parts are booked only on a completed job")
    ledger = StockLedger(session, now, actor)
    held = {
        (location, sku): units for (location, sku, order), units in (await ledger.holdings()).items() if order == code
    }
    vans, _ = await _vans(session)
    for sku, quantity in (parts_used or {}).items():
        left = quantity
        for (location, held_sku), units in sorted(held.items()):
            if held_sku == sku and left > 0:
                take = min(units, left)
                await ledger.consume(location, sku, take, code)
                held[(location, held_sku)] -= take
                left -= take
        if left > 0:
            van = vans.get(record.technician or "")
            if van is None:
                raise InsufficientStock(f"work order {code} used {left} more of {sku} than it held, and has no van")
            await ledger.consume(van, sku, left, code)
    for (location, sku), units in held.items():
        if units > 0:
            await ledger.release(location, sku, units, code)
    record.status = WorkOrderStatus.COMPLETED if completed else WorkOrderStatus.CANNOT_COMPLETE
    record.updated_at = now
    await session.flush()
    return record


def _unschedule(record: WorkOrderRecord) -> None:
    record.status = WorkOrderStatus.UNSCHEDULED
    record.technician = record.planned_start = record.planned_end = None


async def _reserve(ledger: StockLedger, record: WorkOrderRecord, van: str | None, warehouse: str | None) -> None:
    for sku, quantity in record.parts.items():
        left = quantity
        for location in (van, warehouse):
            if location is None or left == 0:
                continue
            level = await ledger.level(location, sku)
            take = min(left, level.on_hand - level.reserved)
            if take > 0:
                await ledger.reserve(location, sku, take, record.code)
                left -= take
        if left:
            raise InsufficientStock(f"{record.code} needs {left} more of {sku}")


async def _vans(session: AsyncSession) -> tuple[dict[str, str], dict[str, str]]:
    """Return each technician's van code and the code of the warehouse it restocks from."""
    locations = {loc.id: loc for loc in (await session.execute(select(StockLocation))).scalars()}
    vans: dict[str, str] = {}
    warehouses: dict[str, str] = {}
    for record in (await session.execute(select(TechnicianRecord))).scalars():
        van = locations.get(record.van_id) if record.van_id else None
        if van is None:
            continue
        vans[record.code] = van.code
        if van.warehouse_id and van.warehouse_id in locations:
            warehouses[record.code] = locations[van.warehouse_id].code
    return vans, warehouses


async def _available_stock(session: AsyncSession, replanned: set[str]) -> dict[str, dict[str, int]]:
    """Return {location code: {sku: available}}, counting holds of re-planned work orders as available."""
    rows = (
        await session.execute(
            select(StockLocation.code, Part.sku, StockLevel)
            .join(StockLevel, col(StockLevel.location_id) == col(StockLocation.id))
            .join(Part, col(Part.id) == col(StockLevel.part_id))
        )
    ).all()
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    for code, sku, level in rows:
        stock[code][sku] = level.on_hand - level.reserved
    for (code, sku, work_order), quantity in (await holdings(session)).items():
        if work_order in replanned:
            stock[code][sku] = stock[code].get(sku, 0) + quantity
    return {code: {sku: n for sku, n in parts.items() if n > 0} for code, parts in stock.items()}


def _shifts(record: TechnicianRecord) -> dict[int, Shift]:
    shifts = {}
    try:
        for weekday, data in record.shifts.items():
            breaks = tuple(
                Break(time.fromisoformat(b["earliest"]), time.fromisoformat(b["latest"]), int(b["minutes"]))
                for b in data.get("breaks", [])  # type: ignore[attr-defined]
            )
            shifts[int(weekday)] = Shift(
                time.fromisoformat(str(data["start"])), time.fromisoformat(str(data["end"])), breaks
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProblemError(f"technician {record.code}: unreadable shifts ({exc})") from None
    return shifts


def _work_order(record: WorkOrderRecord, technicians: set[str]) -> WorkOrder:
    window = None
    if record.window_start is not None and record.window_end is not None:
        window = TimeWindow(record.window_start, record.window_end)
    fixed = None
    if record.status in FIXED_STATUSES and record.technician and record.planned_start:
        fixed = FixedVisit(record.technician, record.planned_start)
    pinned = record.pinned_technician if record.pinned_technician in technicians else None
    return WorkOrder(
        id=record.code,
        site=Location(record.lat, record.lon),
        duration=timedelta(minutes=record.duration_minutes),
        job_type=record.job_type,
        required_skills=dict(record.required_skills),
        window=window,
        priority=record.priority,
        sla_deadline=record.sla_deadline,
        parts=dict(record.parts),
        pinned_to=pinned,
        fixed=fixed if fixed and fixed.technician_id in technicians else None,
    )
