"""The background maintenance runner creates due preventive work orders without being asked, and survives errors."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlmodel import select

from contact_center.workers.maintenance import run_maintenance_planner
from field_service.maintenance_store import add_plan
from field_service.models import Asset, WorkOrderRecord


async def test_the_runner_creates_the_due_work_order_once(database, clock) -> None:
    async with database.transaction() as session:
        session.add(Asset(code="BOILER-1", product="Boiler", lat=52.0, lon=5.0, created_at=clock.now()))
        await session.flush()
        await add_plan(session, "BOILER-1", "Check", starts_on=date(2026, 9, 1), now=clock.now(), interval_days=90)
    task = asyncio.create_task(run_maintenance_planner(database, clock, interval=0.01))
    try:
        for _ in range(500):
            async with database.transaction() as session:
                codes = list((await session.execute(select(WorkOrderRecord.code))).scalars())
            if codes:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a few more rounds: nothing new
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with database.transaction() as session:
        codes = list((await session.execute(select(WorkOrderRecord.code))).scalars())
    assert codes == ["PM-1-20261130"]
