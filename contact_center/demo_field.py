"""Field-service demo data: a warehouse, three technicians with vans, installed assets, and a planned day.

Loaded by contact_center.demo after the contact-center data, so that /dispatch, /tech and /stock show something
to someone trying the product. Everything goes through the services the app itself uses (the stock ledger, the
technician and work-order services, the planner), so the demo also shows that those fit together. The sites are
around Amsterdam; shifts are local times of FIELD_TIME_ZONE, as the planner reads them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from sqlmodel import select

from contact_center.actors import Actor
from contact_center.clock import Clock
from contact_center.db import Database
from contact_center.models import ActorKind, Case, CasePriority, Channel, Customer, Queue, User
from contact_center.services.contacts import ContactIntake, receive_contact
from contact_center.services.field_planning import dispatch_day, plan_day
from contact_center.services.technicians import TechnicianFields, do_create_technician
from contact_center.services.work_orders import NewWorkOrder, do_create_work_order
from contact_center.settings import Settings
from field_service.ledger import StockLedger
from field_service.maintenance_store import add_plan
from field_service.models import Asset, LocationKind, MeterReading
from field_service.problem import Break, JobType, Shift

__all__ = ["PLAN_SECONDS", "TECHNICIAN_USER", "demo_day", "load_field_demo"]

#: How long the planner may think about the demo day: a dozen visits need far less.
PLAN_SECONDS = 1.0
#: The demo account that is one of the technicians (contact_center.demo.DEMO_ACCOUNTS).
TECHNICIAN_USER = "tech@demo.test"
# Past this local time the rest of today is too short to show a day's plan, so the next working day is planned.
_LATEST_START = time(12, 0)

_WAREHOUSE = ("WH-AMS", "Amsterdam Westpoort warehouse", 52.4010, 4.8200)

# (code, name, home lat, home lon, skills, van code); the first is the demo technician user.
_TECHNICIANS = (
    ("tech", "Tess de Vries", 52.3030, 4.8620, {"boilers": 3, "heat_pumps": 2, "electrical": 1}, "VAN-TESS"),
    ("joost", "Joost Bakker", 52.4390, 4.8290, {"boilers": 2, "electrical": 3}, "VAN-JOOST"),
    ("amira", "Amira El Idrissi", 52.3390, 4.9590, {"heat_pumps": 3, "boilers": 2, "solar": 3}, "VAN-AMIRA"),
)

# (sku, name, unit price in cents, received at the warehouse, moved from there into each van)
_PARTS = (
    ("VALVE-3W", "Three-way diverter valve", 8900, 20, 2),
    ("IGN-ELEC", "Ignition electrode", 2450, 30, 3),
    ("FILTER-HP", "Heat-pump filter cartridge", 3900, 12, 2),
    ("SENSOR-NTC", "NTC temperature sensor", 1800, 25, 2),
)
# (location, sku, reorder point, reorder quantity): Amira's van is already at its filter reorder point.
_REORDER_POINTS = (
    ("VAN-AMIRA", "FILTER-HP", 2, 4),
    ("WH-AMS", "VALVE-3W", 5, 20),
    ("VAN-TESS", "IGN-ELEC", 1, 3),
)

# (code, customer, product, serial, address, lat, lon, years installed, years of warranty, meter unit)
_ASSETS = (
    ("AS-GRACE-BOILER", "Grace Hopper", "Remeha Tzerra Ace 28c", "RT-2211-0481", "Keizersgracht 123, Amsterdam",
     52.3740, 4.8850, 3, 5, ""),
    ("AS-GRACE-HP", "Grace Hopper", "Daikin Altherma 3 heat pump", "DA3-77120", "Keizersgracht 123, Amsterdam",
     52.3741, 4.8852, 2, 5, "hours"),
    ("AS-TOM-BOILER", "Tom Baker", "Nefit EcoPlus HRC30", "NF-0912-3321", "Javastraat 48, Amsterdam",
     52.3630, 4.9390, 9, 5, ""),
    ("AS-LINA-SOLAR", "Li Na", "SolarEdge SE5000H inverter", "SE5K-55102", "Van Woustraat 210, Amsterdam",
     52.3510, 4.9050, 1, 10, "kWh"),
)  # fmt: skip

# Field problems reported by the demo customers: (channel, external id, address, subject, priority).
_FIELD_CONTACTS = (
    (Channel.VOICE, "CA0000demo0101", "+447700900123", "No hot water since this morning", CasePriority.HIGH),
    (Channel.EMAIL, "<demo-0102@example.com>", "grace@example.com", "Heat pump service is due", CasePriority.NORMAL),
    (Channel.EMAIL, "<demo-0103@example.cn>", "li.na@example.cn", "Solar inverter shows an error", CasePriority.NORMAL),
    (Channel.SMS, "SM0000demo0104", "+14155550177", "Please install my new thermostat", CasePriority.NORMAL),
    (Channel.VOICE, "CA0000demo0105", "+14155550101", "Boiler pressure keeps dropping", CasePriority.HIGH),
)  # fmt: skip

# (case subject, job type, minutes, asset or None, site when no asset, skills, parts, window hours, priority)
_WORK_ORDERS: tuple[
    tuple[str, JobType, int, str | None, tuple[str, float, float] | None, dict[str, int], dict[str, int],
          tuple[int, int] | None, int], ...
] = (
    ("No hot water since this morning", JobType.REPAIR, 75, "AS-TOM-BOILER", None, {"boilers": 2},
     {"IGN-ELEC": 1}, (8, 13), 5),
    ("Heat pump service is due", JobType.PREVENTIVE_MAINTENANCE, 60, "AS-GRACE-HP", None, {"heat_pumps": 2},
     {"FILTER-HP": 1}, None, 3),
    ("Solar inverter shows an error", JobType.REPAIR, 60, "AS-LINA-SOLAR", None, {"solar": 2}, {}, (12, 17), 3),
    ("Please install my new thermostat", JobType.INSTALLATION, 90, None,
     ("Bilderdijkstraat 77, Amsterdam", 52.3680, 4.8700), {"electrical": 1}, {"SENSOR-NTC": 1}, (13, 17), 2),
    ("Boiler pressure keeps dropping", JobType.REPAIR, 60, "AS-GRACE-BOILER", None, {"boilers": 2},
     {"VALVE-3W": 1}, (8, 12), 4),
    ("Outage at head office", JobType.INSPECTION, 45, None, ("Zuidas, Gustav Mahlerlaan 10, Amsterdam",
     52.3380, 4.8730), {"electrical": 2}, {}, None, 5),
    ("Router keeps rebooting", JobType.REPAIR, 30, None, ("Keizersgracht 123, Amsterdam", 52.3742, 4.8848),
     {"electrical": 1}, {}, (10, 16), 3),
    ("Can I upgrade my plan?", JobType.UPGRADE, 60, None, ("Javastraat 48, Amsterdam", 52.3631, 4.9392),
     {"electrical": 1}, {}, None, 2),
    ("Heat pump service is due", JobType.METER_READING, 15, "AS-GRACE-HP", None, {}, {}, None, 1),
    ("I want to cancel my contract", JobType.INSPECTION, 30, None, ("Ferdinand Bolstraat 5, Amsterdam",
     52.3560, 4.8910), {"boilers": 1}, {}, (9, 17), 2),
)  # fmt: skip


def demo_day(now: datetime, tz: tzinfo) -> date:
    """Return the day the demo plans: today, unless it is a weekend or too late in the day for a plan to show."""
    local = now.astimezone(tz)
    day = local.date()
    if local.time() >= _LATEST_START:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def load_field_demo(
    database: Database, clock: Clock, settings: Settings, *, seconds: float = PLAN_SECONDS
) -> date:
    """Add the field-service demo data on top of the contact-center demo, plan and dispatch a day; return it."""
    tz = settings.field_zone
    day = demo_day(clock.now(), tz)
    await _stock_and_technicians(database, clock.now())
    await _assets(database, clock.now(), day, tz)
    await _field_contacts(database, clock)
    await _work_orders(database, clock.now(), day, tz)
    await plan_day(database.transaction, day, tz, clock.now(), seconds=seconds, actor="demo")
    await dispatch_day(database.transaction, day, tz, clock.now())
    return day


async def _stock_and_technicians(database: Database, now: datetime) -> None:
    # Monday to Friday, 08:00-17:00, with a half-hour lunch break starting between 12:00 and 13:30.
    week = {weekday: Shift(time(8), time(17), (Break(time(12), time(13, 30), 30),)) for weekday in range(5)}
    async with database.transaction() as session:
        ledger = StockLedger(session, now, actor="demo")
        code, name, lat, lon = _WAREHOUSE
        await ledger.add_location(code, name, LocationKind.WAREHOUSE, lat=lat, lon=lon)
        for sku, part_name, price, stocked, _ in _PARTS:
            await ledger.add_part(sku, part_name, price)
            await ledger.receive(code, sku, stocked, note="opening stock")
        user = (await session.scalars(select(User).where(User.username == TECHNICIAN_USER))).one()
        for tech, tech_name, home_lat, home_lon, skills, van in _TECHNICIANS:
            await ledger.add_location(
                van, f"{tech_name}'s van", LocationKind.VAN, technician=tech, warehouse=code, lat=home_lat, lon=home_lon
            )
            await do_create_technician(
                session,
                TechnicianFields(
                    code=tech,
                    name=tech_name,
                    home_lat=home_lat,
                    home_lon=home_lon,
                    skills=skills,
                    shifts=week,
                    van=van,
                    user_id=user.id if tech == _TECHNICIANS[0][0] else None,
                ),
            )
            for sku, _, _, _, in_van in _PARTS:
                await ledger.transfer(code, van, sku, in_van, note="van stock")
        for location, sku, point, quantity in _REORDER_POINTS:
            await ledger.set_reorder_point(location, sku, point, quantity)


async def _assets(database: Database, now: datetime, day: date, tz: tzinfo) -> None:
    async with database.transaction() as session:
        customers = {c.name: c.id for c in (await session.scalars(select(Customer))).all()}
        today = now.astimezone(tz).date()
        for code, customer, product, serial, address, lat, lon, age, warranty, meter in _ASSETS:
            installed = today - timedelta(days=365 * age)
            asset = Asset(
                code=code,
                customer_id=customers[customer],
                product=product,
                serial=serial,
                address=address,
                lat=lat,
                lon=lon,
                installed_on=installed,
                warranty_end=installed + timedelta(days=365 * warranty),
                meter_unit=meter,
                created_at=now - timedelta(days=365 * age),
            )
            session.add(asset)
            await session.flush()
            if meter == "hours":
                # Monthly readings, about 300 running hours a month, the last one a month ago.
                for months_ago in range(6, 0, -1):
                    session.add(
                        MeterReading(
                            asset_id=asset.id or 0,
                            value=float(12000 - 300 * months_ago),
                            read_at=now - timedelta(days=30 * months_ago),
                            actor="demo",
                        )
                    )
        await add_plan(
            session,
            "AS-GRACE-HP",
            "Heat-pump service every 2,000 running hours",
            starts_on=day - timedelta(days=180),
            now=now,
            meter_interval=2000.0,
            duration_minutes=60,
            required_skills={"heat_pumps": 2},
            parts={"FILTER-HP": 1},
        )


async def _field_contacts(database: Database, clock: Clock) -> None:
    async with database.transaction() as session:
        queue = (await session.scalars(select(Queue.id).where(Queue.name == "technical"))).one()
    for channel, external_id, address, subject, priority in _FIELD_CONTACTS:
        await receive_contact(
            database,
            ContactIntake(
                channel=channel,
                external_id=external_id,
                address=address,
                subject=subject,
                body=subject,
                queue_id=queue,
                priority=priority,
            ),
            clock.now(),
        )


async def _work_orders(database: Database, now: datetime, day: date, tz: tzinfo) -> None:
    actor = Actor(ActorKind.SYSTEM, None, "demo")
    async with database.transaction() as session:
        cases = {c.subject: c for c in (await session.scalars(select(Case))).all()}
        for subject, job_type, minutes, asset, site, skills, parts, hours, priority in _WORK_ORDERS:
            window = None
            if hours is not None:
                window = (
                    datetime.combine(day, time(hours[0]), tzinfo=tz),
                    datetime.combine(day, time(hours[1]), tzinfo=tz),
                )
            address, lat, lon = site if site else (None, None, None)
            await do_create_work_order(
                session,
                cases[subject],
                NewWorkOrder(
                    job_type=job_type,
                    duration_minutes=minutes,
                    asset=asset,
                    address=address,
                    lat=lat,
                    lon=lon,
                    required_skills=skills,
                    window=window,
                    priority=priority,
                    parts=parts,
                    notes=f"Demo: {subject.lower()}",
                ),
                actor,
                now,
            )
