"""Spare-parts stock over HTTP: reorder alerts, purchase requests, where a part is, and transfer requests.

Dispatchers (supervisors) see alerts and handle purchase requests. Technicians and dispatchers look up where a
part is for a work order and ask for a transfer; a technician only for their own work orders, and only ships
from their own van.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.errors import Conflict, Forbidden, InvalidInput, NotFound
from contact_center.models import Role
from contact_center.services.field_visits import worker_for
from contact_center.services.users import SignedIn
from contact_center.web.api.params import Out, acting_user, now, path_id
from contact_center.web.auth import SUPERVISORS, TECHNICIANS
from contact_center.web.keys import DATABASE
from contact_center.web.router import ApiRouter
from field_service.ledger import InsufficientStock, StockError, StockLedger
from field_service.models import LocationKind, WorkOrderRecord
from field_service.operations import PurchaseStatus, TransferStatus
from field_service.purchasing import (
    RequestConflict,
    UnknownRequest,
    approve_purchase,
    cancel_purchase,
    create_purchase,
    find_location,
    purchase_requests,
    receive_purchase,
    stock_alerts,
)
from field_service.transfers import cancel_transfer, get_transfer, request_transfer, ship_transfer, transfer_requests

__all__ = ["router", "stock_errors", "technician_code"]

router = ApiRouter("stock")


class AlertOut(Out):
    location: str
    sku: str
    available: int
    reorder_point: int
    order_quantity: int
    purchase_request: int | None


class PurchaseOut(Out):
    id: int
    location: str
    sku: str
    quantity: int
    status: PurchaseStatus
    reason: str
    actor: str
    created_at: datetime
    updated_at: datetime


class PurchaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PurchaseStatus | None = None


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100_000)
    reason: str = Field(default="", max_length=200)


class ReceiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int | None = Field(default=None, ge=1, le=100_000, description="units received; default all")


class WhereQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    near: str = Field(min_length=1, max_length=64, description="work order code")


class PlaceOut(Out):
    location: str
    kind: LocationKind
    group: str = Field(description="own_van, van or warehouse")
    technician: str | None
    available: int
    km: float | None


class WhereOut(Out):
    sku: str
    work_order: str
    technician: str | None
    places: list[PlaceOut]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    work_order: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000)
    source: str = Field(min_length=1, max_length=64, description="stock location to take the part from")
    destination: str | None = Field(
        default=None, max_length=64, description="default: the work order's technician's van"
    )


class TransferOut(Out):
    id: int
    work_order: str
    sku: str
    quantity: int
    source: str
    destination: str
    status: TransferStatus
    requested_by: str
    shipped_by: str
    created_at: datetime
    updated_at: datetime


class TransferQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TransferStatus | None = None


@asynccontextmanager
async def stock_errors() -> AsyncIterator[None]:
    """Turn the stock services' errors into API errors: unknown ids 404, conflicts and shortages 409, else 400."""
    try:
        yield
    except UnknownRequest as exc:
        raise NotFound(str(exc)) from None
    except (RequestConflict, InsufficientStock) as exc:
        raise Conflict(str(exc)) from None
    except StockError as exc:
        raise InvalidInput(str(exc)) from None


async def technician_code(session: AsyncSession, signed_in: SignedIn) -> str | None:
    """Return the technician code of a signed-in technician (None for dispatchers and admins)."""
    if signed_in.user.role is not Role.TECHNICIAN:
        return None
    code = (await worker_for(session, signed_in.user)).technician
    if code is None:
        raise Forbidden("this user is not linked to a technician")
    return code


@router.route("GET", "/api/v1/stock/alerts", summary="List reorder alerts", roles=SUPERVISORS, response=list[AlertOut])
async def list_alerts(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return await stock_alerts(session, now(request))


@router.route(
    "GET",
    "/api/v1/purchase-requests",
    summary="List purchase requests",
    roles=SUPERVISORS,
    query=PurchaseQuery,
    response=list[PurchaseOut],
)
async def list_purchases(request: web.Request, query: PurchaseQuery) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return await purchase_requests(session, status=query.status)


@router.route(
    "POST",
    "/api/v1/purchase-requests",
    summary="Raise a purchase request by hand",
    roles=SUPERVISORS,
    body=PurchaseIn,
    response=PurchaseOut,
    status=201,
)
async def create_purchase_request(request: web.Request, body: PurchaseIn) -> Any:
    _, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        return await create_purchase(
            session, body.location, body.sku, body.quantity, now(request), actor.name or "", body.reason
        )


@router.route(
    "POST",
    "/api/v1/purchase-requests/{request_id}/approve",
    summary="Approve a purchase request",
    roles=SUPERVISORS,
    response=PurchaseOut,
)
async def approve_purchase_request(request: web.Request) -> Any:
    request_id = path_id(request, "request_id", "purchase request")
    _, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        return await approve_purchase(session, request_id, now(request), actor.name or "")


@router.route(
    "POST",
    "/api/v1/purchase-requests/{request_id}/receive",
    summary="Book an approved purchase request's goods as received",
    roles=SUPERVISORS,
    body=ReceiveIn,
    response=PurchaseOut,
)
async def receive_purchase_request(request: web.Request, body: ReceiveIn) -> Any:
    request_id = path_id(request, "request_id", "purchase request")
    _, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        return await receive_purchase(session, request_id, now(request), actor.name or "", body.quantity)


@router.route(
    "POST",
    "/api/v1/purchase-requests/{request_id}/cancel",
    summary="Cancel a purchase request",
    roles=SUPERVISORS,
    response=PurchaseOut,
)
async def cancel_purchase_request(request: web.Request) -> Any:
    request_id = path_id(request, "request_id", "purchase request")
    _, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        return await cancel_purchase(session, request_id, now(request), actor.name or "")


@router.route(
    "GET",
    "/api/v1/parts/{sku}/where",
    summary="Where a part is available, nearest first, for a work order",
    roles=TECHNICIANS,
    query=WhereQuery,
    response=WhereOut,
)
async def where_is(request: web.Request, query: WhereQuery) -> Any:
    sku = request.match_info["sku"]
    signed_in, _ = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        order = await _work_order(session, query.near, signed_in)
        places = await StockLedger(session, now(request)).where_is(
            sku, technician=order.technician, lat=order.lat, lon=order.lon
        )
    return {
        "sku": sku,
        "work_order": order.code,
        "technician": order.technician,
        "places": [
            {
                "location": p.location,
                "kind": p.kind,
                "group": "own_van"
                if order.technician and p.technician == order.technician
                else ("van" if p.kind is LocationKind.VAN else "warehouse"),
                "technician": p.technician,
                "available": p.available,
                "km": p.km,
            }
            for p in places
        ],
    }


@router.route(
    "GET",
    "/api/v1/transfer-requests",
    summary="List transfer requests",
    roles=TECHNICIANS,
    query=TransferQuery,
    response=list[TransferOut],
)
async def list_transfers(request: web.Request, query: TransferQuery) -> Any:
    async with request.app[DATABASE].transaction() as session:
        return await transfer_requests(session, status=query.status)


@router.route(
    "POST",
    "/api/v1/transfer-requests",
    summary="Ask for a part for a work order from another location (held there until shipped)",
    roles=TECHNICIANS,
    body=TransferIn,
    response=TransferOut,
    status=201,
)
async def create_transfer(request: web.Request, body: TransferIn) -> Any:
    signed_in, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        await _work_order(session, body.work_order, signed_in)
        return await request_transfer(
            session,
            body.work_order,
            body.sku,
            body.quantity,
            body.source,
            now(request),
            actor.name or "",
            destination=body.destination,
        )


@router.route(
    "POST",
    "/api/v1/transfer-requests/{request_id}/ship",
    summary="Ship a requested transfer (moves the stock)",
    roles=TECHNICIANS,
    response=TransferOut,
)
async def ship(request: web.Request) -> Any:
    request_id = path_id(request, "request_id", "transfer request")
    signed_in, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        found = await get_transfer(session, request_id)
        mine = await technician_code(session, signed_in)
        if mine is not None and (await find_location(session, found.source)).technician != mine:
            raise Forbidden("a technician ships only from their own van")
        return await ship_transfer(session, request_id, now(request), actor.name or "")


@router.route(
    "POST",
    "/api/v1/transfer-requests/{request_id}/cancel",
    summary="Withdraw a transfer request that has not shipped",
    roles=TECHNICIANS,
    response=TransferOut,
)
async def cancel(request: web.Request) -> Any:
    request_id = path_id(request, "request_id", "transfer request")
    signed_in, actor = await acting_user(request)
    async with stock_errors(), request.app[DATABASE].transaction() as session:
        found = await get_transfer(session, request_id)
        # A technician withdraws what was asked for their own jobs (by whom: them or the dispatcher).
        await _work_order(session, found.work_order, signed_in)
        return await cancel_transfer(session, request_id, now(request), actor.name or "")


async def _work_order(session: AsyncSession, code: str, signed_in: SignedIn) -> WorkOrderRecord:
    order = (await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == code))).scalar_one_or_none()
    if order is None:
        raise NotFound(f"work order {code} does not exist", resource="work order")
    mine = await technician_code(session, signed_in)
    if mine is not None and order.technician != mine:
        raise Forbidden(f"work order {code} is not assigned to you")
    return order
