"""The technician's API: their day in route order, each step of a visit, photos, and an asset's service history."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from contact_center.services.field_visits import (
    StatusChange,
    Worker,
    assigned_job,
    do_add_note,
    do_attach_photo,
    do_change_status,
    do_record_parts,
    do_record_reading,
    load_photo,
    technician_day,
    worker_for,
)
from contact_center.web.api.invoices import PRICES
from contact_center.web.api.params import Out, now
from contact_center.web.auth import STAFF, TECHNICIANS, current_user
from contact_center.web.keys import DATABASE, HUB, SETTINGS
from contact_center.web.photo_upload import read_photo_upload
from contact_center.web.router import ApiRouter
from field_service.history import asset_history
from field_service.models import Asset, WorkOrderStatus
from field_service.problem import JobType

__all__ = ["announce_visit", "day_for", "photo_url", "router", "signed_in_worker"]

router = ApiRouter("technician")


class DayQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date | None = Field(default=None, alias="date", description="YYYY-MM-DD; today when left out")
    technician: str | None = Field(default=None, max_length=64, description="a technician's code (supervisors)")
    tz: str | None = Field(default=None, max_length=64, description="the time zone the day is in (FIELD_TIME_ZONE)")

    @field_validator("tz")
    @classmethod
    def known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value


class JobOut(Out):
    code: str
    job_type: JobType
    status: WorkOrderStatus
    address: str
    lat: float
    lon: float
    duration_minutes: int
    window_start: datetime | None
    window_end: datetime | None
    planned_start: datetime | None
    planned_end: datetime | None
    parts: dict[str, int]
    notes: str
    case_id: int | None
    asset_id: int | None
    technician: str | None


class DayOut(BaseModel):
    technician: str
    day: date
    jobs: list[JobOut]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: WorkOrderStatus
    reason: str = Field(default="", max_length=2000, description="required for cannot_complete")


class StatusOut(BaseModel):
    work_order: JobOut
    eta: AwareDatetime | None


class PartsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    used: dict[str, int] = Field(default_factory=dict, description="{SKU: units used}")
    defective: dict[str, int] = Field(default_factory=dict, description="{SKU: defective units taken out}")
    replace: bool = Field(default=False, description="set these SKUs' totals instead of adding (0 removes)")

    @field_validator("used", "defective")
    @classmethod
    def bounded(cls, value: dict[str, int]) -> dict[str, int]:
        if any(n < 0 or n > 10_000 for n in value.values()):
            raise ValueError("quantities are whole units up to 10000")
        if any(not sku.strip() or len(sku) > 64 for sku in value):
            raise ValueError("name each part by its SKU")
        return value


class EventOut(Out):
    id: int
    kind: str
    body: str
    data: dict[str, Any]
    actor: str
    created_at: datetime


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=0, le=1e12)

    @field_validator("value")
    @classmethod
    def finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("the reading must be a number")
        return value


class ReadingOut(Out):
    id: int
    asset_id: int
    work_order_id: int | None
    value: float
    read_at: datetime
    actor: str


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


class PhotoOut(BaseModel):
    id: int
    media_type: str
    size: int
    url: str


class PastVisitOut(Out):
    work_order: str
    job_type: JobType
    status: WorkOrderStatus
    technician: str | None
    planned_start: datetime | None
    closed_at: datetime | None
    reason: str
    parts_used: dict[str, int]


class ReadingHistoryOut(Out):
    value: float
    read_at: datetime
    work_order: str | None
    actor: str


class AssetOut(Out):
    code: str
    product: str
    serial: str
    address: str
    warranty_end: date | None
    meter_unit: str


class AssetHistoryOut(Out):
    asset: AssetOut
    visits: list[PastVisitOut]
    readings: list[ReadingHistoryOut]


async def signed_in_worker(request: web.Request, session: AsyncSession) -> Worker:
    """Return the signed-in user as a worker of jobs."""
    signed_in = await current_user(request)
    if signed_in is None:
        raise Unauthenticated("sign in first")
    return await worker_for(session, signed_in.user)


def day_for(worker: Worker, asked: str | None) -> str:
    """Return whose day to show: a technician sees their own, a supervisor the one they name."""
    if asked and asked != worker.technician and not worker.supervisor:
        raise Forbidden("a technician sees their own day only")
    chosen = asked or worker.technician
    if chosen is None:
        if worker.supervisor:
            raise InvalidInput("name the technician whose day to show", field="technician")
        raise NotFound("no technician is linked to your user", resource="technician")
    return chosen


@router.route(
    "GET",
    "/api/v1/technician/jobs",
    summary="List a technician's jobs of a day in route order (your own, or a named one for supervisors)",
    roles=TECHNICIANS,
    query=DayQuery,
    response=DayOut,
)
async def list_jobs(request: web.Request, query: DayQuery) -> dict[str, Any]:
    tz = ZoneInfo(query.tz or request.app[SETTINGS].field_time_zone)
    day = query.day or now(request).astimezone(tz).date()
    async with request.app[DATABASE].transaction() as session:
        technician = day_for(await signed_in_worker(request, session), query.technician)
        jobs = await technician_day(session, technician, day, tz)
    return {"technician": technician, "day": day, "jobs": jobs}


@router.route(
    "POST",
    "/api/v1/work-orders/{code}/status",
    summary="Move a job to its next status: en_route (returns the ETA), on_site, completed or cannot_complete",
    roles=TECHNICIANS,
    body=StatusIn,
    response=StatusOut,
)
async def change_status(request: web.Request, body: StatusIn) -> dict[str, Any]:
    async with request.app[DATABASE].transaction() as session:
        worker = await signed_in_worker(request, session)
        change = await do_change_status(
            session,
            request.match_info["code"],
            body.status,
            worker,
            now(request),
            reason=body.reason,
            tz=request.app[SETTINGS].field_zone,
            prices=request.app[PRICES],
        )
    announce_visit(request, change)
    return {"work_order": change.order, "eta": change.eta}


@router.route(
    "POST",
    "/api/v1/work-orders/{code}/parts",
    summary="Record parts used and defective parts taken out; completion books them",
    roles=TECHNICIANS,
    body=PartsIn,
    response=EventOut,
    status=201,
)
async def record_parts(request: web.Request, body: PartsIn) -> Any:
    async with request.app[DATABASE].transaction() as session:
        worker = await signed_in_worker(request, session)
        return await do_record_parts(
            session,
            request.match_info["code"],
            worker,
            now(request),
            used=body.used,
            defective=body.defective,
            replace=body.replace,
        )


@router.route(
    "POST",
    "/api/v1/work-orders/{code}/readings",
    summary="Record a meter reading of the job's asset",
    roles=TECHNICIANS,
    body=ReadingIn,
    response=ReadingOut,
    status=201,
)
async def record_reading(request: web.Request, body: ReadingIn) -> Any:
    async with request.app[DATABASE].transaction() as session:
        worker = await signed_in_worker(request, session)
        return await do_record_reading(session, request.match_info["code"], worker, now(request), body.value)


@router.route(
    "POST",
    "/api/v1/work-orders/{code}/notes",
    summary="Add a note to the job",
    roles=TECHNICIANS,
    body=NoteIn,
    response=EventOut,
    status=201,
)
async def add_note(request: web.Request, body: NoteIn) -> Any:
    async with request.app[DATABASE].transaction() as session:
        worker = await signed_in_worker(request, session)
        return await do_add_note(session, request.match_info["code"], worker, now(request), body.text)


@router.route(
    "POST",
    "/api/v1/work-orders/{code}/photos",
    summary="Attach a photo (multipart field 'photo'; JPEG, PNG, WebP or HEIC, at most 10 MB)",
    roles=TECHNICIANS,
    response=PhotoOut,
    status=201,
)
async def attach_photo(request: web.Request) -> dict[str, Any]:
    code = request.match_info["code"]
    async with request.app[DATABASE].transaction() as session:
        worker = await signed_in_worker(request, session)
        await assigned_job(session, code, worker)
    upload = await read_photo_upload(request)
    async with request.app[DATABASE].transaction() as session:
        photo = await do_attach_photo(session, code, worker, now(request), upload.content, upload.type.media_type)
    return {"id": photo.id, "media_type": photo.media_type, "size": photo.size, "url": photo_url(code, photo.id or 0)}


@router.route(
    "GET",
    "/api/v1/work-orders/{code}/photos/{photo_id}",
    summary="Download a job's photo (staff, and the job's own technician)",
    roles=STAFF,
)
async def download_photo(request: web.Request) -> web.Response:
    code, raw = request.match_info["code"], request.match_info["photo_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"work order {code} has no photo {raw}", resource="photo")
    async with request.app[DATABASE].transaction() as session:
        worker = await signed_in_worker(request, session)
        photo = await load_photo(session, code, int(raw), worker)
    extension = photo.media_type.rsplit("/", 1)[1]
    return web.Response(
        body=photo.content,
        content_type=photo.media_type,
        headers={
            "Content-Disposition": f'inline; filename="{_safe_name(code)}-photo-{photo.id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


@router.route(
    "GET",
    "/api/v1/assets/{code}/history",
    summary="An asset's past work orders with outcomes and parts used, and its meter readings",
    roles=STAFF,
    response=AssetHistoryOut,
)
async def history(request: web.Request) -> Any:
    code = request.match_info["code"]
    async with request.app[DATABASE].transaction() as session:
        asset = (await session.execute(select(Asset).where(Asset.code == code))).scalar_one_or_none()
        if asset is None:
            raise NotFound(f"asset {code} does not exist", resource="asset")
        return await asset_history(session, asset)


def announce_visit(request: web.Request, change: StatusChange) -> None:
    """Tell open agent desktops (in every server process) that a case's visit moved, once the change is committed."""
    order = change.order
    if order.case_id is None:
        return
    request.app[HUB].publish(
        {
            "topic": "field",
            "kind": "visit_changed",
            "case_id": order.case_id,
            "work_order": order.code,
            "status": order.status.value,
            "eta": change.eta.isoformat() if change.eta else None,
        }
    )


def photo_url(code: str, photo_id: int) -> str:
    """Return where a job's photo is served."""
    return f"/api/v1/work-orders/{code}/photos/{photo_id}"


def _safe_name(code: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in code)
