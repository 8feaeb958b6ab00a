"""Tables of the back office around the jobs: preventive-maintenance plans, invoices, purchase and transfer requests.

Kept apart from ``field_service.models`` (the jobs, technicians and the stock ledger) because they record decisions
about that data: when an asset is next serviced, what a finished job cost the customer, what stock to order or
move. Uniqueness that matters under concurrency is a database constraint here, not a check in code: one invoice per
work order and gap-free numbers per year, one open purchase request per location and part (``open_key``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from field_service.models import Instant, _enum

__all__ = [
    "OPEN_PURCHASE_STATUSES",
    "Invoice",
    "InvoiceCounter",
    "MaintenancePlan",
    "PurchaseRequest",
    "PurchaseStatus",
    "TransferRequest",
    "TransferStatus",
]


class MaintenancePlan(SQLModel, table=True):
    """Service an asset every ``interval_days`` days, or every ``meter_interval`` units of its meter."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (
        sa.CheckConstraint(
            "(interval_days IS NULL) <> (meter_interval IS NULL)", name="ck_maintenance_plans_one_trigger"
        ),
        sa.CheckConstraint("interval_days IS NULL OR interval_days > 0", name="ck_maintenance_plans_interval_days"),
        sa.CheckConstraint("meter_interval IS NULL OR meter_interval > 0", name="ck_maintenance_plans_meter_interval"),
        sa.CheckConstraint("lead_days >= 0 AND window_days >= 0", name="ck_maintenance_plans_lead_window"),
        sa.CheckConstraint("duration_minutes > 0", name="ck_maintenance_plans_duration"),
    )

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="assets.id", index=True)
    name: str = Field(max_length=200)
    interval_days: int | None = None
    meter_interval: float | None = None
    # Work orders are created this many days before the due date, with a window of +/- window_days around it.
    lead_days: int = 14
    window_days: int = 3
    duration_minutes: int = 60
    required_skills: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    # {sku: quantity}
    parts: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    priority: int = 3
    active: bool = True
    # The last service (or the plan's start): the next due date counts from here.
    last_service_on: date
    last_service_meter: float | None = None
    # The plan's open work order, if any: a plan has at most one at a time.
    open_work_order_id: int | None = Field(default=None, foreign_key="work_orders.id")
    open_due_on: date | None = None
    created_at: datetime = Field(sa_type=Instant)
    updated_at: datetime = Field(sa_type=Instant)


class InvoiceCounter(SQLModel, table=True):
    """The last invoice number of a year, locked while the next one is issued so numbers have no gaps."""

    __tablename__ = "invoice_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_sequence: int = 0


class Invoice(SQLModel, table=True):
    """A chargeable job's invoice, frozen at issue: its lines and totals are stored, never recomputed."""

    __tablename__ = "invoices"
    __table_args__ = (sa.UniqueConstraint("year", "sequence", name="uq_invoices_year_sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    year: int
    sequence: int
    work_order_id: int = Field(foreign_key="work_orders.id", unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    # Who issued it and to whom, as printed ("name\naddress").
    issuer: str = Field(default="", max_length=500)
    bill_to: str = Field(default="", max_length=500)
    email: str | None = Field(default=None, max_length=320)
    currency: str = Field(max_length=3)
    # [{"kind": "labour"|"part", "description", "quantity", "unit_cents", "amount_cents"}]
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    subtotal_cents: int
    tax_rate: str = Field(max_length=16)
    tax_cents: int
    total_cents: int
    issued_on: date
    issued_at: datetime = Field(sa_type=Instant)
    outbox_message_id: int | None = Field(default=None, foreign_key="outbox.id")


class PurchaseStatus(enum.StrEnum):
    """Where a purchase request stands."""

    OPEN = "open"
    APPROVED = "approved"
    RECEIVED = "received"
    CANCELLED = "cancelled"


OPEN_PURCHASE_STATUSES = (PurchaseStatus.OPEN, PurchaseStatus.APPROVED)


class PurchaseRequest(SQLModel, table=True):
    """Stock to order for one location: raised by a reorder alert or by hand, approved, then received."""

    __tablename__ = "purchase_requests"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="ck_purchase_requests_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="stock_locations.id", index=True)
    part_id: int = Field(foreign_key="parts.id", index=True)
    quantity: int
    status: PurchaseStatus = Field(default=PurchaseStatus.OPEN, sa_type=_enum(PurchaseStatus))
    # "<location id>:<part id>" while open or approved, NULL once closed: the one open request per pair.
    open_key: str | None = Field(default=None, max_length=64, unique=True)
    reason: str = Field(default="", max_length=200)
    actor: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=Instant)
    updated_at: datetime = Field(sa_type=Instant)


class TransferStatus(enum.StrEnum):
    """Where a transfer request stands."""

    REQUESTED = "requested"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class TransferRequest(SQLModel, table=True):
    """A part asked for a work order from another location; the units are held at the source until shipped."""

    __tablename__ = "transfer_requests"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="ck_transfer_requests_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="work_orders.id", index=True)
    part_id: int = Field(foreign_key="parts.id")
    quantity: int
    from_location_id: int = Field(foreign_key="stock_locations.id")
    to_location_id: int = Field(foreign_key="stock_locations.id")
    status: TransferStatus = Field(default=TransferStatus.REQUESTED, sa_type=_enum(TransferStatus))
    requested_by: str = Field(default="", max_length=200)
    shipped_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=Instant)
    updated_at: datetime = Field(sa_type=Instant)
