"""The visit service under contention: two taps on "done" at once book the parts once, never twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from contact_center.errors import Conflict
from contact_center.models import Role
from contact_center.services.field_visits import (
    Worker,
    do_change_status,
    do_record_parts,
)
from field_service.ledger import StockLedger
from field_service.models import MovementKind, StockMovement, WorkOrderStatus
from tests.conftest import START
from tests.field_service.visit_day import seed_day

TESS = Worker(user_id=None, name="Tess", role=Role.TECHNICIAN, technician="tess")


async def test_two_completions_at_once_book_the_parts_once(database, clock, users):
    async with database.transaction() as session:
        await seed_day(session, clock.now(), users["tess"])
    for status in (WorkOrderStatus.EN_ROUTE, WorkOrderStatus.ON_SITE):
        async with database.transaction() as session:
            await do_change_status(session, "W-boiler", status, TESS, clock.now())
    async with database.transaction() as session:
        await do_record_parts(session, "W-boiler", TESS, clock.now(), used={"FUSE": 2}, defective={})

    async def complete() -> str:
        try:
            async with database.transaction() as session:
                await do_change_status(
                    session, "W-boiler", WorkOrderStatus.COMPLETED, TESS, clock.now() + timedelta(hours=1)
                )
        except Conflict as exc:
            return exc.message
        return "completed"

    outcomes = sorted(await asyncio.gather(complete(), complete()))
    assert outcomes[0] == "completed"
    assert outcomes[1] == "the job is completed already"
    async with database.transaction() as session:
        level = await StockLedger(session, START).level("VAN-TESS", "FUSE")
        consumed = (
            await session.execute(select(StockMovement.quantity).where(StockMovement.kind == MovementKind.CONSUMPTION))
        ).all()
    assert (level.on_hand, level.reserved) == (0, 0)
    assert sum(q for (q,) in consumed) == 2
