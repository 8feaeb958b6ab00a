"""The stock ledger on both databases: movements, balances that match them, where a part is, reorder points.

The race test runs on PostgreSQL with truly parallel transactions on separate connections; on SQLite writers are
serialised by BEGIN IMMEDIATE, and the same test checks the same outcome.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from contact_center.db import Database
from field_service.ledger import InsufficientStock, StockError, StockLedger
from field_service.models import LocationKind, StockLevel

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


async def stock_up(database: Database) -> None:
    """A warehouse with 10 fuses, ada's van with 2, ben's van with none, 25 km apart."""
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW, actor="dispatcher")
        await ledger.add_part("FUSE-10A", "Fuse 10 A", unit_price_cents=250)
        await ledger.add_part("VALVE", "Valve")
        await ledger.add_location("WH-NORTH", "North warehouse", LocationKind.WAREHOUSE, lat=52.3, lon=4.9)
        await ledger.add_location(
            "VAN-ADA", "Ada's van", LocationKind.VAN, technician="ada", warehouse="WH-NORTH", lat=52.35, lon=4.9
        )
        await ledger.add_location(
            "VAN-BEN", "Ben's van", LocationKind.VAN, technician="ben", warehouse="WH-NORTH", lat=52.1, lon=4.9
        )
        await ledger.receive("WH-NORTH", "FUSE-10A", 10, note="PO 4711")
        await ledger.transfer("WH-NORTH", "VAN-ADA", "FUSE-10A", 2)


async def level(database: Database, location: str, sku: str = "FUSE-10A") -> tuple[int, int, int]:
    async with database.transaction() as session:
        found = await StockLedger(session, NOW).level(location, sku)
        return found.on_hand, found.reserved, found.defective


async def assert_ledger_matches_levels(database: Database) -> None:
    async with database.transaction() as session:
        replayed = await StockLedger(session, NOW).replay()
        levels = (await session.execute(select(StockLevel))).scalars().all()
        stored = {(lv.location_id, lv.part_id): (lv.on_hand, lv.reserved, lv.defective) for lv in levels}
    assert {k: v for k, v in stored.items() if v != (0, 0, 0)} == {k: v for k, v in replayed.items() if v != (0, 0, 0)}
    assert all(on_hand >= 0 and 0 <= reserved <= on_hand for on_hand, reserved, _ in stored.values())


async def test_receipts_and_transfers_move_stock(database: Database) -> None:
    await stock_up(database)
    assert await level(database, "WH-NORTH") == (8, 0, 0)
    assert await level(database, "VAN-ADA") == (2, 0, 0)
    await assert_ledger_matches_levels(database)


async def test_a_job_reserves_then_consumes_and_returns_the_defective_part(database: Database) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW, actor="ada")
        await ledger.reserve("VAN-ADA", "FUSE-10A", 2, work_order="W1")
        with pytest.raises(InsufficientStock, match="only 0 available"):
            await ledger.reserve("VAN-ADA", "FUSE-10A", 1, work_order="W2")
    assert await level(database, "VAN-ADA") == (2, 2, 0)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW, actor="ada")
        await ledger.consume("VAN-ADA", "FUSE-10A", 1, work_order="W1")
        await ledger.release("VAN-ADA", "FUSE-10A", 1, work_order="W1")
        await ledger.return_defective("VAN-ADA", "WH-NORTH", "FUSE-10A", 1, work_order="W1")
    assert await level(database, "VAN-ADA") == (1, 0, 0)
    assert await level(database, "WH-NORTH") == (8, 0, 1)
    await assert_ledger_matches_levels(database)


async def test_a_work_order_cannot_release_what_it_does_not_hold(database: Database) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        await ledger.reserve("WH-NORTH", "FUSE-10A", 3, work_order="W1")
        with pytest.raises(InsufficientStock, match="W2 holds 0"):
            await ledger.release("WH-NORTH", "FUSE-10A", 1, work_order="W2")
        with pytest.raises(InsufficientStock, match="holds 3"):
            await ledger.release("WH-NORTH", "FUSE-10A", 4, work_order="W1")


async def test_consuming_more_than_reserved_takes_the_rest_from_available_stock(database: Database) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        await ledger.reserve("WH-NORTH", "FUSE-10A", 6, work_order="W1")
        await ledger.consume("WH-NORTH", "FUSE-10A", 7, work_order="W1")  # its 6, plus 1 of the 2 available
        with pytest.raises(InsufficientStock, match="has 1 of FUSE-10A available"):
            await ledger.consume("WH-NORTH", "FUSE-10A", 2, work_order="W9")
    assert await level(database, "WH-NORTH") == (1, 0, 0)
    await assert_ledger_matches_levels(database)


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda ledger: ledger.receive("WH-NORTH", "NOPE", 1), "no part NOPE"),
        (lambda ledger: ledger.receive("WH-MARS", "VALVE", 1), "no stock location WH-MARS"),
        (lambda ledger: ledger.receive("WH-NORTH", "VALVE", 0), "at least 1"),
        (lambda ledger: ledger.transfer("VAN-ADA", "VAN-ADA", "VALVE", 1), "two different"),
        (lambda ledger: ledger.transfer("VAN-BEN", "VAN-ADA", "FUSE-10A", 1), "only 0 available"),
        (lambda ledger: ledger.add_location("VAN-X", "X", LocationKind.VAN), "belongs to a technician"),
    ],
)
async def test_bad_operations_are_refused(database: Database, operation: object, message: str) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        with pytest.raises(StockError, match=message):
            await operation(StockLedger(session, NOW))  # type: ignore[operator]


async def test_where_is_lists_own_van_then_other_vans_then_warehouses(database: Database) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        await ledger.transfer("WH-NORTH", "VAN-BEN", "FUSE-10A", 1)
        found = await ledger.where_is("FUSE-10A", technician="ben", lat=52.1, lon=4.9)
        assert [(a.location, a.available) for a in found] == [("VAN-BEN", 1), ("VAN-ADA", 2), ("WH-NORTH", 7)]
        assert found[0].km == 0
        assert found[1].km == pytest.approx(27.8, abs=0.2)
        assert await ledger.where_is("VALVE") == []


async def test_reorder_report_lists_levels_at_or_below_their_point(database: Database) -> None:
    await stock_up(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        await ledger.set_reorder_point("WH-NORTH", "FUSE-10A", 5, 20)
        await ledger.set_reorder_point("VAN-ADA", "FUSE-10A", 1, 2)
        assert await ledger.reorder_report() == []
        await ledger.reserve("WH-NORTH", "FUSE-10A", 3, work_order="W1")
        (line,) = await ledger.reorder_report()
        assert (line.location, line.sku, line.available, line.order_quantity) == ("WH-NORTH", "FUSE-10A", 5, 20)


async def test_the_database_refuses_a_negative_level_whatever_the_code_does(database: Database) -> None:
    await stock_up(database)

    async def corrupt() -> None:
        async with database.transaction() as session:
            row = (await session.execute(select(StockLevel).where(StockLevel.on_hand == 2))).scalar_one()
            row.on_hand = -1

    with pytest.raises(IntegrityError):
        await corrupt()
    assert await level(database, "VAN-ADA") == (2, 0, 0)


async def test_parallel_transactions_never_take_more_than_there_is(database: Database) -> None:
    await stock_up(database)
    # 8 fuses in the warehouse; 20 technicians each try to take one to their job and reserve one more.
    outcomes: list[str] = []

    async def take(number: int) -> None:
        try:
            async with database.transaction() as session:
                ledger = StockLedger(session, NOW, actor=f"tech {number}")
                await ledger.reserve("WH-NORTH", "FUSE-10A", 1, work_order=f"W{number}")
                # Yield mid-transaction, so the others run while this one holds its lock.
                await asyncio.sleep(0.01)
                await ledger.consume("WH-NORTH", "FUSE-10A", 1, work_order=f"W{number}")
                await ledger.reserve("WH-NORTH", "FUSE-10A", 1, work_order=f"W{number}-next")
            outcomes.append("ok")
        except InsufficientStock:
            outcomes.append("short")

    await asyncio.gather(*(take(n) for n in range(20)))
    assert outcomes.count("ok") == 4  # each success uses one and holds one: 8 / 2
    assert await level(database, "WH-NORTH") == (4, 4, 0)
    await assert_ledger_matches_levels(database)


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_operations_keep_levels_equal_to_the_ledger_and_never_negative(
    database: Database, seed: int
) -> None:
    await stock_up(database)
    rng = random.Random(seed)
    places = ["WH-NORTH", "VAN-ADA", "VAN-BEN"]
    orders = ["W1", "W2", "W3"]
    refused = 0
    for _ in range(60):
        sku = rng.choice(["FUSE-10A", "VALVE"])
        quantity = rng.randint(1, 4)
        here, there = rng.sample(places, 2)
        order = rng.choice(orders)
        try:
            async with database.transaction() as session:
                ledger = StockLedger(session, NOW)
                operation = rng.choice(["receive", "transfer", "reserve", "release", "consume", "defective"])
                if operation == "receive":
                    await ledger.receive(here, sku, quantity)
                elif operation == "transfer":
                    await ledger.transfer(here, there, sku, quantity)
                elif operation == "reserve":
                    await ledger.reserve(here, sku, quantity, order)
                elif operation == "release":
                    await ledger.release(here, sku, quantity, order)
                elif operation == "consume":
                    await ledger.consume(here, sku, quantity, order)
                else:
                    await ledger.return_defective(here, there, sku, quantity, order)
        except InsufficientStock:
            refused += 1
    assert 0 < refused < 60
    await assert_ledger_matches_levels(database)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        held = await ledger.holdings()
        for place in places:
            for sku in ("FUSE-10A", "VALVE"):
                level = await ledger.level(place, sku)
                assert level.reserved == sum(
                    units for (at, part, _), units in held.items() if (at, part) == (place, sku)
                )
