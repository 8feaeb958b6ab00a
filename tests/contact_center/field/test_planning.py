"""Planning a day from the app: optimise, the saved plan with reasons, dispatch, pins, new jobs, sick technicians,
one planning run per day at a time, and the schedule command saving through the same service."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from contact_center.cli import _save_field_day
from contact_center.clock import ManualClock
from contact_center.db import Database
from contact_center.leases import holder_of
from contact_center.models import Lease, SchedulePlan
from contact_center.services.field_planning import PlanningBusy, day_lease, plan_day
from field_service.cli import register_commands
from field_service.models import TechnicianRecord, WorkOrderStatus
from tests.contact_center.field.conftest import DAY, TZ, World, add_order, orders, window

pytestmark = pytest.mark.usefixtures("users")
DAY_PATH = f"/api/v1/schedule/{DAY.isoformat()}"
LEASE = f"planning-day:{DAY.isoformat()}"


async def test_a_day_is_optimised_saved_and_shown_with_reasons(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    fuse = await add_order(database, clock, world.ann_case, required_skills={"electrical": 2}, parts={"FUSE": 1})
    gas = await add_order(database, clock, world.wu_case, required_skills={"gas": 1}, window=window(9, 11))
    network = await add_order(database, clock, world.ann_case, required_skills={"network": 5})
    sam = await login("sam")
    shown = await sam.post(f"{DAY_PATH}/optimise", {"seconds": 0.3}, expect=200)
    lanes = {lane["technician"]: lane for lane in shown["routes"]}
    assert [v["work_order"] for v in lanes["ada"]["visits"]] == [fuse]
    assert [v["work_order"] for v in lanes["ben"]["visits"]] == [gas]
    visit = lanes["ben"]["visits"][0]
    assert visit["status"] == "scheduled"
    assert "09:00" <= visit["start"][11:16] <= "11:00"  # local Amsterdam time, within the window
    assert visit["map_url"].startswith(f"https://www.openstreetmap.org/?mlat={visit['lat']:.6f}&mlon=")
    assert lanes["ben"]["route_url"].count("loc=") == 3  # home, the visit, home
    assert shown["travel_seconds"] > 0
    [left] = shown["unassigned"]
    assert left["work_order"] == network
    assert "skills" in left["reason"]
    assert "network 5" in left["reason"]
    assert await sam.get(DAY_PATH, expect=200) == shown
    state = await orders(database)
    assert state[fuse].technician == "ada"
    events = await (await login("bob")).get(f"/api/v1/cases/{world.ann_case}/timeline", expect=200)
    planning = {e["data"]["work_order"]: e for e in events if e["data"].get("action") in ("scheduled", "unscheduled")}
    assert planning[fuse]["body"].startswith(f"Work order {fuse} scheduled: ada, 2026-12-07 ")
    assert planning[fuse]["actor_name"] == "Sam"
    assert network not in planning  # never planned, so nothing changed for it
    assert state[fuse].status is WorkOrderStatus.SCHEDULED


async def test_dispatched_visits_stay_fixed_and_pins_are_honoured(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    first = await add_order(database, clock, world.ann_case, window=window(9, 12))
    second = await add_order(database, clock, world.ann_case, window=window(13, 16))
    sam = await login("sam")
    await sam.post(f"{DAY_PATH}/optimise", {"seconds": 0.3}, expect=200)
    dispatched = await sam.post(f"{DAY_PATH}/dispatch", expect=200)
    assert dispatched["dispatched"] == sorted([first, second])
    before = await orders(database)
    other = "ben" if before[second].technician == "ada" else "ada"
    # A dispatched visit cannot be pinned elsewhere: release it first.
    refused = await sam.patch(f"/api/v1/work-orders/{second}", {"pinned_technician": other}, expect=409)
    assert "dispatched" in refused["error"]["message"]
    pinned = await add_order(database, clock, world.wu_case)
    await sam.patch(f"/api/v1/work-orders/{pinned}", {"pinned_technician": "ben"}, expect=200)
    await sam.post(f"{DAY_PATH}/optimise", {"seconds": 0.3}, expect=200)
    after = await orders(database)
    for code in (first, second):
        # Dispatched: same technician, same start, still dispatched.
        assert (after[code].technician, after[code].planned_start) == (
            before[code].technician,
            before[code].planned_start,
        )
        assert after[code].status is WorkOrderStatus.DISPATCHED
    assert after[pinned].technician == "ben"


async def test_a_job_added_to_a_planned_day_is_planned_at_once(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    sam, bob = await login("sam"), await login("bob")
    await add_order(database, clock, world.ann_case, window=window(9, 12))
    await sam.post(f"{DAY_PATH}/optimise", {"seconds": 0.3}, expect=200)
    start, end = window(14, 16)
    created = await bob.post(
        f"/api/v1/cases/{world.wu_case}/work-orders",
        {
            "job_type": "inspection",
            "asset": world.asset,
            "duration_minutes": 30,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        },
        expect=201,
    )
    assert created["status"] == "scheduled"
    assert start.isoformat() <= created["planned_start"].replace("Z", "+00:00") <= end.isoformat()
    # A day nobody planned yet is left for the dispatcher.
    later = window(9, 12, DAY + timedelta(days=1))
    other = await bob.post(
        f"/api/v1/cases/{world.wu_case}/work-orders",
        {
            "job_type": "repair",
            "asset": world.asset,
            "duration_minutes": 30,
            "window_start": later[0].isoformat(),
            "window_end": later[1].isoformat(),
        },
        expect=201,
    )
    assert other["status"] == "unscheduled"


async def test_a_sick_technician_s_visits_go_to_the_others(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    codes = [await add_order(database, clock, world.ann_case, window=window(9 + 2 * i, 11 + 2 * i)) for i in range(3)]
    sam = await login("sam")
    await sam.post(f"{DAY_PATH}/optimise", {"seconds": 0.3}, expect=200)
    await sam.post(f"{DAY_PATH}/dispatch", expect=200)
    before = await orders(database)
    sick = before[codes[0]].technician
    assert sick is not None
    theirs = sorted(code for code in codes if before[code].technician == sick)
    outcome = await sam.post(f"/api/v1/technicians/{sick}/absences", {"date": DAY.isoformat()}, expect=200)
    assert outcome["released"] == theirs
    after = await orders(database)
    assert all(after[code].technician != sick for code in codes)
    assert {after[code].technician for code in theirs} == {"ben" if sick == "ada" else "ada"}
    events = await sam.get(f"/api/v1/cases/{world.ann_case}/timeline", expect=200)
    moves = [
        e["data"]["technician"]
        for e in events
        if e["data"].get("work_order") == theirs[0] and e["data"]["action"] == "scheduled"
    ]
    assert moves[-2:] == [sick, after[theirs[0]].technician]  # planned on the sick one, then moved
    shown = await sam.get(DAY_PATH, expect=200)
    lane = {lane["technician"]: lane for lane in shown["routes"]}
    assert sick not in lane  # off, and nothing left on them
    async with database.transaction() as session:
        record = (await session.scalars(select(TechnicianRecord).where(TechnicianRecord.code == sick))).one()
    assert DAY.isoformat() in record.days_off
    await sam.post("/api/v1/technicians/nobody/absences", {"date": DAY.isoformat()}, expect=404)


async def test_planning_refuses_bad_days_and_seconds(world: World, login) -> None:
    sam, bob = await login("sam"), await login("bob")
    await sam.post(f"{DAY_PATH}/optimise", {"seconds": 61}, expect=400)
    await sam.post("/api/v1/schedule/2026-13-01/optimise", {}, expect=400)
    await sam.post("/api/v1/schedule/2020-01-01/optimise", {}, expect=400)  # over
    await bob.post(f"{DAY_PATH}/optimise", {}, expect=403)
    await bob.get(DAY_PATH, expect=403)


async def test_one_planning_run_per_day_at_a_time(database: Database, clock: ManualClock, world: World) -> None:
    await add_order(database, clock, world.ann_case, window=window(9, 12))
    now = clock.now()
    async with day_lease(database.transaction, DAY, now, hold=1):
        with pytest.raises(PlanningBusy):
            async with day_lease(database.transaction, DAY, now, hold=1, wait=0.3):
                pass
        # Another day is not held up.
        async with day_lease(database.transaction, DAY + timedelta(days=1), now, hold=1):
            pass
    # Two runs at once: the second waits for the first, and both finish.
    reports = await asyncio.gather(
        *(plan_day(database.transaction, DAY, TZ, now, seconds=0.3, seed=seed) for seed in (1, 2))
    )
    assert all(not report["unassigned"] for report in reports)
    async with database.transaction() as session:
        plan = (await session.scalars(select(SchedulePlan).where(SchedulePlan.day == DAY))).one()
    assert await holder_of(database, LEASE, now) is None
    assert plan.planned_at == now
    # A lease whose holder died expires.
    async with database.transaction() as session:
        lease = await session.get(Lease, LEASE)
        assert lease is not None
        lease.holder, lease.expires_at = "dead", now - timedelta(seconds=1)
    async with day_lease(database.transaction, DAY, now, hold=1, wait=0.3) as holder:
        assert await holder_of(database, LEASE, now) == holder


def _opener(database: Database) -> Callable[[], AbstractAsyncContextManager[object]]:
    @asynccontextmanager
    async def open_store() -> AsyncIterator[Callable[[], AbstractAsyncContextManager[AsyncSession]]]:
        try:
            yield database.transaction
        finally:
            # The command runs its own event loop: its pooled connections must not outlive it.
            await database.dispose()

    return open_store


async def test_the_schedule_command_saves_through_the_planning_service(
    database: Database, clock: ManualClock, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await add_order(database, clock, world.ann_case, window=window(9, 12))
    parser = argparse.ArgumentParser(prog="contact-center")
    register_commands(
        parser.add_subparsers(dest="command", required=True),
        _opener(database),
        clock.now,
        _save_field_day,  # type: ignore[arg-type]
    )
    args = parser.parse_args(
        ["schedule", "--date", DAY.isoformat(), "--tz", "Europe/Amsterdam", "--seconds", "0.3", "--save", "--json"]
    )
    await database.dispose()
    assert await asyncio.to_thread(args.func, args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["saved"]["scheduled"] == [code]
    async with database.transaction() as session:
        plan = (await session.scalars(select(SchedulePlan).where(SchedulePlan.day == DAY))).one()
    assert plan.planned_by == "contact-center schedule"
    assert await holder_of(database, LEASE, clock.now()) is None
