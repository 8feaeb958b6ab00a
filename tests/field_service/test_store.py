"""A day planned from the store and saved back: statuses, times, part reservations, dispatched visits kept."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.db import Database
from field_service.cli import register_commands
from field_service.day import build_day
from field_service.ledger import StockLedger
from field_service.models import LocationKind, TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.optimiser import optimise
from field_service.problem import ProblemError
from field_service.store import close_work_order, load_problem, save_plan
from tests.field_service.factories import DAY, TRAVEL, TZ, at, near

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
SHIFTS = {
    str(weekday): {
        "start": "08:00",
        "end": "17:00",
        "breaks": [{"earliest": "12:00", "latest": "13:00", "minutes": 30}],
    }
    for weekday in range(5)
}


def work_order(code: str, **changes: object) -> WorkOrderRecord:
    site = near(len(code), 1)
    values: dict[str, object] = {
        "code": code,
        "job_type": "repair",
        "lat": site.lat,
        "lon": site.lon,
        "duration_minutes": 60,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return WorkOrderRecord.model_validate(values)


async def set_up(database: Database) -> None:
    """Ada (electrical, van with a fuse) and ben (gas, van with nothing); a warehouse with 2 valves."""
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        await ledger.add_part("FUSE", "Fuse")
        await ledger.add_part("VALVE", "Valve")
        await ledger.add_location("WH", "Warehouse", LocationKind.WAREHOUSE)
        van_ada = await ledger.add_location("VAN-ADA", "Ada's van", LocationKind.VAN, technician="ada", warehouse="WH")
        van_ben = await ledger.add_location("VAN-BEN", "Ben's van", LocationKind.VAN, technician="ben", warehouse="WH")
        await ledger.receive("WH", "VALVE", 2)
        await ledger.receive("VAN-ADA", "FUSE", 1)
        for code, skills, van, home in (
            ("ada", {"electrical": 3}, van_ada, near(-3)),
            ("ben", {"gas": 2}, van_ben, near(3)),
        ):
            session.add(
                TechnicianRecord(
                    code=code,
                    name=code.title(),
                    skills=skills,
                    home_lat=home.lat,
                    home_lon=home.lon,
                    shifts=SHIFTS,
                    van_id=van.id,
                )
            )
        session.add(work_order("W-fuse", required_skills={"electrical": 1}, parts={"FUSE": 1}))
        session.add(work_order("W-gas", required_skills={"gas": 1}, parts={"VALVE": 2}))
        session.add(work_order("W-any", window_start=at(14), window_end=at(15)))
        session.add(work_order("W-done", status=WorkOrderStatus.COMPLETED))
        session.add(
            work_order(
                "W-dispatched",
                status=WorkOrderStatus.DISPATCHED,
                technician="ben",
                planned_start=at(9),
                planned_end=at(10),
            )
        )


async def records(database: Database) -> dict[str, WorkOrderRecord]:
    async with database.transaction() as session:
        return {r.code: r for r in (await session.execute(select(WorkOrderRecord))).scalars()}


async def test_the_day_loads_open_work_orders_with_stock_and_fixed_visits(database: Database) -> None:
    await set_up(database)
    async with database.transaction() as session:
        problem = await load_problem(session, DAY, TZ)
    assert [t.id for t in problem.technicians] == ["ada", "ben"]
    ada, ben = problem.technicians
    assert ada.van_stock == {"FUSE": 1}
    assert ben.van_stock == {}
    assert ada.warehouse == ben.warehouse == "WH"
    assert problem.warehouses == {"WH": {"VALVE": 2}}
    assert ada.shift_on(DAY) is not None
    orders = {o.id: o for o in problem.work_orders}
    assert sorted(orders) == ["W-any", "W-dispatched", "W-fuse", "W-gas"]
    fixed = orders["W-dispatched"].fixed
    assert fixed is not None
    assert (fixed.technician_id, fixed.start) == ("ben", at(9))


async def test_saving_a_plan_schedules_reserves_parts_and_keeps_the_dispatched_visit(database: Database) -> None:
    await set_up(database)
    async with database.transaction() as session:
        day = build_day(await load_problem(session, DAY, TZ), TRAVEL)
    plan = optimise(day, seconds=2, max_iterations=300)
    async with database.transaction() as session:
        saved = await save_plan(session, day, plan, NOW)
    assert sorted(saved.scheduled) == ["W-any", "W-fuse", "W-gas"]
    assert saved.parts_short == ()
    stored = await records(database)
    assert stored["W-fuse"].technician == "ada"
    assert stored["W-gas"].technician == "ben"
    assert stored["W-gas"].status is WorkOrderStatus.SCHEDULED
    assert stored["W-any"].planned_start is not None
    assert at(14) <= stored["W-any"].planned_start <= at(15)
    assert (stored["W-dispatched"].status, stored["W-dispatched"].planned_start) == (WorkOrderStatus.DISPATCHED, at(9))
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        assert (await ledger.level("VAN-ADA", "FUSE")).reserved == 1
        assert (await ledger.level("WH", "VALVE")).reserved == 2
        assert await ledger.holdings() == {("VAN-ADA", "FUSE", "W-fuse"): 1, ("WH", "VALVE", "W-gas"): 2}

    # Planning again sees the held parts as available to their own work orders, and holds them once.
    async with database.transaction() as session:
        again = build_day(await load_problem(session, DAY, TZ), TRAVEL)
    assert again.allowed["W-gas"] == frozenset({"ben"})
    async with database.transaction() as session:
        await save_plan(session, again, optimise(again, seconds=2, max_iterations=300), NOW + timedelta(hours=1))
    async with database.transaction() as session:
        assert (await StockLedger(session, NOW).level("WH", "VALVE")).reserved == 2


async def test_a_job_whose_parts_went_elsewhere_is_left_unscheduled(database: Database) -> None:
    await set_up(database)
    async with database.transaction() as session:
        day = build_day(await load_problem(session, DAY, TZ), TRAVEL)
    plan = optimise(day, seconds=2, max_iterations=300)
    async with database.transaction() as session:
        await StockLedger(session, NOW).reserve("WH", "VALVE", 1, work_order="elsewhere")
    async with database.transaction() as session:
        saved = await save_plan(session, day, plan, NOW)
    assert saved.parts_short == ("W-gas",)
    assert (await records(database))["W-gas"].status is WorkOrderStatus.UNSCHEDULED


def store_opener(database: Database) -> Callable[[], AbstractAsyncContextManager[object]]:
    @asynccontextmanager
    async def open_store() -> AsyncIterator[Callable[[], AbstractAsyncContextManager[AsyncSession]]]:
        try:
            yield database.transaction
        finally:
            # The command runs on its own event loop: its pooled connections must not outlive it.
            await database.dispose()

    return open_store


async def test_the_schedule_command_prints_and_saves_the_plan(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await set_up(database)
    parser = argparse.ArgumentParser(prog="contact-center")
    register_commands(parser.add_subparsers(dest="command", required=True), store_opener(database), lambda: NOW)  # type: ignore[arg-type]
    args = parser.parse_args(
        ["schedule", "--date", DAY.isoformat(), "--tz", "Europe/Amsterdam", "--seconds", "1", "--save", "--json"]
    )
    # The command runs its own event loop, in a thread so this test's loop stays free; the pool starts empty.
    await database.dispose()
    assert await asyncio.to_thread(args.func, args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["date"] == DAY.isoformat()
    assert sorted(report["saved"]["scheduled"]) == ["W-any", "W-fuse", "W-gas"]
    planned = {v["work_order"] for r in report["routes"] for v in r["visits"]}
    assert planned == {"W-any", "W-fuse", "W-gas", "W-dispatched"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "tomorrow"], "not a date"),
        (["--date", "2026-12-07", "--tz", "Mars/Olympus"], "time zone"),
        (["--date", "2026-12-07", "--seconds", "-1"], "positive"),
    ],
)
def test_schedule_refuses_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="contact-center")

    def no_store() -> AbstractAsyncContextManager[object]:
        raise AssertionError("bad input must be refused before the store is opened")

    register_commands(parser.add_subparsers(dest="command", required=True), no_store, lambda: NOW)  # type: ignore[arg-type]
    args = parser.parse_args(["schedule", *argv])
    assert args.func(args) == 2
    assert message in capsys.readouterr().err


async def test_the_schedule_command_prints_local_times_as_text(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await set_up(database)
    parser = argparse.ArgumentParser(prog="contact-center")
    register_commands(parser.add_subparsers(dest="command", required=True), store_opener(database), lambda: NOW)  # type: ignore[arg-type]
    args = parser.parse_args(["schedule", "--date", DAY.isoformat(), "--tz", "Europe/Amsterdam", "--seconds", "1"])
    await database.dispose()
    assert await asyncio.to_thread(args.func, args) == 0
    lines = capsys.readouterr().out.splitlines()
    ben = next(line for line in lines if line.startswith("ben"))
    assert "W-dispatched 09:00" in ben  # dispatched at 09:00 Amsterdam time
    assert lines[-1] == "unassigned   -"
    assert (await records(database))["W-gas"].status is WorkOrderStatus.UNSCHEDULED  # nothing saved


async def plan_and_save(database: Database) -> None:
    async with database.transaction() as session:
        day = build_day(await load_problem(session, DAY, TZ), TRAVEL)
    plan = optimise(day, seconds=2, max_iterations=300)
    async with database.transaction() as session:
        await save_plan(session, day, plan, NOW)


async def test_completing_a_job_consumes_its_parts_and_releases_the_rest(database: Database) -> None:
    await set_up(database)
    await plan_and_save(database)
    async with database.transaction() as session:
        await close_work_order(session, "W-gas", completed=True, parts_used={"VALVE": 1}, now=NOW, actor="ben")
        await close_work_order(session, "W-fuse", completed=False, now=NOW, actor="ada")
    stored = await records(database)
    assert stored["W-gas"].status is WorkOrderStatus.COMPLETED
    assert stored["W-fuse"].status is WorkOrderStatus.CANNOT_COMPLETE
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        assert (await ledger.level("WH", "VALVE")).on_hand == 1
        assert (await ledger.level("WH", "VALVE")).reserved == 0
        assert (await ledger.level("VAN-ADA", "FUSE")).reserved == 0
        assert await ledger.holdings() == {}


async def test_parts_beyond_what_the_job_held_come_out_of_the_van(database: Database) -> None:
    await set_up(database)
    await plan_and_save(database)
    async with database.transaction() as session:
        await StockLedger(session, NOW).receive("VAN-BEN", "FUSE", 3)
        await close_work_order(session, "W-gas", completed=True, parts_used={"VALVE": 2, "FUSE": 2}, now=NOW)
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW)
        assert (await ledger.level("VAN-BEN", "FUSE")).on_hand == 1
        assert (await ledger.level("WH", "VALVE")).on_hand == 0


@pytest.mark.parametrize(
    ("code", "completed", "parts", "message"),
    [
        ("W-nope", True, None, "no work order"),
        ("W-done", True, None, "already closed"),
        ("W-any", False, {"FUSE": 1}, "only on a completed job"),
    ],
)
async def test_closing_refuses_what_makes_no_sense(
    database: Database, code: str, completed: bool, parts: dict[str, int] | None, message: str
) -> None:
    await set_up(database)
    async with database.transaction() as session:
        with pytest.raises(ProblemError, match=message):
            await close_work_order(session, code, completed=completed, parts_used=parts, now=NOW)
