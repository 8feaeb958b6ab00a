"""Planning a day from the app: load the day, optimise it in a thread, save the plan, tell the customers.

One planning run per day at a time, across processes: a run first takes the day's lease (`contact_center.leases`,
named after the day, taken in its own short transaction, so no transaction stays open while the solver runs).
Everything else that changes a planned day's visits (dispatching it, a technician calling in sick) takes the same
lease. A lease names its owner and expires, so a process that dies mid-run does
not block the day for ever.

The saved plan keeps the run's figures and why each left-out work order is unassigned; the visits themselves
(technician, times, status) live on the work orders, so the board always shows their current state.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from contact_center import leases
from contact_center.actors import Actor
from contact_center.errors import Conflict, InvalidInput
from contact_center.leases import new_holder
from contact_center.models import ActorKind, Case, SchedulePlan
from contact_center.services.field_notifications import queue_confirmations
from contact_center.services.technicians import do_add_absence, get_technician
from contact_center.services.work_orders import do_record_planning
from field_service.day import build_day
from field_service.models import TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.optimiser import ScheduleError, optimise
from field_service.plan import plan_json
from field_service.problem import Problem
from field_service.reasons import unassigned_reasons
from field_service.store import FIXED_STATUSES, load_problem, save_plan
from field_service.travel import HaversineTravel

__all__ = [
    "MAX_SECONDS",
    "PlanningBusy",
    "Transactions",
    "day_lease",
    "day_schedule",
    "dispatch_day",
    "has_plan",
    "map_link",
    "plan_day",
    "replan_if_planned",
    "route_link",
    "technician_sick",
]

# Opens one transaction: committed when the block ends, rolled back on an exception (Database.transaction).
Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Prepare = Callable[[AsyncSession], Awaitable[None]]

MAX_SECONDS = 60.0
# How long another run of the same day is waited for before giving up.
_WAIT_SECONDS = 2 * MAX_SECONDS + 30
# A lease outlives the longest run by this margin; past it, the run is presumed dead.
_LEASE_MARGIN = timedelta(minutes=2)
_POLL_SECONDS = 0.1
_UNPLANNED = "not planned yet"


class PlanningBusy(Conflict):
    """Another planning run of the same day did not finish in time."""


class _Transactions:
    """Hands the lease module a store that opens transactions the way the planning service was given them."""

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """Open one transaction."""
        return self._transactions()


@asynccontextmanager
async def day_lease(
    transactions: Transactions, day: date, now: datetime, *, hold: float, wait: float = _WAIT_SECONDS
) -> AsyncIterator[str]:
    """Hold the day's planning lease for the block (waiting up to ``wait`` seconds for it); yield the holder."""
    store, name, holder = _Transactions(transactions), f"planning-day:{day.isoformat()}", new_holder()
    period = timedelta(seconds=hold) + _LEASE_MARGIN
    started = monotonic()
    while True:
        # "now" moves on while we wait, so that a dead holder's lease expires for us.
        current = now + timedelta(seconds=monotonic() - started)
        if await leases.acquire(store, name, holder, current, period):
            break
        if monotonic() - started > wait:
            raise PlanningBusy(f"another planning run of {day.isoformat()} is still going; try again shortly")
        await asyncio.sleep(_POLL_SECONDS)
    try:
        yield holder
    finally:
        await leases.release(store, name, holder)


async def has_plan(session: AsyncSession, day: date) -> bool:
    """Say whether the day has been planned (so changes to it should re-plan it)."""
    planned = await session.scalars(
        select(SchedulePlan.id).where(SchedulePlan.day == day, col(SchedulePlan.planned_at).is_not(None))
    )
    return planned.first() is not None


async def plan_day(
    transactions: Transactions,
    day: date,
    tz: tzinfo,
    now: datetime,
    *,
    seconds: float,
    seed: int = 0,
    actor: str = "",
    prepare: Prepare | None = None,
) -> dict[str, Any]:
    """Plan the day (dispatched visits stay fixed, pins are honoured), save it and confirm new appointments.

    ``prepare`` runs first, in its own transaction under the lease: the change that calls for the re-plan.
    Returns the run's plan_json with the save's outcome and the unassigned reasons.
    """
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidInput(f"seconds must be more than 0 and at most {MAX_SECONDS:g}", field="seconds")
    if day < now.astimezone(tz).date():
        raise InvalidInput(f"{day.isoformat()} is over; only today and later days can be planned", field="date")
    async with day_lease(transactions, day, now, hold=seconds):
        if prepare is not None:
            async with transactions() as session:
                await prepare(session)
        async with transactions() as session:
            problem = _of_the_day(await load_problem(session, day, tz), await _planned_codes(session, day, tz))
        # Visits cannot start in the past: during the day, only what is left of it is planned.
        compiled = build_day(problem, HaversineTravel(), now if now > problem.midnight() else None)
        try:
            # The solver holds the CPU for its whole time limit; the event loop stays free meanwhile.
            plan = await asyncio.to_thread(optimise, compiled, seconds=seconds, seed=seed)
        except ScheduleError as exc:
            raise Conflict(str(exc)) from None
        report = plan_json(compiled, plan)
        reasons = unassigned_reasons(compiled, plan)
        async with transactions() as session:
            replanned = [job.id for job in compiled.jobs if job.fixed_start is None]
            before = {
                order.code: (order.technician, order.planned_start)
                for order in (
                    await session.scalars(select(WorkOrderRecord).where(col(WorkOrderRecord.code).in_(replanned)))
                ).all()
            }
            saved = await save_plan(session, compiled, plan, now, actor=actor)
            for code in saved.parts_short:
                reasons[code] = "its parts were taken by other work orders while the day was planned"
            report["unassigned"] = sorted({*report["unassigned"], *saved.parts_short})
            report["routes"] = [
                {**route, "visits": [v for v in route["visits"] if v["work_order"] not in saved.parts_short]}
                for route in report["routes"]
            ]
            report["reasons"] = reasons
            report["saved"] = {
                "scheduled": list(saved.scheduled),
                "unscheduled": list(saved.unscheduled),
                "parts_short": list(saved.parts_short),
            }
            report["seconds"] = seconds
            record = (await session.scalars(select(SchedulePlan).where(SchedulePlan.day == day))).first()
            if record is None:
                # The day's first run: the lease makes it the only one, so no other process adds this row now.
                record = SchedulePlan(day=day)
                session.add(record)
            record.plan, record.planned_at, record.planned_by = report, now, actor
            planner = Actor(ActorKind.SYSTEM, None, actor or "planner")
            replanned_orders = (
                await session.scalars(select(WorkOrderRecord).where(col(WorkOrderRecord.code).in_(replanned)))
            ).all()
            # Loaded once, so that each timeline note finds its case in the session instead of asking the database.
            cases = {o.case_id for o in replanned_orders if o.case_id is not None}
            (await session.scalars(select(Case).where(col(Case.id).in_(cases)))).all()
            for order in replanned_orders:
                await do_record_planning(
                    session, order, before[order.code], planner, now, tz=tz, reason=reasons.get(order.code)
                )
            scheduled = set(saved.scheduled)
            await queue_confirmations(session, [o for o in replanned_orders if o.code in scheduled], now, tz=tz)
        return report


async def dispatch_day(transactions: Transactions, day: date, tz: tzinfo, now: datetime) -> list[str]:
    """Mark the day's scheduled visits dispatched: from now on re-planning keeps their technician and start."""
    async with day_lease(transactions, day, now, hold=0), transactions() as session:
        start = datetime.combine(day, time(0), tzinfo=tz)
        orders = (
            await session.scalars(
                select(WorkOrderRecord)
                .where(
                    WorkOrderRecord.status == WorkOrderStatus.SCHEDULED,
                    col(WorkOrderRecord.planned_start) >= start,
                    col(WorkOrderRecord.planned_start) < start + timedelta(days=1),
                )
                .with_for_update()
            )
        ).all()
        for order in orders:
            order.status = WorkOrderStatus.DISPATCHED
            order.updated_at = now
        return sorted(order.code for order in orders)


def _of_the_day(problem: Problem, planned: set[str]) -> Problem:
    """Keep the work orders that can happen on the day (without a window, or with one that overlaps the day) and
    those planned on it (``planned``): one whose window moved to another day is then dropped from this one."""
    start = problem.midnight()
    end = start + timedelta(days=1)
    orders = tuple(
        order
        for order in problem.work_orders
        if order.id in planned or order.window is None or (order.window.start < end and order.window.end >= start)
    )
    return dataclasses.replace(problem, work_orders=orders)


async def _planned_codes(session: AsyncSession, day: date, tz: tzinfo) -> set[str]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    codes = await session.scalars(
        select(WorkOrderRecord.code).where(
            col(WorkOrderRecord.planned_start) >= start, col(WorkOrderRecord.planned_start) < start + timedelta(days=1)
        )
    )
    return set(codes.all())


async def day_schedule(session: AsyncSession, day: date, tz: tzinfo) -> dict[str, Any]:
    """Return the day as saved: a lane per technician (visits in route order), the unassigned and why, totals."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = start + timedelta(days=1)
    record = (await session.scalars(select(SchedulePlan).where(SchedulePlan.day == day))).first()
    saved: dict[str, Any] = record.plan if record else {}
    figures = {v["work_order"]: v for route in saved.get("routes", []) for v in route["visits"]}
    # The run's drive per technician counts the way home too; a lane without a run sums its visits' drives.
    driven = {route["technician"]: route["travel_seconds"] for route in saved.get("routes", [])}
    reasons: dict[str, str] = saved.get("reasons", {})
    technicians = (
        await session.scalars(
            select(TechnicianRecord).where(col(TechnicianRecord.active)).order_by(col(TechnicianRecord.code))
        )
    ).all()
    planned = (
        await session.scalars(
            select(WorkOrderRecord)
            .where(col(WorkOrderRecord.planned_start) >= start, col(WorkOrderRecord.planned_start) < end)
            .where(col(WorkOrderRecord.technician).is_not(None))
            .order_by(col(WorkOrderRecord.planned_start))
        )
    ).all()
    waiting = (
        await session.scalars(
            select(WorkOrderRecord)
            .where(WorkOrderRecord.status == WorkOrderStatus.UNSCHEDULED)
            .where(
                or_(
                    col(WorkOrderRecord.window_start).is_(None),
                    (col(WorkOrderRecord.window_start) < end) & (col(WorkOrderRecord.window_end) >= start),
                )
            )
            .order_by(col(WorkOrderRecord.priority).desc(), col(WorkOrderRecord.id))
        )
    ).all()
    lanes = []
    for technician in technicians:
        visits = [
            _visit(order, figures.get(order.code), tz) for order in planned if order.technician == technician.code
        ]
        off = day.isoformat() in technician.days_off or str(day.weekday()) not in technician.shifts
        if off and not visits:
            continue
        home = (technician.home_lat, technician.home_lon)
        stops = [home, *((v["lat"], v["lon"]) for v in visits), home]
        lanes.append(
            {
                "technician": technician.code,
                "name": technician.name,
                "off": off,
                "visits": visits,
                "travel_seconds": driven.get(technician.code, sum(v["travel_seconds"] or 0 for v in visits)),
                "late_seconds": sum(v["late_seconds"] or 0 for v in visits),
                "route_url": route_link(stops) if visits else None,
            }
        )
    return {
        "date": day.isoformat(),
        "planned_at": record.planned_at.isoformat() if record and record.planned_at else None,
        "travel_seconds": saved.get("travel_seconds", 0),
        "lateness_seconds": saved.get("lateness_seconds", 0),
        "routes": lanes,
        "unassigned": [
            {**_order_fields(order, tz), "reason": reasons.get(order.code, _UNPLANNED)} for order in waiting
        ],
    }


def _visit(order: WorkOrderRecord, figures: dict[str, Any] | None, tz: tzinfo) -> dict[str, Any]:
    return {
        **_order_fields(order, tz),
        "start": _local(order.planned_start, tz),
        "end": _local(order.planned_end, tz),
        "fixed": order.status in FIXED_STATUSES,
        "travel_seconds": figures["travel_seconds"] if figures else None,
        "late_seconds": figures["late_seconds"] if figures else None,
    }


def _order_fields(order: WorkOrderRecord, tz: tzinfo) -> dict[str, Any]:
    return {
        "work_order": order.code,
        "job_type": order.job_type.value,
        "status": order.status.value,
        "priority": order.priority,
        "address": order.address,
        "lat": order.lat,
        "lon": order.lon,
        "window_start": _local(order.window_start, tz),
        "window_end": _local(order.window_end, tz),
        "pinned_technician": order.pinned_technician,
        "map_url": map_link(order.lat, order.lon),
    }


def _local(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat() if moment else None


def map_link(lat: float, lon: float) -> str:
    """Return an OpenStreetMap link centred on a point with a marker."""
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=16/{lat:.6f}/{lon:.6f}"


def route_link(points: list[tuple[float, float]]) -> str:
    """Return a link to the whole route on the OSRM demo map (OpenStreetMap data), one ``loc`` per stop in order.

    openstreetmap.org's own directions take only a start and an end; OSRM's map takes every stop.
    """
    query = urlencode([("loc", f"{lat:.6f},{lon:.6f}") for lat, lon in points] + [("srv", "0")])
    return f"https://map.project-osrm.org/?{query}"


async def replan_if_planned(
    transactions: Transactions, day: date, tz: tzinfo, now: datetime, *, seconds: float, actor: str = ""
) -> dict[str, Any] | None:
    """Re-plan the day if it has a plan already (a job was added to it, an appointment moved); else do nothing."""
    if day < now.astimezone(tz).date():
        return None
    async with transactions() as session:
        if not await has_plan(session, day):
            return None
    return await plan_day(transactions, day, tz, now, seconds=seconds, actor=actor)


async def technician_sick(
    transactions: Transactions, code: str, day: date, tz: tzinfo, now: datetime, *, seconds: float, actor: str = ""
) -> dict[str, Any]:
    """Give a technician the day off and, if the day is planned, re-plan their visits onto the others."""
    if day < now.astimezone(tz).date():
        raise InvalidInput(f"{day.isoformat()} is over", field="date")
    released: list[str] = []

    async def absent(session: AsyncSession) -> None:
        record = await get_technician(session, code, for_update=True)
        released.extend(await do_add_absence(session, record, day, tz, now))

    async with transactions() as session:
        await get_technician(session, code)
        planned = await has_plan(session, day)
    if planned:
        report: dict[str, Any] | None = await plan_day(
            transactions, day, tz, now, seconds=seconds, actor=actor, prepare=absent
        )
    else:
        async with day_lease(transactions, day, now, hold=0), transactions() as session:
            await absent(session)
        report = None
    return {"technician": code, "date": day.isoformat(), "released": released, "plan": report}
