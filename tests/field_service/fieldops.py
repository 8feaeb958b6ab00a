"""A chargeable job for invoice tests: Ann's boiler, out of warranty, repaired with two valves on her case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.actors import SYSTEM
from contact_center.models import Channel, Customer, IdentityKind
from contact_center.services.cases import NewCase, do_create_case
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from field_service.ledger import StockLedger
from field_service.models import Asset, LocationKind, Part, StockLocation, WorkOrderRecord, WorkOrderStatus
from field_service.problem import JobType


@dataclass(frozen=True)
class Job:
    customer_id: int
    case_id: int
    case_number: str
    order: WorkOrderRecord


async def completed_repair(
    session: AsyncSession,
    now: datetime,
    *,
    warranty_end: date | None = date(2025, 12, 31),
    email: str | None = "",
    code: str = "W-BOILER",
    name: str = "Ann Boiler",
    customer_id: int | None = None,
) -> Job:
    """Return a completed 90-minute repair on an asset whose warranty ended, which consumed two VALVE (12.50 each)."""
    existing = await session.get(Customer, customer_id) if customer_id else None
    customer = existing or await do_create_customer(session, CustomerFields(name=name), now)
    # By default each job's customer gets an address of their own, from the work order's code.
    email = f"{code.lower()}@example.org" if email == "" else email
    if email and existing is None:
        await do_add_identity(session, customer, IdentityKind.EMAIL, email, now)
    case = await do_create_case(session, NewCase(customer.id or 0, "Boiler leaks", Channel.WEB), SYSTEM, now)
    asset = Asset(
        code=f"A-{code}",
        customer_id=customer.id,
        product="Boiler",
        address="1 Canal St",
        lat=52.0,
        lon=5.0,
        warranty_end=warranty_end,
        created_at=now,
    )
    session.add(asset)
    await session.flush()
    ledger = StockLedger(session, now, actor="tess")
    for sku, label, cents in (("VALVE", "Valve", 1250), ("FUSE", "Fuse", 199)):
        if not await _has_part(session, sku):
            await ledger.add_part(sku, label, unit_price_cents=cents)
    if not await _has_location(session, "WH"):
        await ledger.add_location("WH", "Warehouse", LocationKind.WAREHOUSE, lat=52.0, lon=5.0)
    await ledger.receive("WH", "VALVE", 5)
    order = WorkOrderRecord(
        code=code,
        case_id=case.id,
        job_type=JobType.REPAIR,
        status=WorkOrderStatus.COMPLETED,
        lat=52.0,
        lon=5.0,
        duration_minutes=90,
        asset_id=asset.id,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    await ledger.consume("WH", "VALVE", 1, code)
    await ledger.consume("WH", "VALVE", 1, code)
    return Job(customer.id or 0, case.id or 0, case.number, order)


async def _has_part(session: AsyncSession, sku: str) -> bool:
    return (await session.execute(select(Part).where(Part.sku == sku))).first() is not None


async def _has_location(session: AsyncSession, code: str) -> bool:
    return (await session.execute(select(StockLocation).where(StockLocation.code == code))).first() is not None
