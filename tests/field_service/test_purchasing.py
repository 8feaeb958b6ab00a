"""Reorder alerts raise purchase requests; purchase and transfer requests move stock through the ledger.

The race tests run on PostgreSQL with truly parallel transactions: one open purchase request per location and
part however many movements hit the reorder point at once, and transfer requests never hold more than there is.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from contact_center.db import Database
from field_service.ledger import InsufficientStock, StockError, StockLedger
from field_service.models import StockLocation, TechnicianRecord, WorkOrderRecord
from field_service.operations import PurchaseRequest, PurchaseStatus, TransferStatus
from field_service.problem import JobType
from field_service.purchasing import (
    RequestConflict,
    UnknownRequest,
    approve_purchase,
    cancel_purchase,
    create_purchase,
    purchase_requests,
    receive_purchase,
    stock_alerts,
)
from field_service.transfers import cancel_transfer, request_transfer, ship_transfer, transfer_requests
from tests.field_service.test_ledger import assert_ledger_matches_levels, level, stock_up

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


async def with_reorder_point(database: Database, point: int = 5, quantity: int = 20) -> None:
    await stock_up(database)  # 8 fuses in WH-NORTH, 2 in VAN-ADA
    async with database.transaction() as session:
        await StockLedger(session, NOW).set_reorder_point("WH-NORTH", "FUSE-10A", point, quantity)


async def open_requests(database: Database) -> list[PurchaseRequest]:
    async with database.transaction() as session:
        return list((await session.execute(select(PurchaseRequest))).scalars())


async def test_a_movement_to_the_reorder_point_raises_one_purchase_request(database: Database) -> None:
    await with_reorder_point(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW, actor="tess")
        await ledger.consume("WH-NORTH", "FUSE-10A", 2, "W1")  # 6 left: above the point
        assert await stock_alerts(session, NOW) == []
        await ledger.reserve("WH-NORTH", "FUSE-10A", 1, "W2")  # 5 available: at the point
        await ledger.transfer("WH-NORTH", "VAN-ADA", "FUSE-10A", 1)  # 4: still one request
        [alert] = await stock_alerts(session, NOW)
    [request] = await open_requests(database)
    assert (request.quantity, request.status, request.reason, request.actor) == (
        20,
        PurchaseStatus.OPEN,
        "reorder alert",
        "tess",
    )
    assert (alert.location, alert.sku, alert.available, alert.purchase_request) == (
        "WH-NORTH",
        "FUSE-10A",
        4,
        request.id,
    )


async def test_a_purchase_request_is_approved_then_received_into_stock(database: Database) -> None:
    await with_reorder_point(database, point=8, quantity=0)
    [request] = await open_requests(database)
    assert request.quantity == 1  # no reorder quantity: just enough to rise above the point
    async with database.transaction() as session:
        with pytest.raises(RequestConflict, match="approve it first"):
            await receive_purchase(session, request.id or 0, NOW, "sam")
    async with database.transaction() as session:
        approved = await approve_purchase(session, request.id or 0, NOW, "sam")
        assert approved.status is PurchaseStatus.APPROVED
        received = await receive_purchase(session, request.id or 0, NOW, "sam", quantity=12)
    assert (received.status, received.location, received.sku) == (PurchaseStatus.RECEIVED, "WH-NORTH", "FUSE-10A")
    assert await level(database, "WH-NORTH") == (20, 0, 0)
    async with database.transaction() as session:
        assert await stock_alerts(session, NOW) == []
        assert await purchase_requests(session, open_only=True) == []
        with pytest.raises(RequestConflict):
            await cancel_purchase(session, request.id or 0, NOW, "sam")
    await assert_ledger_matches_levels(database)


async def test_purchase_requests_by_hand_one_open_per_location_and_part(database: Database) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        first = await create_purchase(session, "VAN-BEN", "VALVE", 3, NOW, "sam", "for next week")
        with pytest.raises(RequestConflict, match="already has an open purchase request"):
            await create_purchase(session, "VAN-BEN", "VALVE", 1, NOW, "sam")
        await cancel_purchase(session, first.id, NOW, "sam")
        second = await create_purchase(session, "VAN-BEN", "VALVE", 1, NOW, "sam")
        assert [v.id for v in await purchase_requests(session, status=PurchaseStatus.CANCELLED)] == [first.id]
        assert second.id != first.id
        with pytest.raises(StockError, match="no part"):
            await create_purchase(session, "VAN-BEN", "NOPE", 1, NOW, "sam")
        with pytest.raises(StockError, match="at least 1"):
            await create_purchase(session, "WH-NORTH", "VALVE", 0, NOW, "sam")
        with pytest.raises(UnknownRequest):
            await approve_purchase(session, 999, NOW, "sam")


async def test_parallel_movements_to_the_reorder_point_raise_one_request(database: Database) -> None:
    await with_reorder_point(database, point=7)

    async def take(n: int) -> None:
        async with database.transaction() as session:
            await StockLedger(session, NOW, actor=f"t{n}").reserve("WH-NORTH", "FUSE-10A", 1, f"W{n}")
            await asyncio.sleep(0.01)

    await asyncio.gather(*(take(n) for n in range(6)))
    assert len(await open_requests(database)) == 1


async def with_jobs(database: Database) -> None:
    """Ada and Ben with their vans; work orders W0..W19, all Ben's."""
    await stock_up(database)
    async with database.transaction() as session:
        for code, van in (("ada", "VAN-ADA"), ("ben", "VAN-BEN")):
            location = (await session.execute(select(StockLocation).where(StockLocation.code == van))).scalar_one()
            session.add(TechnicianRecord(code=code, name=code.title(), home_lat=52.0, home_lon=4.9, van_id=location.id))
        for n in range(20):
            session.add(
                WorkOrderRecord(
                    code=f"W{n}",
                    job_type=JobType.REPAIR,
                    lat=52.1,
                    lon=4.9,
                    duration_minutes=30,
                    technician="ben",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


async def test_a_transfer_request_holds_the_part_then_ships_it(database: Database) -> None:
    await with_jobs(database)
    async with database.transaction() as session:
        asked = await request_transfer(session, "W1", "FUSE-10A", 2, "VAN-ADA", NOW, "ben")
    assert (asked.destination, asked.status) == ("VAN-BEN", TransferStatus.REQUESTED)
    assert await level(database, "VAN-ADA") == (2, 2, 0)
    async with database.transaction() as session:
        with pytest.raises(InsufficientStock):
            await request_transfer(session, "W2", "FUSE-10A", 1, "VAN-ADA", NOW, "ben")
    async with database.transaction() as session:
        shipped = await ship_transfer(session, asked.id, NOW, "ada")
        assert (shipped.status, shipped.shipped_by) == (TransferStatus.SHIPPED, "ada")
        with pytest.raises(RequestConflict):
            await ship_transfer(session, asked.id, NOW, "ada")
    assert await level(database, "VAN-ADA") == (0, 0, 0)
    assert await level(database, "VAN-BEN") == (2, 0, 0)
    async with database.transaction() as session:
        other = await request_transfer(session, "W3", "FUSE-10A", 3, "WH-NORTH", NOW, "ben")
        await cancel_transfer(session, other.id, NOW, "ben")
        assert [t.status for t in await transfer_requests(session)] == [
            TransferStatus.CANCELLED,
            TransferStatus.SHIPPED,
        ]
        with pytest.raises(StockError, match="two different"):
            await request_transfer(session, "W3", "FUSE-10A", 1, "VAN-BEN", NOW, "ben")
        with pytest.raises(UnknownRequest):
            await request_transfer(session, "W-NONE", "FUSE-10A", 1, "WH-NORTH", NOW, "ben")
    assert await level(database, "WH-NORTH") == (8, 0, 0)
    await assert_ledger_matches_levels(database)


async def test_parallel_transfer_requests_never_hold_more_than_there_is(database: Database) -> None:
    await with_jobs(database)  # 8 fuses in the warehouse
    outcomes: list[str] = []

    async def ask(n: int) -> None:
        try:
            async with database.transaction() as session:
                await request_transfer(session, f"W{n}", "FUSE-10A", 1, "WH-NORTH", NOW, "ben")
                await asyncio.sleep(0.01)
            outcomes.append("ok")
        except InsufficientStock:
            outcomes.append("short")

    await asyncio.gather(*(ask(n) for n in range(12)))
    assert outcomes.count("ok") == 8
    assert await level(database, "WH-NORTH") == (8, 8, 0)
    async with database.transaction() as session:
        requested = await transfer_requests(session, status=TransferStatus.REQUESTED)

    async def ship(request_id: int) -> None:
        async with database.transaction() as session:
            await ship_transfer(session, request_id, NOW, "sam")

    await asyncio.gather(*(ship(r.id) for r in requested))
    assert await level(database, "WH-NORTH") == (0, 0, 0)
    assert await level(database, "VAN-BEN") == (8, 0, 0)
    await assert_ledger_matches_levels(database)
