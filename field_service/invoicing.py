"""What a finished job costs the customer: whether it is chargeable, its lines, tax and totals, its number.

Pure: plain data in, integer cents out. Labour is priced per hour by job type from a price list (a shipped YAML
file, overridable), parts at their catalogue price per unit consumed. Amounts are rounded half up to the cent once
per line and once for the tax, so the printed lines always add up to the printed totals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from field_service.problem import JobType

__all__ = [
    "SHIPPED_PRICE_LIST",
    "Bill",
    "BillLine",
    "PartUse",
    "PriceList",
    "PriceListError",
    "bill",
    "chargeable",
    "format_cents",
    "invoice_number",
    "labour_minutes",
    "load_price_list",
]

SHIPPED_PRICE_LIST = Path(__file__).with_name("price_list.yaml")


class PriceListError(ValueError):
    """A price list that cannot be used: a missing rate, a negative price, a tax rate that is not a number."""


@dataclass(frozen=True)
class PriceList:
    """Labour rates per job type and hour, the currency, the tax rate and who issues the invoices."""

    currency: str
    tax_rate: Decimal
    labour_cents_per_hour: Mapping[JobType, int]
    issuer_name: str = ""
    issuer_address: str = ""
    # Time on site is billed in started blocks of this many minutes.
    labour_increment_minutes: int = 15

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriceList:
        """Read a price list from parsed YAML, refusing anything unusable."""
        try:
            rates = {JobType(kind): int(cents) for kind, cents in dict(data["labour_cents_per_hour"]).items()}
            tax_rate = Decimal(str(data["tax_rate"]))
            currency = str(data["currency"]).upper()
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise PriceListError(f"price list: {exc}") from None
        missing = sorted(kind.value for kind in JobType if kind not in rates)
        if missing:
            raise PriceListError(f"price list: no labour rate for {', '.join(missing)}")
        if any(cents < 0 for cents in rates.values()):
            raise PriceListError("price list: a labour rate is negative")
        if not (Decimal(0) <= tax_rate < Decimal(1)):
            raise PriceListError("price list: tax_rate must be a fraction between 0 and 1, e.g. 0.21")
        if len(currency) != 3 or not currency.isalpha():
            raise PriceListError(f"price list: currency {currency!r} is not a three-letter code")
        try:
            increment = int(data.get("labour_increment_minutes", 15))
        except (TypeError, ValueError):
            raise PriceListError("price list: labour_increment_minutes must be a whole number of minutes") from None
        if not 1 <= increment <= 480:
            raise PriceListError("price list: labour_increment_minutes must be between 1 and 480")
        issuer = dict(data.get("issuer") or {})
        return cls(currency, tax_rate, rates, str(issuer.get("name", "")), str(issuer.get("address", "")), increment)


def load_price_list(override: Path | None = None) -> PriceList:
    """Return the shipped price list, with the keys of ``override`` (a YAML file) replacing its own."""
    data: dict[str, Any] = yaml.safe_load(SHIPPED_PRICE_LIST.read_text(encoding="utf-8"))
    if override is not None:
        try:
            extra = yaml.safe_load(override.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PriceListError(f"price list {override}: {exc}") from None
        if not isinstance(extra, dict):
            raise PriceListError(f"price list {override}: expected a mapping")
        labour = {**data["labour_cents_per_hour"], **(extra.pop("labour_cents_per_hour", None) or {})}
        data = {**data, **extra, "labour_cents_per_hour": labour}
    return PriceList.from_mapping(data)


@dataclass(frozen=True)
class PartUse:
    """Units of one part consumed by the job, at its catalogue price."""

    sku: str
    name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class BillLine:
    """One line of an invoice; ``quantity`` is hours for labour, units for parts."""

    kind: str
    description: str
    quantity: Decimal
    unit_cents: int
    amount_cents: int

    def to_json(self) -> dict[str, Any]:
        """Return the line as stored with the invoice."""
        return {
            "kind": self.kind,
            "description": self.description,
            "quantity": str(self.quantity),
            "unit_cents": self.unit_cents,
            "amount_cents": self.amount_cents,
        }


@dataclass(frozen=True)
class Bill:
    """The lines and totals of one invoice."""

    currency: str
    lines: tuple[BillLine, ...]
    subtotal_cents: int
    tax_rate: Decimal
    tax_cents: int
    total_cents: int


def chargeable(warranty_end: date | None, completed_on: date) -> bool:
    """Say whether a job on an asset is charged: its warranty ended before the day the job was completed.

    An asset with no recorded warranty end is treated as covered: nobody is billed on missing data.
    """
    return warranty_end is not None and warranty_end < completed_on


def labour_minutes(arrived: datetime | None, completed: datetime, planned: int, increment: int) -> int:
    """Return the minutes to bill: the time on site rounded up to started blocks of ``increment`` minutes.

    A job with no recorded arrival (completed by the dispatcher, or from before arrivals were recorded) is billed
    for its planned duration: nobody is charged on missing data beyond what they were quoted.
    """
    if arrived is None or completed < arrived:
        return planned
    on_site = (completed - arrived).total_seconds() / 60
    return max(1, math.ceil(on_site / increment)) * increment


def bill(job_type: JobType, minutes: int, parts: Sequence[PartUse], prices: PriceList) -> Bill:
    """Price a job: labour for ``minutes`` on site at the job type's hourly rate, then each part used."""
    if minutes < 0 or any(p.quantity < 1 or p.unit_price_cents < 0 for p in parts):
        raise PriceListError("minutes, part quantities and prices must not be negative")
    rate = prices.labour_cents_per_hour[job_type]
    hours = Decimal(minutes) / Decimal(60)
    lines = [
        BillLine(
            "labour",
            f"Labour: {job_type.value.replace('_', ' ')}",
            hours.quantize(Decimal("0.01"), ROUND_HALF_UP),
            rate,
            _cents(Decimal(rate) * hours),
        )
    ]
    for part in sorted(parts, key=lambda p: p.sku):
        lines.append(
            BillLine(
                "part",
                f"{part.name} ({part.sku})",
                Decimal(part.quantity),
                part.unit_price_cents,
                part.unit_price_cents * part.quantity,
            )
        )
    subtotal = sum(line.amount_cents for line in lines)
    tax = _cents(Decimal(subtotal) * prices.tax_rate)
    return Bill(prices.currency, tuple(lines), subtotal, prices.tax_rate, tax, subtotal + tax)


def invoice_number(year: int, sequence: int) -> str:
    """Return the invoice number of the year's ``sequence``-th invoice, e.g. INV-2026-000042."""
    if sequence < 1:
        raise ValueError("invoice sequences start at 1")
    return f"INV-{year:04d}-{sequence:06d}"


def format_cents(cents: int) -> str:
    """Return an amount in cents as 1,234.56."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{rest:02d}"


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), ROUND_HALF_UP))
