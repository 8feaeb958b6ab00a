"""A small field-service world on the case store: ada and ben, their vans, two customers with cases.

Ann (English) gave a phone number, so she is texted; Wu (Chinese) gave only an email address. Days are planned in
Amsterdam time; the planned day is DAY (a Monday) and the clock starts the week before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import select

from contact_center.actors import SYSTEM
from contact_center.clock import ManualClock
from contact_center.db import Database
from contact_center.models import Channel, IdentityKind
from contact_center.services.cases import NewCase, do_create_case, get_case
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from contact_center.services.technicians import TechnicianFields, do_create_technician
from contact_center.services.work_orders import NewWorkOrder, do_create_work_order
from contact_center.settings import Settings
from field_service.ledger import StockLedger
from field_service.models import Asset, LocationKind, WorkOrderRecord
from field_service.problem import JobType
from tests.field_service.factories import DAY, OFFICE_HOURS, TZ, at, near

__all__ = ["DAY", "TZ", "World", "add_order", "at", "new_order", "orders", "window"]

# Fast enough for tests, long enough for PyVRP to improve on the greedy start of these tiny days.
REPLAN_SECONDS = 0.3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, field_time_zone="Europe/Amsterdam", field_replan_seconds=REPLAN_SECONDS)


@dataclass(frozen=True)
class World:
    ann_case: int
    wu_case: int
    asset: str


def new_order(**changes: object) -> NewWorkOrder:
    """Return a one-hour repair in town."""
    site = near(1, 1)
    values: dict[str, object] = {"job_type": JobType.REPAIR, "duration_minutes": 60, "lat": site.lat, "lon": site.lon}
    values.update(changes)
    return NewWorkOrder(**values)  # type: ignore[arg-type]


async def orders(database: Database) -> dict[str, WorkOrderRecord]:
    """Return every work order by code."""
    async with database.transaction() as session:
        return {o.code: o for o in (await session.scalars(select(WorkOrderRecord))).all()}


@pytest.fixture
async def world(database: Database, clock: ManualClock) -> World:
    """Set up the technicians, stock, customers and cases (no work orders)."""
    now = clock.now()
    async with database.transaction() as session:
        ledger = StockLedger(session, now)
        await ledger.add_part("FUSE", "Fuse")
        await ledger.add_part("VALVE", "Valve")
        await ledger.add_location("WH", "Warehouse", LocationKind.WAREHOUSE)
        await ledger.add_location("VAN-ADA", "Ada's van", LocationKind.VAN, technician="ada", warehouse="WH")
        await ledger.add_location("VAN-BEN", "Ben's van", LocationKind.VAN, technician="ben", warehouse="WH")
        await ledger.receive("WH", "VALVE", 2)
        await ledger.receive("VAN-ADA", "FUSE", 2)
        for code, skills, home in (("ada", {"electrical": 3}, near(-3)), ("ben", {"gas": 2}, near(3))):
            await do_create_technician(
                session,
                TechnicianFields(
                    code=code,
                    name=f"{code.title()} Smith",
                    home_lat=home.lat,
                    home_lon=home.lon,
                    skills=skills,
                    shifts=dict.fromkeys(range(5), OFFICE_HOURS),
                    van=f"VAN-{code.upper()}",
                ),
            )
        ann = await do_create_customer(session, CustomerFields(name="Ann Archer"), now)
        await do_add_identity(session, ann, IdentityKind.PHONE, "+31612345678", now)
        await do_add_identity(session, ann, IdentityKind.EMAIL, "ann@example.com", now)
        wu = await do_create_customer(session, CustomerFields(name="Wu Fang", language="zh"), now)
        await do_add_identity(session, wu, IdentityKind.EMAIL, "wu@example.com", now)
        ann_case = await do_create_case(session, NewCase(ann.id or 0, "Fuse box sparks", Channel.VOICE), SYSTEM, now)
        wu_case = await do_create_case(session, NewCase(wu.id or 0, "Boiler is cold", Channel.EMAIL), SYSTEM, now)
        site = near(2, -1)
        session.add(
            Asset(
                code="BOILER-1",
                customer_id=wu.id,
                product="Boiler",
                address="Kerkstraat 1",
                lat=site.lat,
                lon=site.lon,
                created_at=now,
            )
        )
    return World(ann_case.id or 0, wu_case.id or 0, "BOILER-1")


async def add_order(database: Database, clock: ManualClock, case_id: int, **changes: object) -> str:
    """Create a work order on a case through the service; return its code."""
    async with database.transaction() as session:
        case = await get_case(session, case_id)
        order = await do_create_work_order(session, case, new_order(**changes), SYSTEM, clock.now())
    return order.code


def window(from_hour: int, to_hour: int, day: date = DAY) -> tuple[datetime, datetime]:
    """Return an appointment window between two local hours of a day."""
    shift = timedelta(days=(day - DAY).days)
    return at(from_hour) + shift, at(to_hour) + shift
