"""Field service for the contact center over HTTP: work orders from cases, technicians, and each day's schedule."""

from __future__ import annotations

import datetime as dt
import logging
from datetime import date, datetime, time
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select

from contact_center.errors import DomainError, Forbidden, InvalidInput
from contact_center.services import field_planning
from contact_center.services.cases import get_case
from contact_center.services.technicians import (
    TechnicianChanges,
    TechnicianFields,
    do_create_technician,
    do_update_technician,
    get_technician,
)
from contact_center.services.work_orders import (
    NewWorkOrder,
    WorkOrderChanges,
    do_create_work_order,
    do_update_work_order,
    get_work_order,
    list_work_orders,
)
from contact_center.web.api.params import Out, acting_user, now
from contact_center.web.auth import ADMINS, AGENTS, SUPERVISORS
from contact_center.web.keys import DATABASE, SETTINGS
from contact_center.web.router import ApiRouter
from field_service.models import TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.problem import Break, JobType, ProblemError, Shift

__all__ = ["ShiftIn", "field_tz", "router", "schedule_day"]

log = logging.getLogger(__name__)
router = ApiRouter("field service")

_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class WorkOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_type: JobType
    asset: str | None = Field(default=None, max_length=64, description="asset code; its site is the default site")
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    required_skills: dict[str, int] = Field(default_factory=dict, description="skill: minimum level (1-10)")
    duration_minutes: int = Field(gt=0, le=24 * 60)
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    priority: int = Field(default=3, ge=1, le=5)
    sla_deadline: AwareDatetime | None = None
    parts: dict[str, int] = Field(default_factory=dict, description="sku: quantity")
    notes: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _both_or_neither(self.window_start, self.window_end)
        if any(not 1 <= level <= 10 for level in self.required_skills.values()):
            raise ValueError("skill levels go from 1 to 10")
        if any(quantity <= 0 for quantity in self.parts.values()):
            raise ValueError("part quantities must be positive")
        return self


class WorkOrderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    notes: str | None = Field(default=None, max_length=4000)
    pinned_technician: str | None = Field(default=None, max_length=64, description="pin to a technician; null unpins")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if ("window_start" in self.model_fields_set) != ("window_end" in self.model_fields_set):
            raise ValueError("send window_start and window_end together")
        _both_or_neither(self.window_start, self.window_end)
        return self


class WorkOrderQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = None
    status: WorkOrderStatus | None = None
    technician: str | None = Field(default=None, max_length=64)


class WorkOrderOut(Out):
    code: str
    case_id: int | None
    job_type: JobType
    status: WorkOrderStatus
    address: str
    lat: float
    lon: float
    required_skills: dict[str, int]
    duration_minutes: int
    window_start: datetime | None
    window_end: datetime | None
    priority: int
    sla_deadline: datetime | None
    parts: dict[str, int]
    asset_id: int | None
    pinned_technician: str | None
    technician: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    notes: str


class BreakIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    earliest: time
    latest: time
    minutes: int = Field(gt=0, le=240)


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time
    end: time
    breaks: list[BreakIn] = Field(default_factory=list)

    def shift(self) -> Shift:
        """Return the scheduler's shift, checked by its rules."""
        try:
            return Shift(self.start, self.end, tuple(Break(b.earliest, b.latest, b.minutes) for b in self.breaks))
        except ProblemError as exc:
            raise InvalidInput(f"shifts: {exc}", field="shifts") from None


class TechnicianIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    skills: dict[str, int] = Field(default_factory=dict)
    home_lat: float = Field(ge=-90, le=90)
    home_lon: float = Field(ge=-180, le=180)
    shifts: dict[int, ShiftIn] = Field(default_factory=dict, description="by weekday, 0 = Monday")
    days_off: list[date] = Field(default_factory=list)
    van: str | None = Field(default=None, max_length=64, description="code of the van's stock location")
    user_id: int | None = None
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> Self:
        _weekdays(self.shifts)
        return self


class TechnicianPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    skills: dict[str, int] | None = None
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    shifts: dict[int, ShiftIn] | None = None
    days_off: list[date] | None = None
    van: str | None = Field(default=None, max_length=64, description="null unlinks the van")
    user_id: int | None = Field(default=None, description="null unlinks the user")
    active: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        _weekdays(self.shifts or {})
        return self


class TechnicianOut(Out):
    code: str
    name: str
    skills: dict[str, int]
    home_lat: float
    home_lon: float
    shifts: dict[str, Any]
    days_off: list[str]
    van_id: int | None
    user_id: int | None
    active: bool


class AbsenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date


class OptimiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(default=5.0, gt=0, le=field_planning.MAX_SECONDS)
    seed: int = Field(default=0, ge=0)


def field_tz(request: web.Request) -> ZoneInfo:
    """Return the time zone field-service days are planned in."""
    return request.app[SETTINGS].field_zone


def schedule_day(request: web.Request) -> date:
    """Read the {date} of a schedule path."""
    raw = request.match_info["date"]
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a date like 2026-12-07", field="date") from None


async def replan_quietly(request: web.Request, day: date, actor: str) -> None:
    """Re-plan a day that has a plan after a change to it; a failure leaves the change and is logged, not raised."""
    try:
        await field_planning.replan_if_planned(
            request.app[DATABASE].transaction,
            day,
            field_tz(request),
            now(request),
            seconds=request.app[SETTINGS].field_replan_seconds,
            actor=actor,
        )
    except DomainError as exc:
        log.warning("re-planning %s after a change failed: %s", day, exc.message)


@router.route(
    "POST",
    "/api/v1/cases/{ref}/work-orders",
    summary="Create a work order for a case (re-plans its day if that day has a plan)",
    roles=AGENTS,
    body=WorkOrderIn,
    response=WorkOrderOut,
    status=201,
)
async def create_work_order(request: web.Request, body: WorkOrderIn) -> WorkOrderRecord:
    _, actor = await acting_user(request)
    window = (body.window_start, body.window_end) if body.window_start and body.window_end else None
    new = NewWorkOrder(
        job_type=body.job_type,
        duration_minutes=body.duration_minutes,
        asset=body.asset,
        address=body.address,
        lat=body.lat,
        lon=body.lon,
        required_skills=dict(body.required_skills),
        window=window,
        priority=body.priority,
        sla_deadline=body.sla_deadline,
        parts=dict(body.parts),
        notes=body.notes,
    )
    async with request.app[DATABASE].transaction() as session:
        case = await get_case(session, request.match_info["ref"], for_update=True)
        order = await do_create_work_order(session, case, new, actor, now(request))
    if window is not None:
        await replan_quietly(request, window[0].astimezone(field_tz(request)).date(), actor.name or "")
    async with request.app[DATABASE].transaction() as session:
        return await get_work_order(session, order.code)


@router.route(
    "GET",
    "/api/v1/work-orders",
    summary="List work orders (by local day planned or wanted, status, technician)",
    roles=AGENTS,
    query=WorkOrderQuery,
    response=list[WorkOrderOut],
)
async def list_orders(request: web.Request, query: WorkOrderQuery) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return await list_work_orders(
            session, tz=field_tz(request), day=query.date, status=query.status, technician=query.technician
        )


@router.route("GET", "/api/v1/work-orders/{code}", summary="Show a work order", roles=AGENTS, response=WorkOrderOut)
async def show_order(request: web.Request) -> WorkOrderRecord:
    async with request.app[DATABASE].transaction() as session:
        return await get_work_order(session, request.match_info["code"])


@router.route(
    "PATCH",
    "/api/v1/work-orders/{code}",
    summary="Change a work order's window, priority or notes, or pin it to a technician (dispatchers)",
    roles=AGENTS,
    body=WorkOrderPatch,
    response=WorkOrderOut,
)
async def patch_order(request: web.Request, body: WorkOrderPatch) -> WorkOrderRecord:
    signed_in, actor = await acting_user(request)
    sent = body.model_fields_set
    if "pinned_technician" in sent and signed_in.user.role not in SUPERVISORS:
        raise Forbidden("only dispatchers (supervisors) pin work orders to technicians")
    changes = WorkOrderChanges(priority=body.priority, notes=body.notes)
    if "window_start" in sent:
        changes.window = (body.window_start, body.window_end) if body.window_start and body.window_end else None
    if "pinned_technician" in sent:
        changes.pinned_technician = body.pinned_technician
    code = request.match_info["code"]
    async with request.app[DATABASE].transaction() as session:
        order = await get_work_order(session, code, for_update=True)
        changed = await do_update_work_order(session, order, changes, actor, now(request))
    if "window" in changed:
        # The day it was planned on first, which lets it go, then the day of its new window, which takes it.
        tz = field_tz(request)
        days = [moment.astimezone(tz).date() for moment in (order.planned_start, order.window_start) if moment]
        for day in dict.fromkeys(days):
            await replan_quietly(request, day, actor.name or "")
    async with request.app[DATABASE].transaction() as session:
        return await get_work_order(session, code)


@router.route("GET", "/api/v1/technicians", summary="List technicians", roles=SUPERVISORS, response=list[TechnicianOut])
async def list_technicians(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(TechnicianRecord).order_by(col(TechnicianRecord.code)))).all())


@router.route(
    "POST",
    "/api/v1/technicians",
    summary="Add a technician",
    roles=ADMINS,
    body=TechnicianIn,
    response=TechnicianOut,
    status=201,
)
async def create_technician(request: web.Request, body: TechnicianIn) -> TechnicianRecord:
    fields = TechnicianFields(
        code=body.code,
        name=body.name,
        home_lat=body.home_lat,
        home_lon=body.home_lon,
        skills=dict(body.skills),
        shifts={weekday: shift.shift() for weekday, shift in body.shifts.items()},
        days_off=list(body.days_off),
        van=body.van,
        user_id=body.user_id,
        active=body.active,
    )
    async with request.app[DATABASE].transaction() as session:
        return await do_create_technician(session, fields)


@router.route(
    "PATCH",
    "/api/v1/technicians/{code}",
    summary="Change a technician (skills, home base, shifts, days off, van, user)",
    roles=ADMINS,
    body=TechnicianPatch,
    response=TechnicianOut,
)
async def patch_technician(request: web.Request, body: TechnicianPatch) -> TechnicianRecord:
    sent = body.model_fields_set
    changes = TechnicianChanges(
        name=body.name,
        home_lat=body.home_lat,
        home_lon=body.home_lon,
        skills=body.skills,
        shifts={weekday: shift.shift() for weekday, shift in body.shifts.items()} if body.shifts is not None else None,
        days_off=body.days_off,
        van=body.van,
        user_id=body.user_id,
        active=body.active,
        clear_van="van" in sent and body.van is None,
        clear_user="user_id" in sent and body.user_id is None,
    )
    async with request.app[DATABASE].transaction() as session:
        record = await get_technician(session, request.match_info["code"], for_update=True)
        return await do_update_technician(session, record, changes)


@router.route(
    "POST",
    "/api/v1/technicians/{code}/absences",
    summary="A technician calls in sick: the day off, and their visits of that day re-planned onto others",
    roles=SUPERVISORS,
    body=AbsenceIn,
)
async def add_absence(request: web.Request, body: AbsenceIn) -> dict[str, Any]:
    _, actor = await acting_user(request)
    return await field_planning.technician_sick(
        request.app[DATABASE].transaction,
        request.match_info["code"],
        body.date,
        field_tz(request),
        now(request),
        seconds=request.app[SETTINGS].field_replan_seconds,
        actor=actor.name or "",
    )


@router.route(
    "POST",
    "/api/v1/schedule/{date}/optimise",
    summary="Re-optimise a day (dispatched visits stay fixed; pins honoured) and save the plan",
    roles=SUPERVISORS,
    body=OptimiseIn,
)
async def optimise_day(request: web.Request, body: OptimiseIn) -> dict[str, Any]:
    _, actor = await acting_user(request)
    day, tz = schedule_day(request), field_tz(request)
    await field_planning.plan_day(
        request.app[DATABASE].transaction,
        day,
        tz,
        now(request),
        seconds=body.seconds,
        seed=body.seed,
        actor=actor.name or "",
    )
    async with request.app[DATABASE].transaction() as session:
        return await field_planning.day_schedule(session, day, tz)


@router.route("GET", "/api/v1/schedule/{date}", summary="Show a day's saved plan", roles=SUPERVISORS)
async def show_schedule(request: web.Request) -> dict[str, Any]:
    async with request.app[DATABASE].transaction() as session:
        return await field_planning.day_schedule(session, schedule_day(request), field_tz(request))


@router.route(
    "POST",
    "/api/v1/schedule/{date}/dispatch",
    summary="Dispatch a day: its scheduled visits become fixed",
    roles=SUPERVISORS,
)
async def dispatch_schedule(request: web.Request) -> dict[str, Any]:
    day = schedule_day(request)
    dispatched = await field_planning.dispatch_day(
        request.app[DATABASE].transaction, day, field_tz(request), now(request)
    )
    return {"date": day.isoformat(), "dispatched": dispatched}


def _both_or_neither(start: datetime | None, end: datetime | None) -> None:
    if (start is None) != (end is None):
        raise ValueError("give both ends of the appointment window, or neither")
    if start is not None and end is not None and end <= start:
        raise ValueError("the appointment window must end after it starts")


def _weekdays(shifts: dict[int, ShiftIn]) -> None:
    if any(not 0 <= weekday <= 6 for weekday in shifts):
        raise ValueError("shifts are keyed by weekday, 0 (Monday) to 6 (Sunday)")
