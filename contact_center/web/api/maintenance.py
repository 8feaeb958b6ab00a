"""Preventive maintenance plans over HTTP, for dispatchers: list them and add one for an installed asset."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from contact_center.errors import InvalidInput
from contact_center.web.api.params import Out, now
from contact_center.web.auth import SUPERVISORS
from contact_center.web.keys import DATABASE
from contact_center.web.router import ApiRouter
from field_service.maintenance_store import add_plan
from field_service.operations import MaintenancePlan
from field_service.problem import ProblemError

__all__ = ["router"]

router = ApiRouter("maintenance")


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: str = Field(min_length=1, max_length=64, description="asset code")
    name: str = Field(min_length=1, max_length=200)
    starts_on: date = Field(description="the first cycle counts from this day (the last service)")
    interval_days: int | None = Field(default=None, ge=1, le=3650)
    meter_interval: float | None = Field(default=None, gt=0)
    lead_days: int = Field(default=14, ge=0, le=365)
    window_days: int = Field(default=3, ge=0, le=60)
    duration_minutes: int = Field(default=60, ge=1, le=24 * 60)
    required_skills: dict[str, int] = Field(default_factory=dict)
    parts: dict[str, int] = Field(default_factory=dict)
    priority: int = Field(default=3, ge=1, le=5)


class PlanOut(Out):
    id: int
    asset_id: int
    name: str
    interval_days: int | None
    meter_interval: float | None
    lead_days: int
    window_days: int
    duration_minutes: int
    required_skills: dict[str, int]
    parts: dict[str, int]
    priority: int
    active: bool
    last_service_on: date
    last_service_meter: float | None
    open_work_order_id: int | None
    open_due_on: date | None
    created_at: datetime


@router.route(
    "GET", "/api/v1/maintenance-plans", summary="List maintenance plans", roles=SUPERVISORS, response=list[PlanOut]
)
async def list_plans(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return list((await session.execute(select(MaintenancePlan).order_by(col(MaintenancePlan.id)))).scalars())


@router.route(
    "POST",
    "/api/v1/maintenance-plans",
    summary="Add a preventive maintenance plan to an asset",
    roles=SUPERVISORS,
    body=PlanIn,
    response=PlanOut,
    status=201,
)
async def create_plan(request: web.Request, body: PlanIn) -> Any:
    fields = body.model_dump(exclude={"asset", "name", "starts_on"})
    try:
        async with request.app[DATABASE].transaction() as session:
            return await add_plan(session, body.asset, body.name, starts_on=body.starts_on, now=now(request), **fields)
    except ProblemError as exc:
        raise InvalidInput(str(exc)) from None
