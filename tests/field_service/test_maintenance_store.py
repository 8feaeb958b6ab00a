"""Preventive maintenance against the store: runs create work orders ahead of time, once, and completion moves on.

The race test runs two runners in parallel transactions (truly parallel on PostgreSQL): one work order per plan.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from contact_center.db import Database
from field_service.maintenance_cli import register_commands
from field_service.maintenance_store import add_plan, advance_plan_on_completion, run_maintenance
from field_service.models import Asset, MeterReading, WorkOrderRecord, WorkOrderStatus
from field_service.operations import MaintenancePlan
from field_service.problem import JobType, ProblemError
from tests.field_service.test_store import store_opener

NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


async def boiler_and_press(database: Database) -> None:
    """A boiler serviced every 90 days (from 1 January), a press serviced every 1000 copies."""
    async with database.transaction() as session:
        session.add(Asset(code="BOILER-1", product="Boiler", address="1 Canal St", lat=52.0, lon=5.0, created_at=NOW))
        session.add(Asset(code="PRESS-1", product="Press", lat=52.1, lon=5.1, meter_unit="copies", created_at=NOW))
        await session.flush()
        await add_plan(
            session,
            "BOILER-1",
            "Annual boiler check",
            starts_on=date(2026, 1, 1),
            now=NOW,
            interval_days=90,
            lead_days=30,
            window_days=2,
            duration_minutes=45,
            required_skills={"gas": 2},
            parts={"FILTER": 1},
        )
        press = await add_plan(
            session, "PRESS-1", "Drum cleaning", starts_on=date(2026, 2, 1), now=NOW, meter_interval=1000, lead_days=3
        )
        for day, copies in ((1, 0), (11, 200)):
            session.add(
                MeterReading(asset_id=press.asset_id, value=copies, read_at=datetime(2026, 2, day, 9, tzinfo=UTC))
            )


async def orders(database: Database) -> dict[str, WorkOrderRecord]:
    async with database.transaction() as session:
        return {o.code: o for o in (await session.execute(select(WorkOrderRecord))).scalars()}


async def test_a_run_creates_work_orders_ahead_of_the_due_date_once(database: Database) -> None:
    await boiler_and_press(database)
    async with database.transaction() as session:
        assert await run_maintenance(session, date(2026, 3, 1), NOW) == []
    async with database.transaction() as session:
        created = await run_maintenance(session, date(2026, 3, 2), NOW)
    assert [(c.work_order, c.due_on) for c in created] == [("PM-1-20260401", date(2026, 4, 1))]
    order = (await orders(database))["PM-1-20260401"]
    assert order.job_type is JobType.PREVENTIVE_MAINTENANCE
    assert order.status is WorkOrderStatus.UNSCHEDULED
    assert (order.window_start, order.window_end) == (
        datetime(2026, 3, 30, tzinfo=UTC),
        datetime(2026, 4, 4, tzinfo=UTC),
    )
    assert (order.duration_minutes, order.required_skills, order.parts) == (45, {"gas": 2}, {"FILTER": 1})
    assert (order.address, order.lat, order.asset_id) == ("1 Canal St", 52.0, 1)
    async with database.transaction() as session:
        assert await run_maintenance(session, date(2026, 3, 19), NOW) == []


async def test_a_meter_plan_is_created_from_the_projected_due_date(database: Database) -> None:
    await boiler_and_press(database)
    # 20 copies a day since the first reading (1 February, 9:00): 1000 copies on 23 March, created 3 days before.
    async with database.transaction() as session:
        assert [c.work_order for c in await run_maintenance(session, date(2026, 3, 19), NOW)] == ["PM-1-20260401"]
    async with database.transaction() as session:
        assert [c.work_order for c in await run_maintenance(session, date(2026, 3, 20), NOW)] == ["PM-2-20260323"]


async def test_completion_moves_the_plan_on_and_a_failed_visit_is_retried(database: Database) -> None:
    await boiler_and_press(database)
    async with database.transaction() as session:
        await run_maintenance(session, date(2026, 3, 2), NOW)
    done = NOW + timedelta(days=31)
    async with database.transaction() as session:
        order = (await session.execute(select(WorkOrderRecord))).scalars().one()
        order.status = WorkOrderStatus.CANNOT_COMPLETE
        plan = await advance_plan_on_completion(session, order, done)
        assert plan is not None
        assert (plan.last_service_on, plan.open_work_order_id) == (date(2026, 1, 1), None)
    async with database.transaction() as session:
        created = await run_maintenance(session, date(2026, 4, 1), done)
    assert [c.work_order for c in created if c.plan_id == 1] == ["PM-1-20260401-2"]
    async with database.transaction() as session:
        retry = (
            await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == "PM-1-20260401-2"))
        ).scalar_one()
        retry.status = WorkOrderStatus.COMPLETED
        plan = await advance_plan_on_completion(session, retry, done)
        assert plan is not None
        assert (plan.last_service_on, plan.open_work_order_id) == (date(2026, 4, 1), None)
        # Closing it again, or closing a job no plan waits on, changes nothing.
        assert await advance_plan_on_completion(session, retry, done) is None
    async with database.transaction() as session:
        assert await run_maintenance(session, date(2026, 5, 30), done) == []
        assert [c.work_order for c in await run_maintenance(session, date(2026, 6, 1), done)] == ["PM-1-20260630"]


async def test_parallel_runners_create_one_work_order_per_plan(database: Database) -> None:
    await boiler_and_press(database)

    async def run() -> int:
        async with database.transaction() as session:
            created = await run_maintenance(session, date(2026, 3, 25), NOW)
            await asyncio.sleep(0.05)
            return len(created)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sum(results) == 2
    assert sorted(await orders(database)) == ["PM-1-20260401", "PM-2-20260323"]
    async with database.transaction() as session:
        plans = (await session.execute(select(MaintenancePlan))).scalars().all()
    assert all(p.open_work_order_id is not None for p in plans)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"interval_days": 30, "meter_interval": 10}, "either"),
        ({}, "either"),
        ({"interval_days": 0}, "positive"),
        ({"interval_days": 30, "lead_days": -1}, "at least zero"),
        ({"meter_interval": 10.0}, "has no meter"),
    ],
)
async def test_bad_plans_are_refused(database: Database, changes: dict[str, object], message: str) -> None:
    await boiler_and_press(database)
    async with database.transaction() as session:
        with pytest.raises(ProblemError, match=message):
            await add_plan(session, "BOILER-1", "x", starts_on=date(2026, 1, 1), now=NOW, **changes)  # type: ignore[arg-type]


async def test_the_maintenance_run_command(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    await boiler_and_press(database)
    parser = argparse.ArgumentParser(prog="contact-center")
    register_commands(parser.add_subparsers(dest="command", required=True), store_opener(database), lambda: NOW)  # type: ignore[arg-type]
    args = parser.parse_args(["maintenance", "run", "--date", "2026-03-02", "--json"])
    await database.dispose()
    assert await asyncio.to_thread(args.func, args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "date": "2026-03-02",
        "created": [{"plan": 1, "work_order": "PM-1-20260401", "due_on": "2026-04-01"}],
    }
    args = parser.parse_args(["maintenance", "run", "--date", "2026-03-02"])
    assert await asyncio.to_thread(args.func, args) == 0
    assert "0 work order(s) created" in capsys.readouterr().out
    args = parser.parse_args(["maintenance", "run", "--date", "soon"])
    assert await asyncio.to_thread(args.func, args) == 2
    assert "not a date" in capsys.readouterr().err
