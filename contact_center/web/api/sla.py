"""Business-hours calendars, SLA policies and the SLA report over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from contact_center.errors import Conflict, InvalidInput
from contact_center.models import CalendarRecord, CasePriority, CustomerTier, SlaPolicy
from contact_center.services.sla import do_create_policy, sla_report
from contact_center.web.api.params import Out, now
from contact_center.web.auth import ADMINS, SUPERVISORS
from contact_center.web.keys import DATABASE
from contact_center.web.router import ApiRouter
from routing.calendar import BusinessCalendar, CalendarError

__all__ = ["router"]

router = ApiRouter("sla")


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    time_zone: str = "UTC"
    hours: dict[str, list[str]] = Field(description='e.g. {"mon": ["09:00-12:00", "13:00-17:00"]}')
    holidays: list[str] = Field(default_factory=list, description="YYYY-MM-DD dates")


class CalendarOut(Out):
    id: int
    name: str
    time_zone: str
    hours: dict[str, Any]
    holidays: list[str]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    priority: CasePriority | None = None
    tier: CustomerTier | None = None
    first_response_minutes: int = Field(gt=0, le=525_600)
    resolution_minutes: int = Field(gt=0, le=5_256_000)
    calendar_id: int | None = None


class PolicyOut(Out):
    id: int
    name: str
    priority: CasePriority | None
    tier: CustomerTier | None
    first_response_minutes: int
    resolution_minutes: int
    calendar_id: int | None


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


@router.route(
    "GET", "/api/v1/calendars", summary="List business-hours calendars", roles=SUPERVISORS, response=list[CalendarOut]
)
async def list_calendars(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(CalendarRecord).order_by(col(CalendarRecord.name)))).all())


@router.route(
    "POST",
    "/api/v1/calendars",
    summary="Define a business-hours calendar",
    roles=ADMINS,
    body=CalendarIn,
    response=CalendarOut,
    status=201,
)
async def create_calendar(request: web.Request, body: CalendarIn) -> CalendarRecord:
    try:
        calendar = BusinessCalendar.from_mapping(body.model_dump())
    except CalendarError as exc:
        raise InvalidInput(str(exc), field="hours") from None
    record = CalendarRecord(name=body.name, **calendar.to_mapping())
    try:
        async with request.app[DATABASE].transaction() as session:
            session.add(record)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"calendar {body.name} exists already") from exc
    return record


@router.route("GET", "/api/v1/sla/policies", summary="List SLA policies", roles=SUPERVISORS, response=list[PolicyOut])
async def list_policies(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.scalars(select(SlaPolicy).order_by(col(SlaPolicy.id)))).all())


@router.route(
    "POST",
    "/api/v1/sla/policies",
    summary="Create an SLA policy",
    roles=ADMINS,
    body=PolicyIn,
    response=PolicyOut,
    status=201,
)
async def create_policy(request: web.Request, body: PolicyIn) -> SlaPolicy:
    async with request.app[DATABASE].transaction() as session:
        return await do_create_policy(session, SlaPolicy(**body.model_dump()))


@router.route(
    "GET",
    "/api/v1/reports/sla",
    summary="Share of SLA targets met (default: the last 30 days)",
    roles=SUPERVISORS,
    query=ReportQuery,
)
async def report(request: web.Request, query: ReportQuery) -> dict[str, object]:
    until = query.until or now(request)
    since = query.since or until - timedelta(days=30)
    async with request.app[DATABASE].transaction() as session:
        return await sla_report(session, since, until)
