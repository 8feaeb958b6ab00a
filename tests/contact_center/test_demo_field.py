"""The demo's field-service data: a planned, dispatched day on the board, the technician's jobs, a stock alert.

load_demo opens its own database from the settings (no schema search path can be passed to it), so on PostgreSQL
the demo gets a database of its own, dropped afterwards, instead of the usual private schema.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlmodel import select

from contact_center.db import Database
from contact_center.demo import DEMO_ACCOUNTS, load_demo
from contact_center.demo_field import TECHNICIAN_USER, demo_day
from contact_center.migrate import upgrade
from contact_center.services.field_planning import day_schedule
from contact_center.settings import Settings
from contact_center.web.app import create_app
from field_service.models import Asset, WorkOrderRecord, WorkOrderStatus
from field_service.operations import MaintenancePlan
from tests.conftest import DATABASES, POSTGRES_URL, Api, _raw_postgres_dsn

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(params=DATABASES)
async def demo_settings(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Settings]:
    """Settings of an empty store upgraded to head: a SQLite file, or a PostgreSQL database of its own."""
    env = {"DATA_DIR": str(tmp_path), "FIELD_TIME_ZONE": "Europe/Amsterdam", "BACKGROUND_WORKERS": "false"}
    name = None
    if request.param == "postgresql":
        name = f"demo_{secrets.token_hex(6)}"
        admin = await asyncpg.connect(_raw_postgres_dsn())
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        env["DATABASE_URL"] = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    settings = Settings.from_env(env)
    await asyncio.to_thread(upgrade, settings.database_url)
    try:
        yield settings
    finally:
        if name is not None:
            admin = await asyncpg.connect(_raw_postgres_dsn())
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()


def password_of(username: str) -> str:
    return next(p for u, p, _, _ in DEMO_ACCOUNTS if u == username)


async def sign_in(aiohttp_client: Any, server: Any, username: str) -> Api:
    client = await aiohttp_client(server)
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password_of(username)})
    assert response.status == 200, await response.text()
    return Api(client, (await response.json())["csrf_token"])


def test_the_demo_day_is_today_unless_a_weekend_or_an_afternoon():
    # 2026-12-02 is a Wednesday.
    assert demo_day(datetime(2026, 12, 2, 7, 30, tzinfo=UTC), AMSTERDAM) == date(2026, 12, 2)
    # 11:30 UTC is 12:30 in Amsterdam: too late to show a day's plan.
    assert demo_day(datetime(2026, 12, 2, 11, 30, tzinfo=UTC), AMSTERDAM) == date(2026, 12, 3)
    assert demo_day(datetime(2026, 12, 4, 14, 0, tzinfo=UTC), AMSTERDAM) == date(2026, 12, 7)
    assert demo_day(datetime(2026, 12, 5, 9, 0, tzinfo=UTC), AMSTERDAM) == date(2026, 12, 7)
    # Late on Sunday in UTC is already Monday in Amsterdam.
    assert demo_day(datetime(2026, 12, 6, 23, 30, tzinfo=UTC), AMSTERDAM) == date(2026, 12, 7)


async def test_the_demo_plans_and_dispatches_a_field_day(demo_settings, aiohttp_client):
    settings = demo_settings
    await load_demo(settings)
    day = demo_day(datetime.now(UTC), AMSTERDAM)

    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            schedule = await day_schedule(session, day, AMSTERDAM)
            orders = (await session.scalars(select(WorkOrderRecord))).all()
            assets = {a.code: a for a in (await session.scalars(select(Asset))).all()}
            plans = (await session.scalars(select(MaintenancePlan))).all()
        visits = [v for lane in schedule["routes"] for v in lane["visits"]]
        assert 8 <= len(orders) <= 12
        assert all(order.case_id is not None for order in orders)
        assert len([lane for lane in schedule["routes"] if lane["visits"]]) >= 2
        assert len(visits) >= 8
        assert {o.status for o in orders if o.planned_start} == {WorkOrderStatus.DISPATCHED}
        # Every visit is within a Monday-to-Friday 08:00-17:00 shift in the field time zone.
        for order in orders:
            if order.planned_start and order.planned_end:
                start, end = order.planned_start.astimezone(AMSTERDAM), order.planned_end.astimezone(AMSTERDAM)
                assert start.date() == day
                assert time(8) <= start.time()
                assert end.time() <= time(17)
        assert any(a.warranty_end and a.warranty_end < day for a in assets.values())
        assert any(a.warranty_end and a.warranty_end >= day for a in assets.values())
        assert [p.asset_id for p in plans] == [next(a.id for a in assets.values() if a.meter_unit == "hours")]

        server = (await aiohttp_client(create_app(settings, database=database))).server
        tech = await sign_in(aiohttp_client, server, TECHNICIAN_USER)
        jobs = (await tech.get(f"/api/v1/technician/jobs?date={day.isoformat()}", expect=200))["jobs"]
        assert jobs
        mine = next(lane for lane in schedule["routes"] if lane["technician"] == "tech")
        assert [job["code"] for job in jobs] == [v["work_order"] for v in mine["visits"]]
        page = await tech.get(f"/tech?date={day.isoformat()}", expect=200)
        assert sorted(jobs, key=lambda job: page.index(job["code"])) == jobs

        supervisor = await sign_in(aiohttp_client, server, "supervisor@demo.test")
        alerts = await supervisor.get("/api/v1/stock/alerts", expect=200)
        assert any(alert["location"] == "VAN-AMIRA" and alert["sku"] == "FILTER-HP" for alert in alerts)
        board = await supervisor.get(f"/dispatch?date={day.isoformat()}", expect=200)
        assert all(name in board for name in ("Tess de Vries", "Joost Bakker", "Amira El Idrissi"))
        assert "FILTER-HP" in await supervisor.get("/stock", expect=200)
    finally:
        await database.dispose()
