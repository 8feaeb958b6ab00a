"""Purchase requests: stock to order for a location, raised by reorder alerts or by hand, approved, received.

The stock ledger raises a request itself whenever a movement leaves a level at or below its reorder point
(``StockLedger._alert_if_low``); a location and part have at most one open (or approved) request at a time,
which the database enforces through the request's unique ``open_key``. Receiving books the goods through
``StockLedger.receive`` in the same transaction, so the request and the stock never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.ledger import StockError, StockLedger
from field_service.models import Part, StockLocation
from field_service.operations import OPEN_PURCHASE_STATUSES, PurchaseRequest, PurchaseStatus

__all__ = [
    "Alert",
    "PurchaseView",
    "RequestConflict",
    "UnknownRequest",
    "approve_purchase",
    "cancel_purchase",
    "create_purchase",
    "find_location",
    "find_part",
    "purchase_requests",
    "receive_purchase",
    "stock_alerts",
]


class UnknownRequest(StockError):
    """No such purchase or transfer request."""


class RequestConflict(StockError):
    """The request is not in a state that allows this (receiving a cancelled one, a second open one)."""


@dataclass(frozen=True)
class PurchaseView:
    """A purchase request with its location code and SKU."""

    id: int
    location: str
    sku: str
    quantity: int
    status: PurchaseStatus
    reason: str
    actor: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Alert:
    """A level at or below its reorder point, and the open purchase request raised for it, if any."""

    location: str
    sku: str
    available: int
    reorder_point: int
    order_quantity: int
    purchase_request: int | None


async def stock_alerts(session: AsyncSession, now: datetime) -> list[Alert]:
    """Return every level at or below its reorder point, with its open purchase request."""
    lines = await StockLedger(session, now).reorder_report()
    open_by_pair = {(view.location, view.sku): view.id for view in await purchase_requests(session, open_only=True)}
    return [
        Alert(
            line.location,
            line.sku,
            line.available,
            line.reorder_point,
            line.order_quantity,
            open_by_pair.get((line.location, line.sku)),
        )
        for line in lines
    ]


async def purchase_requests(
    session: AsyncSession, *, status: PurchaseStatus | None = None, open_only: bool = False
) -> list[PurchaseView]:
    """Return purchase requests, newest first, optionally only those in one status or still open."""
    query = (
        select(PurchaseRequest, StockLocation.code, Part.sku)
        .join(StockLocation, col(StockLocation.id) == col(PurchaseRequest.location_id))
        .join(Part, col(Part.id) == col(PurchaseRequest.part_id))
        .order_by(col(PurchaseRequest.id).desc())
    )
    if status is not None:
        query = query.where(PurchaseRequest.status == status)
    if open_only:
        query = query.where(col(PurchaseRequest.status).in_(OPEN_PURCHASE_STATUSES))
    return [_view(request, code, sku) for request, code, sku in (await session.execute(query)).all()]


async def create_purchase(
    session: AsyncSession, location: str, sku: str, quantity: int, now: datetime, actor: str, reason: str = ""
) -> PurchaseView:
    """Raise a purchase request by hand; refused when the location and part already have an open one."""
    if quantity < 1:
        raise StockError("a quantity must be at least 1")
    where, part = await find_location(session, location), await find_part(session, sku)
    key = f"{where.id}:{part.id}"
    if (await session.execute(select(PurchaseRequest.id).where(PurchaseRequest.open_key == key))).first():
        raise RequestConflict(f"{location} already has an open purchase request for {sku}")
    request = PurchaseRequest(
        location_id=where.id or 0,
        part_id=part.id or 0,
        quantity=quantity,
        open_key=key,
        reason=reason or "by hand",
        actor=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    await session.flush()
    return _view(request, where.code, part.sku)


async def approve_purchase(session: AsyncSession, request_id: int, now: datetime, actor: str) -> PurchaseView:
    """Approve an open purchase request for ordering."""
    request = await _locked(session, request_id)
    if request.status is not PurchaseStatus.OPEN:
        raise RequestConflict(f"purchase request {request_id} is {request.status.value}, not open")
    request.status, request.actor, request.updated_at = PurchaseStatus.APPROVED, actor, now
    return await _reloaded(session, request)


async def receive_purchase(
    session: AsyncSession, request_id: int, now: datetime, actor: str, quantity: int | None = None
) -> PurchaseView:
    """Book the goods of an approved request as received at its location (all of them unless told otherwise)."""
    request = await _locked(session, request_id)
    if request.status is not PurchaseStatus.APPROVED:
        raise RequestConflict(f"purchase request {request_id} is {request.status.value}; approve it first")
    location = await session.get(StockLocation, request.location_id)
    part = await session.get(Part, request.part_id)
    assert location is not None
    assert part is not None
    # Closed before the receipt, so a later movement that leaves the level low again can raise a fresh request.
    request.status, request.open_key, request.actor, request.updated_at = PurchaseStatus.RECEIVED, None, actor, now
    await session.flush()
    await StockLedger(session, now, actor).receive(
        location.code, part.sku, quantity or request.quantity, note=f"purchase request {request_id}"
    )
    return _view(request, location.code, part.sku)


async def cancel_purchase(session: AsyncSession, request_id: int, now: datetime, actor: str) -> PurchaseView:
    """Cancel an open or approved purchase request."""
    request = await _locked(session, request_id)
    if request.status not in OPEN_PURCHASE_STATUSES:
        raise RequestConflict(f"purchase request {request_id} is {request.status.value} already")
    request.status, request.open_key, request.actor, request.updated_at = PurchaseStatus.CANCELLED, None, actor, now
    return await _reloaded(session, request)


async def _locked(session: AsyncSession, request_id: int) -> PurchaseRequest:
    request = (
        await session.execute(
            select(PurchaseRequest)
            .where(PurchaseRequest.id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if request is None:
        raise UnknownRequest(f"no purchase request {request_id}")
    return request


async def _reloaded(session: AsyncSession, request: PurchaseRequest) -> PurchaseView:
    await session.flush()
    location = await session.get(StockLocation, request.location_id)
    part = await session.get(Part, request.part_id)
    assert location is not None
    assert part is not None
    return _view(request, location.code, part.sku)


async def find_location(session: AsyncSession, code: str) -> StockLocation:
    """Return the stock location of a code."""
    found = (await session.execute(select(StockLocation).where(StockLocation.code == code))).scalar_one_or_none()
    if found is None:
        raise StockError(f"no stock location {code}")
    return found


async def find_part(session: AsyncSession, sku: str) -> Part:
    """Return the catalogue part of a SKU."""
    found = (await session.execute(select(Part).where(Part.sku == sku))).scalar_one_or_none()
    if found is None:
        raise StockError(f"no part {sku} in the catalogue")
    return found


def _view(request: PurchaseRequest, location: str, sku: str) -> PurchaseView:
    return PurchaseView(
        request.id or 0,
        location,
        sku,
        request.quantity,
        request.status,
        request.reason,
        request.actor,
        request.created_at,
        request.updated_at,
    )
