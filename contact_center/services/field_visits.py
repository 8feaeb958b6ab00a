"""Every change a technician makes to a job on the visit: status steps, parts, meter readings, notes and photos.

Each ``do_*`` function runs in the caller's transaction: it locks the work order, checks the step against
field_service.lifecycle and who is asking, applies it, writes a ``work_order_events`` row and, when the work order
belongs to a case, the same step on the case's timeline. Completion books every part recorded on the job at once
through field_service.store.close_work_order, so short stock refuses the whole completion (409) and nothing is
half-booked. The reads for the technician's day and a job's page live here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.errors import Conflict, Forbidden, InvalidInput, NotFound
from contact_center.models import ActorKind, Case, EventKind, Role, User
from contact_center.services.field_contacts import FieldContact, work_order_contact
from contact_center.services.field_notifications import queue_on_the_way
from contact_center.services.invoices import invoice_on_completion
from contact_center.services.timeline import record_event
from field_service.history import AssetHistory, asset_history
from field_service.invoicing import PriceList
from field_service.ledger import InsufficientStock, StockError, StockLedger
from field_service.lifecycle import (
    SAME_SHIFT,
    Arrival,
    TransitionRefused,
    check_recording,
    check_transition,
    eta,
    may_move,
    previous_stop,
)
from field_service.maintenance_store import advance_plan_on_completion
from field_service.models import (
    Asset,
    MeterReading,
    Part,
    StockLocation,
    TechnicianRecord,
    WorkOrderRecord,
    WorkOrderStatus,
)
from field_service.problem import Location, ProblemError
from field_service.store import close_work_order
from field_service.travel import HaversineTravel, TravelMatrix
from field_service.worklog import WorkOrderEvent, WorkOrderEventKind, WorkOrderPhoto

__all__ = [
    "JobDetails",
    "StatusChange",
    "Worker",
    "active_technicians",
    "assigned_job",
    "do_add_note",
    "do_attach_photo",
    "do_change_status",
    "do_record_parts",
    "do_record_reading",
    "job_details",
    "load_photo",
    "technician_day",
    "worker_for",
]

_SUPERVISING = frozenset({Role.ADMIN, Role.SUPERVISOR})
_TRAVEL = HaversineTravel()


@dataclass(frozen=True)
class Worker:
    """Who is working jobs: their user, the technician they are (if any), whether they supervise."""

    user_id: int | None
    name: str
    role: Role
    technician: str | None

    @property
    def supervisor(self) -> bool:
        """Return whether this person may move anyone's job."""
        return self.role in _SUPERVISING

    @property
    def actor(self) -> Actor:
        """Return the actor case timeline events are recorded under."""
        return Actor(ActorKind.USER, self.user_id, self.name)


@dataclass(frozen=True)
class StatusChange:
    """A job after a status step; ``eta`` is set when the technician set off."""

    order: WorkOrderRecord
    eta: datetime | None = None


@dataclass(frozen=True)
class JobDetails:
    """Everything the job page shows about one work order."""

    order: WorkOrderRecord
    contact: FieldContact | None
    history: AssetHistory | None
    part_names: dict[str, str]
    parts_recorded: dict[str, int]
    defective_recorded: dict[str, int]
    events: tuple[WorkOrderEvent, ...]
    photo_ids: tuple[int, ...]
    eta: datetime | None


async def worker_for(session: AsyncSession, user: User) -> Worker:
    """Return the user as a worker of jobs, with the technician linked to them."""
    code = (
        await session.execute(select(TechnicianRecord.code).where(TechnicianRecord.user_id == user.id))
    ).scalar_one_or_none()
    return Worker(user.id, user.display_name, user.role, code)


async def do_change_status(
    session: AsyncSession,
    code: str,
    target: WorkOrderStatus,
    worker: Worker,
    now: datetime,
    *,
    reason: str = "",
    travel: TravelMatrix = _TRAVEL,
    tz: tzinfo = UTC,
    prices: PriceList | None = None,
) -> StatusChange:
    """Move a job one step along its lifecycle.

    Setting off computes the ETA and tells the customer (in the site's time zone ``tz``); closing a job books the
    parts, moves its maintenance plan on and, when the job is chargeable, invoices it at ``prices``.
    """
    order = await _job(session, code, worker)
    try:
        check_transition(order.status, target, reason=reason)
    except TransitionRefused as exc:
        raise Conflict(str(exc), status=order.status.value) from None
    previous = order.status
    arrival = None
    if target is WorkOrderStatus.EN_ROUTE:
        arrival = await _eta(session, order, now, travel)
        order.status = target
        await queue_on_the_way(session, order, arrival, now, tz=tz)
    elif target is WorkOrderStatus.COMPLETED:
        await _complete(session, order, worker, now)
        await advance_plan_on_completion(session, order, now)
        await invoice_on_completion(session, order, now, prices=prices)
    elif target is WorkOrderStatus.CANNOT_COMPLETE:
        # Whatever was recorded as used stays unbooked: the job failed, the parts go back to where they were held.
        await _close(session, order, worker, now, completed=False, parts_used={})
        await advance_plan_on_completion(session, order, now)
    else:
        order.status = target
    order.updated_at = now
    data: dict[str, Any] = {"from": previous.value, "to": target.value}
    if arrival is not None:
        data["eta"] = arrival.isoformat()
    if reason.strip():
        data["reason"] = reason.strip()
    summary = f"{order.code}: {previous.value.replace('_', ' ')} → {target.value.replace('_', ' ')}"
    await _record(session, order, worker, now, WorkOrderEventKind.STATUS, data, body=reason.strip(), summary=summary)
    return StatusChange(order, arrival)


async def do_record_parts(
    session: AsyncSession,
    code: str,
    worker: Worker,
    now: datetime,
    *,
    used: Mapping[str, int],
    defective: Mapping[str, int],
    replace: bool = False,
) -> WorkOrderEvent:
    """Note parts used and defective parts taken out on the job; completion books them in the stock ledger.

    Quantities add to what was recorded before; with ``replace`` they set it instead (0 takes a mistake back).
    """
    order = await _job(session, code, worker)
    _may_record(order, "parts")
    if not used and not defective:
        raise InvalidInput("name at least one part used or returned defective", field="used")
    if any(n < (0 if replace else 1) for n in (*used.values(), *defective.values())):
        raise InvalidInput("quantities are whole units of at least 1 (0 only to correct)", field="used")
    known = set((await session.execute(select(Part.sku).where(col(Part.sku).in_([*used, *defective])))).scalars())
    unknown = sorted({*used, *defective} - known)
    if unknown:
        raise InvalidInput(f"no part {', '.join(unknown)} in the catalogue", field="used")
    data: dict[str, Any] = {"used": dict(used), "defective": dict(defective)}
    if replace:
        data["replace"] = True
    listed = ", ".join(f"{n} x {sku}" for sku, n in used.items())
    returned = ", ".join(f"{n} x {sku}" for sku, n in defective.items())
    summary = f"{order.code}: parts used {listed or 'none'}" + (f"; defective returned {returned}" if returned else "")
    if replace:
        summary += " (corrected)"
    return await _record(session, order, worker, now, WorkOrderEventKind.PARTS, data, summary=summary)


async def do_record_reading(
    session: AsyncSession, code: str, worker: Worker, now: datetime, value: float
) -> MeterReading:
    """Store a meter reading on the job's asset."""
    order = await _job(session, code, worker)
    _may_record(order, "reading")
    asset = await session.get(Asset, order.asset_id) if order.asset_id else None
    if asset is None:
        raise Conflict(f"work order {order.code} is not on an asset, so there is no meter to read")
    if not asset.meter_unit:
        raise Conflict(f"asset {asset.code} has no meter")
    reading = MeterReading(asset_id=asset.id or 0, work_order_id=order.id, value=value, read_at=now, actor=worker.name)
    session.add(reading)
    await session.flush()
    data = {"asset": asset.code, "value": value, "unit": asset.meter_unit, "reading_id": reading.id}
    summary = f"{order.code}: meter of {asset.code} reads {value:g} {asset.meter_unit}"
    await _record(session, order, worker, now, WorkOrderEventKind.READING, data, summary=summary)
    return reading


async def do_add_note(session: AsyncSession, code: str, worker: Worker, now: datetime, text: str) -> WorkOrderEvent:
    """Add the technician's note to the job."""
    order = await _job(session, code, worker)
    _may_record(order, "note")
    if not text.strip():
        raise InvalidInput("the note is empty", field="text")
    return await _record(
        session, order, worker, now, WorkOrderEventKind.NOTE, {}, body=text.strip(), summary=f"{order.code}: note"
    )


async def do_attach_photo(
    session: AsyncSession, code: str, worker: Worker, now: datetime, content: bytes, media_type: str
) -> WorkOrderPhoto:
    """Store a photo taken on the job (its type already checked from its bytes)."""
    order = await _job(session, code, worker)
    _may_record(order, "photo")
    photo = WorkOrderPhoto(
        work_order_id=order.id or 0,
        media_type=media_type,
        size=len(content),
        content=content,
        actor=worker.name,
        created_at=now,
    )
    session.add(photo)
    await session.flush()
    data = {"photo_id": photo.id, "media_type": media_type, "size": len(content)}
    await _record(session, order, worker, now, WorkOrderEventKind.PHOTO, data, summary=f"{order.code}: photo added")
    return photo


async def assigned_job(session: AsyncSession, code: str, worker: Worker) -> WorkOrderRecord:
    """Return the work order if the worker may work it (checked before a slow upload is read, without a lock)."""
    order = await _find(session, code)
    _check_owner(order, worker)
    return order


async def load_photo(session: AsyncSession, code: str, photo_id: int, worker: Worker) -> WorkOrderPhoto:
    """Return a job's photo to staff, or to a technician on their own job only."""
    order = await _find(session, code)
    if worker.role is Role.TECHNICIAN and not may_move(order.technician, worker.technician, supervisor=False):
        raise Forbidden(f"work order {code} is not yours")
    photo = await session.get(WorkOrderPhoto, photo_id)
    if photo is None or photo.work_order_id != order.id:
        raise NotFound(f"work order {code} has no photo {photo_id}", resource="photo")
    return photo


async def technician_day(session: AsyncSession, technician: str, day: date, tz: tzinfo) -> list[WorkOrderRecord]:
    """Return the technician's jobs planned on ``day`` (local to ``tz``), in route order."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    rows = await session.execute(
        select(WorkOrderRecord)
        .where(
            WorkOrderRecord.technician == technician,
            col(WorkOrderRecord.planned_start) >= start,
            col(WorkOrderRecord.planned_start) < start + timedelta(days=1),
        )
        .order_by(col(WorkOrderRecord.planned_start), col(WorkOrderRecord.code))
    )
    return list(rows.scalars().all())


async def active_technicians(session: AsyncSession) -> list[TechnicianRecord]:
    """Return the technicians at work, by name (a supervisor picks whose day to open)."""
    rows = await session.execute(
        select(TechnicianRecord).where(col(TechnicianRecord.active)).order_by(col(TechnicianRecord.name))
    )
    return list(rows.scalars().all())


async def job_details(session: AsyncSession, code: str, worker: Worker) -> JobDetails:
    """Return what the job page shows: contact, asset history, parts recorded so far, the steps and photos."""
    order = await assigned_job(session, code, worker)
    events = tuple(
        (
            await session.execute(
                select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id).order_by(col(WorkOrderEvent.id))
            )
        ).scalars()
    )
    used: dict[str, int] = {}
    defective: dict[str, int] = {}
    _add_recorded(events, used, defective)
    skus = {*order.parts, *used, *defective}
    names = dict((await session.execute(select(Part.sku, Part.name).where(col(Part.sku).in_(skus)))).all())
    asset = await session.get(Asset, order.asset_id) if order.asset_id else None
    photos = (
        await session.execute(
            select(WorkOrderPhoto.id).where(WorkOrderPhoto.work_order_id == order.id).order_by(col(WorkOrderPhoto.id))
        )
    ).scalars()
    return JobDetails(
        order=order,
        contact=await work_order_contact(session, order),
        history=await asset_history(session, asset) if asset else None,
        part_names=names,
        parts_recorded=used,
        defective_recorded=defective,
        events=events,
        photo_ids=tuple(p for p in photos if p is not None),
        eta=_latest_eta(order, events),
    )


async def _job(session: AsyncSession, code: str, worker: Worker) -> WorkOrderRecord:
    """Return the work order locked for this change, after checking the worker may move it."""
    order = (
        await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == code).with_for_update())
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"work order {code} does not exist", resource="work_order")
    _check_owner(order, worker)
    return order


async def _find(session: AsyncSession, code: str) -> WorkOrderRecord:
    order = (await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == code))).scalar_one_or_none()
    if order is None:
        raise NotFound(f"work order {code} does not exist", resource="work_order")
    return order


def _check_owner(order: WorkOrderRecord, worker: Worker) -> None:
    if not may_move(order.technician, worker.technician, supervisor=worker.supervisor):
        raise Forbidden(f"work order {order.code} is not on your route")


def _may_record(order: WorkOrderRecord, what: str) -> None:
    try:
        check_recording(order.status, what)
    except TransitionRefused as exc:
        raise Conflict(str(exc), status=order.status.value) from None


async def _eta(session: AsyncSession, order: WorkOrderRecord, now: datetime, travel: TravelMatrix) -> datetime:
    """Return when the technician reaches the site, setting off now from their last stop this shift or home."""
    technician = (
        await session.execute(select(TechnicianRecord).where(TechnicianRecord.code == order.technician))
    ).scalar_one_or_none()
    if technician is None:
        raise Conflict(f"work order {order.code} has no technician to send")
    rows = await session.execute(
        select(WorkOrderEvent, WorkOrderRecord.lat, WorkOrderRecord.lon)
        .join(WorkOrderRecord, col(WorkOrderRecord.id) == col(WorkOrderEvent.work_order_id))
        .where(
            WorkOrderRecord.technician == technician.code,
            WorkOrderEvent.kind == WorkOrderEventKind.STATUS,
            col(WorkOrderEvent.created_at) >= now - SAME_SHIFT,
        )
    )
    arrivals = [
        Arrival(event.created_at, Location(lat, lon))
        for event, lat, lon in rows.all()
        if event.data.get("to") == WorkOrderStatus.ON_SITE.value
    ]
    origin = previous_stop(arrivals, Location(technician.home_lat, technician.home_lon), now)
    return eta(now, origin, Location(order.lat, order.lon), travel)


async def _complete(session: AsyncSession, order: WorkOrderRecord, worker: Worker, now: datetime) -> WorkOrderRecord:
    """Book the parts recorded on the job and the defective returns, then close it as completed."""
    events = (
        await session.execute(
            select(WorkOrderEvent).where(
                WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.kind == WorkOrderEventKind.PARTS
            )
        )
    ).scalars()
    used: dict[str, int] = {}
    defective: dict[str, int] = {}
    _add_recorded(events, used, defective)
    if defective:
        van, warehouse = await _van_and_warehouse(session, order.technician)
        if van is None:
            raise Conflict(f"technician {order.technician} has no van to book the defective parts from")
        ledger = StockLedger(session, now, worker.name)
        for sku, quantity in sorted(defective.items()):
            await ledger.return_defective(van, warehouse or van, sku, quantity, order.code)
    return await _close(session, order, worker, now, completed=True, parts_used=used)


async def _close(
    session: AsyncSession,
    order: WorkOrderRecord,
    worker: Worker,
    now: datetime,
    *,
    completed: bool,
    parts_used: Mapping[str, int],
) -> WorkOrderRecord:
    try:
        return await close_work_order(
            session, order.code, completed=completed, parts_used=parts_used, now=now, actor=worker.name
        )
    except InsufficientStock as exc:
        raise Conflict(f"not enough stock to book the parts used: {exc}") from None
    except (StockError, ProblemError) as exc:
        raise Conflict(str(exc)) from None


async def _van_and_warehouse(session: AsyncSession, technician: str | None) -> tuple[str | None, str | None]:
    van = (
        await session.execute(
            select(StockLocation)
            .join(TechnicianRecord, col(TechnicianRecord.van_id) == col(StockLocation.id))
            .where(TechnicianRecord.code == technician)
        )
    ).scalar_one_or_none()
    if van is None:
        return None, None
    warehouse = await session.get(StockLocation, van.warehouse_id) if van.warehouse_id else None
    return van.code, warehouse.code if warehouse else None


def _add_recorded(events: Iterable[WorkOrderEvent], used: dict[str, int], defective: dict[str, int]) -> None:
    """Total the parts recorded on a job's parts events into ``used`` and ``defective``, corrections applied."""
    for event in events:
        if event.kind != WorkOrderEventKind.PARTS:
            continue
        replace = bool(event.data.get("replace"))
        for target, key in ((used, "used"), (defective, "defective")):
            for sku, quantity in (event.data.get(key) or {}).items():
                total = int(quantity) + (0 if replace else target.get(sku, 0))
                if total > 0:
                    target[sku] = total
                else:
                    target.pop(sku, None)


def _latest_eta(order: WorkOrderRecord, events: tuple[WorkOrderEvent, ...]) -> datetime | None:
    if order.status is not WorkOrderStatus.EN_ROUTE:
        return None
    for event in reversed(events):
        if event.kind == WorkOrderEventKind.STATUS and event.data.get("eta"):
            return datetime.fromisoformat(str(event.data["eta"]))
    return None


async def _record(
    session: AsyncSession,
    order: WorkOrderRecord,
    worker: Worker,
    now: datetime,
    kind: WorkOrderEventKind,
    data: dict[str, Any],
    *,
    summary: str,
    body: str = "",
) -> WorkOrderEvent:
    """Write the step on the job's history and, when the job belongs to a case, on the case's timeline."""
    event = WorkOrderEvent(
        work_order_id=order.id or 0,
        kind=kind,
        body=body,
        data=data,
        actor=worker.name,
        actor_user_id=worker.user_id,
        created_at=now,
    )
    session.add(event)
    if order.case_id is not None:
        case = await session.get(Case, order.case_id)
        if case is not None:
            case_data = {"work_order": order.code, "step": kind.value, **data}
            await record_event(
                session, case, EventKind.WORK_ORDER, worker.actor, now, body=body or summary, data=case_data
            )
    await session.flush()
    return event
