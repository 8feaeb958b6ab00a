"""Transfer requests: a technician or dispatcher asks for a part for a work order from another location.

Asking holds the units at the source (a stock reservation under the request's own key, ``TR-<id>``), so two
people asking for the last unit at once cannot both get it: the ledger locks the level and the second is refused.
Shipping gives the hold back and moves the units with ``StockLedger.transfer`` in one transaction; cancelling
just gives the hold back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from field_service.ledger import StockError, StockLedger
from field_service.models import Part, StockLocation, TechnicianRecord, WorkOrderRecord
from field_service.operations import TransferRequest, TransferStatus
from field_service.purchasing import RequestConflict, UnknownRequest, find_location, find_part

__all__ = [
    "TransferView",
    "cancel_transfer",
    "get_transfer",
    "request_transfer",
    "ship_transfer",
    "transfer_requests",
    "van_of",
]


@dataclass(frozen=True)
class TransferView:
    """A transfer request with codes instead of ids."""

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


def hold_key(request_id: int) -> str:
    """Return the key the request's held units are reserved under."""
    return f"TR-{request_id}"


async def van_of(session: AsyncSession, technician: str | None) -> StockLocation | None:
    """Return a technician's van, if they have one."""
    if not technician:
        return None
    record = (
        await session.execute(select(TechnicianRecord).where(TechnicianRecord.code == technician))
    ).scalar_one_or_none()
    return await session.get(StockLocation, record.van_id) if record and record.van_id else None


async def request_transfer(
    session: AsyncSession,
    work_order: str,
    sku: str,
    quantity: int,
    source: str,
    now: datetime,
    actor: str,
    destination: str | None = None,
) -> TransferView:
    """Ask for units of a part from ``source`` for a work order, to its technician's van unless told otherwise."""
    if quantity < 1:
        raise StockError("a quantity must be at least 1")
    order = (
        await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == work_order))
    ).scalar_one_or_none()
    if order is None:
        raise UnknownRequest(f"no work order {work_order}")
    if destination is None:
        van = await van_of(session, order.technician)
        if van is None:
            raise StockError(f"work order {work_order} has no technician with a van; say where the part goes")
        destination = van.code
    origin, target = await find_location(session, source), await find_location(session, destination)
    part = await find_part(session, sku)
    if origin.id == target.id:
        raise StockError("a transfer needs two different locations")
    request = TransferRequest(
        work_order_id=order.id or 0,
        part_id=part.id or 0,
        quantity=quantity,
        from_location_id=origin.id or 0,
        to_location_id=target.id or 0,
        requested_by=actor,
        created_at=now,
        updated_at=now,
    )
    # One savepoint for the request and its hold: a request whose units are not there is not left behind.
    async with session.begin_nested():
        session.add(request)
        await session.flush()
        await StockLedger(session, now, actor).reserve(origin.code, part.sku, quantity, hold_key(request.id or 0))
    return _view(request, order.code, part.sku, origin.code, target.code)


async def ship_transfer(session: AsyncSession, request_id: int, now: datetime, actor: str) -> TransferView:
    """Send the requested units: give back the hold at the source, then move them to the destination."""
    request, order, part, origin, target = await _locked(session, request_id)
    if request.status is not TransferStatus.REQUESTED:
        raise RequestConflict(f"transfer request {request_id} is {request.status.value} already")
    ledger = StockLedger(session, now, actor)
    await ledger.release(origin.code, part.sku, request.quantity, hold_key(request_id))
    await ledger.transfer(
        origin.code, target.code, part.sku, request.quantity, note=f"transfer request {request_id} for {order.code}"
    )
    request.status, request.shipped_by, request.updated_at = TransferStatus.SHIPPED, actor, now
    await session.flush()
    return _view(request, order.code, part.sku, origin.code, target.code)


async def cancel_transfer(session: AsyncSession, request_id: int, now: datetime, actor: str) -> TransferView:
    """Withdraw a transfer request that has not shipped, giving its held units back."""
    request, order, part, origin, target = await _locked(session, request_id)
    if request.status is not TransferStatus.REQUESTED:
        raise RequestConflict(f"transfer request {request_id} is {request.status.value} already")
    await StockLedger(session, now, actor).release(origin.code, part.sku, request.quantity, hold_key(request_id))
    request.status, request.updated_at = TransferStatus.CANCELLED, now
    await session.flush()
    return _view(request, order.code, part.sku, origin.code, target.code)


async def transfer_requests(
    session: AsyncSession, *, status: TransferStatus | None = None, work_order: str | None = None
) -> list[TransferView]:
    """Return transfer requests (of one work order, when given), newest first."""
    query = select(TransferRequest).order_by(col(TransferRequest.id).desc())
    if status is not None:
        query = query.where(TransferRequest.status == status)
    if work_order is not None:
        order_id = select(WorkOrderRecord.id).where(WorkOrderRecord.code == work_order).scalar_subquery()
        query = query.where(TransferRequest.work_order_id == order_id)
    requests = (await session.execute(query)).scalars().all()
    locations = {loc.id: loc.code for loc in (await session.execute(select(StockLocation))).scalars()}
    parts = {part.id: part.sku for part in (await session.execute(select(Part))).scalars()}
    orders: dict[int, str] = dict(
        (
            await session.execute(
                select(WorkOrderRecord.id, WorkOrderRecord.code).where(
                    col(WorkOrderRecord.id).in_({r.work_order_id for r in requests})
                )
            )
        ).all()
    )
    return [
        _view(r, orders[r.work_order_id], parts[r.part_id], locations[r.from_location_id], locations[r.to_location_id])
        for r in requests
    ]


async def get_transfer(session: AsyncSession, request_id: int) -> TransferView:
    """Return one transfer request."""
    request = await session.get(TransferRequest, request_id)
    if request is None:
        raise UnknownRequest(f"no transfer request {request_id}")
    order = await session.get(WorkOrderRecord, request.work_order_id)
    part = await session.get(Part, request.part_id)
    origin = await session.get(StockLocation, request.from_location_id)
    target = await session.get(StockLocation, request.to_location_id)
    assert order is not None
    assert part is not None
    assert origin is not None
    assert target is not None
    return _view(request, order.code, part.sku, origin.code, target.code)


async def _locked(
    session: AsyncSession, request_id: int
) -> tuple[TransferRequest, WorkOrderRecord, Part, StockLocation, StockLocation]:
    request = (
        await session.execute(
            select(TransferRequest)
            .where(TransferRequest.id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if request is None:
        raise UnknownRequest(f"no transfer request {request_id}")
    order = await session.get(WorkOrderRecord, request.work_order_id)
    part = await session.get(Part, request.part_id)
    origin = await session.get(StockLocation, request.from_location_id)
    target = await session.get(StockLocation, request.to_location_id)
    assert order is not None
    assert part is not None
    assert origin is not None
    assert target is not None
    return request, order, part, origin, target


def _view(request: TransferRequest, order: str, sku: str, source: str, destination: str) -> TransferView:
    return TransferView(
        request.id or 0,
        order,
        sku,
        request.quantity,
        source,
        destination,
        request.status,
        request.requested_by,
        request.shipped_by,
        request.created_at,
        request.updated_at,
    )
