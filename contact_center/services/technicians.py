"""Every change to a technician: created and edited by admins, and a day off when one calls in sick.

Shifts are stored as field_service.store reads them back ({weekday: {"start", "end", "breaks"}}), after checking
them with the scheduler's own rules (field_service.problem.Shift), so a stored shift always loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.models import Role, User
from contact_center.services.unique import flush_or_conflict
from field_service.models import LocationKind, StockLocation, TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.problem import Shift

__all__ = [
    "TechnicianChanges",
    "TechnicianFields",
    "do_add_absence",
    "do_create_technician",
    "do_update_technician",
    "get_technician",
    "shift_json",
]


@dataclass
class TechnicianFields:
    """A technician as an admin describes them; shifts keyed by weekday, 0 = Monday."""

    code: str
    name: str
    home_lat: float
    home_lon: float
    skills: dict[str, int] = field(default_factory=dict)
    shifts: dict[int, Shift] = field(default_factory=dict)
    days_off: list[date] = field(default_factory=list)
    van: str | None = None
    user_id: int | None = None
    active: bool = True


@dataclass
class TechnicianChanges:
    """Fields to change; None leaves a field as it is (``clear_van`` / ``clear_user`` unlink)."""

    name: str | None = None
    home_lat: float | None = None
    home_lon: float | None = None
    skills: dict[str, int] | None = None
    shifts: dict[int, Shift] | None = None
    days_off: list[date] | None = None
    van: str | None = None
    user_id: int | None = None
    active: bool | None = None
    clear_van: bool = False
    clear_user: bool = False


def shift_json(shifts: Mapping[int, Shift]) -> dict[str, dict[str, object]]:
    """Return shifts in the stored shape."""
    return {
        str(weekday): {
            "start": f"{shift.start:%H:%M}",
            "end": f"{shift.end:%H:%M}",
            "breaks": [
                {"earliest": f"{b.earliest:%H:%M}", "latest": f"{b.latest:%H:%M}", "minutes": b.minutes}
                for b in shift.breaks
            ],
        }
        for weekday, shift in sorted(shifts.items())
    }


async def get_technician(session: AsyncSession, code: str, *, for_update: bool = False) -> TechnicianRecord:
    """Return a technician by code, or raise NotFound."""
    query = select(TechnicianRecord).where(TechnicianRecord.code == code)
    record = (await session.scalars(query.with_for_update() if for_update else query)).first()
    if record is None:
        raise NotFound(f"technician {code} does not exist", resource="technician")
    return record


async def do_create_technician(session: AsyncSession, fields: TechnicianFields) -> TechnicianRecord:
    """Add a technician, linking their van and user account."""
    record = TechnicianRecord(
        code=fields.code,
        name=fields.name,
        skills=dict(fields.skills),
        home_lat=fields.home_lat,
        home_lon=fields.home_lon,
        shifts=shift_json(fields.shifts),
        days_off=sorted({d.isoformat() for d in fields.days_off}),
        active=fields.active,
    )
    if fields.user_id is not None:
        record.user_id = await _technician_user(session, fields.user_id)
    session.add(record)
    await flush_or_conflict(session, f"technician {fields.code} exists already, or the user is linked to another")
    if fields.van is not None:
        await _link_van(session, record, fields.van)
    return record


async def do_update_technician(
    session: AsyncSession, record: TechnicianRecord, changes: TechnicianChanges
) -> TechnicianRecord:
    """Change a technician's details."""
    for name in ("name", "home_lat", "home_lon", "skills", "active"):
        value = getattr(changes, name)
        if value is not None:
            setattr(record, name, value)
    if changes.shifts is not None:
        record.shifts = shift_json(changes.shifts)
    if changes.days_off is not None:
        record.days_off = sorted({d.isoformat() for d in changes.days_off})
    if changes.clear_user:
        record.user_id = None
    elif changes.user_id is not None:
        record.user_id = await _technician_user(session, changes.user_id)
    if changes.clear_van:
        record.van_id = None
    elif changes.van is not None:
        await _link_van(session, record, changes.van)
    await flush_or_conflict(session, "that user is linked to another technician")
    return record


async def do_add_absence(
    session: AsyncSession, record: TechnicianRecord, day: date, tz: tzinfo, now: datetime
) -> list[str]:
    """Give the technician the day off and hand their not-yet-started visits of that day back to planning.

    Dispatched visits are released too (back to scheduled, so the next plan of the day moves them), and pins to
    the technician on those visits are lifted, since nobody else could take a job pinned to someone who is off.
    Visits already under way (en route, on site) stay theirs. Returns the codes of the released work orders.
    """
    record.days_off = sorted({*record.days_off, day.isoformat()})
    start = datetime.combine(day, time(0), tzinfo=tz)
    orders = (
        await session.scalars(
            select(WorkOrderRecord)
            .where(
                WorkOrderRecord.technician == record.code,
                col(WorkOrderRecord.status).in_([WorkOrderStatus.SCHEDULED, WorkOrderStatus.DISPATCHED]),
                col(WorkOrderRecord.planned_start) >= start,
                col(WorkOrderRecord.planned_start) < start + timedelta(days=1),
            )
            .with_for_update()
        )
    ).all()
    for order in orders:
        order.status = WorkOrderStatus.SCHEDULED
        if order.pinned_technician == record.code:
            order.pinned_technician = None
        order.updated_at = now
    await session.flush()
    return sorted(order.code for order in orders)


async def _technician_user(session: AsyncSession, user_id: int) -> int:
    user = await session.get(User, user_id)
    if user is None:
        raise InvalidInput(f"user {user_id} does not exist", field="user_id")
    if user.role is not Role.TECHNICIAN:
        raise InvalidInput(f"user {user_id} is a {user.role.value}, not a technician", field="user_id")
    return user_id


async def _link_van(session: AsyncSession, record: TechnicianRecord, code: str) -> None:
    van = (await session.scalars(select(StockLocation).where(StockLocation.code == code))).first()
    if van is None or van.kind is not LocationKind.VAN:
        raise InvalidInput(f"{code} is not a van", field="van")
    if van.technician not in (None, record.code):
        raise Conflict(f"van {code} belongs to {van.technician}")
    record.van_id = van.id
    van.technician = record.code
    await session.flush()
