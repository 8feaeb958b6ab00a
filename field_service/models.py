"""Field-service tables: technicians and work orders, and for spare parts the catalogue, stock locations
(warehouses and vans), stock levels and the movement ledger.

Every change to stock is a row in ``stock_movements``; ``stock_levels`` holds the running balance per part and
location, updated in the same transaction (field_service.ledger), so the two always agree. CHECK constraints keep
a level from ever going negative, whatever the code above them does.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from field_service.problem import JobType

__all__ = [
    "Asset",
    "Instant",
    "LocationKind",
    "MeterReading",
    "MovementKind",
    "Part",
    "StockLevel",
    "StockLocation",
    "StockMovement",
    "TechnicianRecord",
    "WorkOrderRecord",
    "WorkOrderStatus",
]


class Instant(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases (SQLite would hand back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the stock ledger; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LocationKind(enum.StrEnum):
    """Where stock is kept."""

    WAREHOUSE = "warehouse"
    VAN = "van"


class MovementKind(enum.StrEnum):
    """What happened to stock."""

    RECEIPT = "receipt"
    TRANSFER = "transfer"
    RESERVATION = "reservation"
    RELEASE = "release"
    CONSUMPTION = "consumption"
    DEFECTIVE_RETURN = "defective_return"


def _enum(enum_class: type[enum.Enum]) -> sa.Enum:
    # Plain strings, so a new member needs no migration.
    return sa.Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Part(SQLModel, table=True):
    __tablename__ = "parts"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    unit_price_cents: int = 0


class StockLocation(SQLModel, table=True):
    __tablename__ = "stock_locations"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    kind: LocationKind = Field(sa_type=_enum(LocationKind))
    # A van's technician (their id in the schedule) and the warehouse it restocks from.
    technician: str | None = Field(default=None, max_length=64, index=True)
    warehouse_id: int | None = Field(default=None, foreign_key="stock_locations.id")
    lat: float | None = None
    lon: float | None = None


class StockLevel(SQLModel, table=True):
    __tablename__ = "stock_levels"
    __table_args__ = (
        sa.UniqueConstraint("location_id", "part_id"),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_levels_on_hand"),
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="ck_stock_levels_reserved"),
        sa.CheckConstraint("defective >= 0", name="ck_stock_levels_defective"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="stock_locations.id", index=True)
    part_id: int = Field(foreign_key="parts.id", index=True)
    on_hand: int = 0
    # Held for scheduled work orders: on hand but not available to anyone else.
    reserved: int = 0
    # Defective units returned from jobs, waiting to go back to the supplier; never usable stock.
    defective: int = 0
    reorder_point: int = 0
    reorder_quantity: int = 0


class StockMovement(SQLModel, table=True):
    __tablename__ = "stock_movements"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="ck_stock_movements_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: MovementKind = Field(sa_type=_enum(MovementKind))
    part_id: int = Field(foreign_key="parts.id", index=True)
    from_location_id: int | None = Field(default=None, foreign_key="stock_locations.id")
    to_location_id: int | None = Field(default=None, foreign_key="stock_locations.id")
    quantity: int
    # How much of the quantity moved into (reservation) or out of (release, consumption) the reserved stock.
    reserved_quantity: int = 0
    work_order: str | None = Field(default=None, max_length=64, index=True)
    note: str = Field(default="", sa_type=sa.Text)
    actor: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=Instant)


class WorkOrderStatus(enum.StrEnum):
    """Where a work order stands."""

    UNSCHEDULED = "unscheduled"
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    COMPLETED = "completed"
    CANNOT_COMPLETE = "cannot_complete"


class TechnicianRecord(SQLModel, table=True):
    __tablename__ = "technicians"

    id: int | None = Field(default=None, primary_key=True)
    # The technician's id in schedules, stock locations and pins.
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    user_id: int | None = Field(default=None, foreign_key="users.id", unique=True)
    skills: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    home_lat: float
    home_lon: float
    # {"0": {"start": "08:00", "end": "17:00", "breaks": [{"earliest": "12:00", "latest": "13:00", "minutes": 30}]}}
    # keyed by weekday, 0 = Monday.
    shifts: dict[str, dict[str, object]] = Field(default_factory=dict, sa_type=sa.JSON)
    days_off: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    van_id: int | None = Field(default=None, foreign_key="stock_locations.id")
    active: bool = True


class WorkOrderRecord(SQLModel, table=True):
    __tablename__ = "work_orders"
    __table_args__ = (sa.Index("ix_work_orders_status_planned_start", "status", "planned_start"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    job_type: JobType = Field(sa_type=_enum(JobType))
    status: WorkOrderStatus = Field(default=WorkOrderStatus.UNSCHEDULED, sa_type=_enum(WorkOrderStatus))
    address: str = Field(default="", max_length=500)
    lat: float
    lon: float
    required_skills: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    duration_minutes: int
    window_start: datetime | None = Field(default=None, sa_type=Instant)
    window_end: datetime | None = Field(default=None, sa_type=Instant)
    priority: int = 3
    sla_deadline: datetime | None = Field(default=None, sa_type=Instant)
    # {sku: quantity}
    parts: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    # The installed equipment the job is on, if any: its warranty decides whether the job is chargeable.
    asset_id: int | None = Field(default=None, foreign_key="assets.id", index=True)
    pinned_technician: str | None = Field(default=None, max_length=64)
    technician: str | None = Field(default=None, max_length=64, index=True)
    planned_start: datetime | None = Field(default=None, sa_type=Instant)
    planned_end: datetime | None = Field(default=None, sa_type=Instant)
    notes: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(sa_type=Instant)
    updated_at: datetime = Field(sa_type=Instant)


class Asset(SQLModel, table=True):
    """Equipment installed at a customer's site: what technicians service, and what warranties and plans cover."""

    __tablename__ = "assets"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    product: str = Field(max_length=200)
    serial: str = Field(default="", max_length=120)
    address: str = Field(default="", max_length=500)
    lat: float
    lon: float
    installed_on: date | None = None
    # The last day work on it is covered; after that, labour and parts are charged.
    warranty_end: date | None = None
    # What its meter counts ("hours", "copies", "kWh"), empty when it has none.
    meter_unit: str = Field(default="", max_length=32)
    created_at: datetime = Field(sa_type=Instant)


class MeterReading(SQLModel, table=True):
    """One reading of an asset's meter, usually taken on a visit; preventive plans with a threshold read these."""

    __tablename__ = "meter_readings"
    __table_args__ = (sa.Index("ix_meter_readings_asset_read_at", "asset_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="assets.id")
    work_order_id: int | None = Field(default=None, foreign_key="work_orders.id", index=True)
    value: float
    read_at: datetime = Field(sa_type=Instant)
    actor: str = Field(default="", max_length=200)
