"""A technician's day in the store for the visit tests: tess (signed in as the tess persona) and ada, their vans,
a customer with a boiler under a meter, and three jobs.

Tess's day, in route order: W-boiler (10:30, on the boiler, for Ann's case, holding one fuse from her van) and
W-socket (14:00, 3 km east). Ada has W-ada. Tess's van holds 2 fuses (one held) and 1 valve; the van restocks from
the warehouse WH, where defective parts go back.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.actors import SYSTEM
from contact_center.models import Channel, IdentityKind
from contact_center.services.cases import NewCase, do_create_case
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from field_service.ledger import StockLedger
from field_service.models import Asset, LocationKind, TechnicianRecord, WorkOrderRecord, WorkOrderStatus
from field_service.problem import Location
from tests.field_service.factories import near

TESS_HOME = near(-4)
BOILER_SITE = near(0, 1)
SOCKET_SITE = near(3, 1)
PHONE = "+441632960123"
EMAIL = "ann@example.test"


@dataclass(frozen=True)
class SeededDay:
    case_id: int
    asset_id: int
    boiler: str = "W-boiler"
    socket: str = "W-socket"
    ada_job: str = "W-ada"


def _job(code: str, technician: str, start: datetime, site: Location, **changes: object) -> WorkOrderRecord:
    values: dict[str, object] = {
        "code": code,
        "job_type": "repair",
        "status": WorkOrderStatus.SCHEDULED,
        "address": f"{code} street 1",
        "lat": site.lat,
        "lon": site.lon,
        "duration_minutes": 60,
        "technician": technician,
        "planned_start": start,
        "planned_end": start + timedelta(hours=1),
        "window_start": start - timedelta(minutes=30),
        "window_end": start + timedelta(hours=2),
        "created_at": start - timedelta(days=2),
        "updated_at": start - timedelta(days=2),
    }
    values.update(changes)
    return WorkOrderRecord.model_validate(values)


async def seed_day(session: AsyncSession, now: datetime, tess_user_id: int) -> SeededDay:
    """Store the day described above; ``now`` is the morning of it (the tests' START, 10:00 UTC)."""
    ledger = StockLedger(session, now, "stores")
    await ledger.add_part("FUSE", "Fuse 13 A", 150)
    await ledger.add_part("VALVE", "Valve", 900)
    await ledger.add_location("WH", "Warehouse", LocationKind.WAREHOUSE)
    van_tess = await ledger.add_location("VAN-TESS", "Tess's van", LocationKind.VAN, technician="tess", warehouse="WH")
    van_ada = await ledger.add_location("VAN-ADA", "Ada's van", LocationKind.VAN, technician="ada", warehouse="WH")
    await ledger.receive("VAN-TESS", "FUSE", 2)
    await ledger.receive("VAN-TESS", "VALVE", 1)
    session.add(
        TechnicianRecord(
            code="tess",
            name="Tess Ogden",
            user_id=tess_user_id,
            home_lat=TESS_HOME.lat,
            home_lon=TESS_HOME.lon,
            van_id=van_tess.id,
        )
    )
    session.add(TechnicianRecord(code="ada", name="Ada Lovelace", home_lat=52.1, home_lon=5.1, van_id=van_ada.id))
    customer = await do_create_customer(session, CustomerFields(name="Ann Example"), now)
    await do_add_identity(session, customer, IdentityKind.PHONE, PHONE, now)
    await do_add_identity(session, customer, IdentityKind.EMAIL, EMAIL, now)
    case = await do_create_case(
        session, NewCase(customer_id=customer.id or 0, subject="Boiler trips", channel=Channel.WEB), SYSTEM, now
    )
    asset = Asset(
        code="A-boiler",
        customer_id=customer.id,
        product="Boiler X200",
        serial="SN-42",
        lat=BOILER_SITE.lat,
        lon=BOILER_SITE.lon,
        meter_unit="hours",
        created_at=now - timedelta(days=400),
    )
    session.add(asset)
    await session.flush()
    day_start = now.replace(hour=0, minute=0)
    session.add(
        _job(
            "W-boiler",
            "tess",
            day_start + timedelta(hours=10, minutes=30),
            BOILER_SITE,
            case_id=case.id,
            asset_id=asset.id,
            parts={"FUSE": 1},
            notes="Boiler trips the fuse when heating starts.",
        )
    )
    session.add(_job("W-socket", "tess", day_start + timedelta(hours=14), SOCKET_SITE, job_type="installation"))
    session.add(_job("W-ada", "ada", day_start + timedelta(hours=11), near(1, 1)))
    session.add(_job("W-tomorrow", "tess", day_start + timedelta(days=1, hours=9), near(2, 2)))
    await session.flush()
    await ledger.reserve("VAN-TESS", "FUSE", 1, "W-boiler")
    return SeededDay(case_id=case.id or 0, asset_id=asset.id or 0)


def tiny_png() -> bytes:
    """Return a real 1x1 PNG, the smallest photo a phone could send."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0\xff\0\0")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
