"""Pricing chargeable jobs, invoice numbers, the price list and the HTML and PDF renderings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from field_service.invoice_rendering import InvoiceDocument, render_html, render_pdf
from field_service.invoicing import (
    PartUse,
    PriceListError,
    bill,
    chargeable,
    format_cents,
    invoice_number,
    labour_minutes,
    load_price_list,
)
from field_service.problem import JobType

PRICES = load_price_list()


def test_only_a_job_after_the_warranty_ended_is_chargeable() -> None:
    assert chargeable(date(2026, 3, 1), date(2026, 3, 2))
    assert not chargeable(date(2026, 3, 1), date(2026, 3, 1))
    assert not chargeable(None, date(2026, 3, 2))


def test_a_bill_prices_labour_by_job_type_and_parts_by_unit_with_tax() -> None:
    parts = [PartUse("VALVE", "Valve", 2, 1250), PartUse("FUSE", "Fuse", 3, 199)]
    priced = bill(JobType.REPAIR, 90, parts, PRICES)
    assert [(line.kind, line.quantity, line.unit_cents, line.amount_cents) for line in priced.lines] == [
        ("labour", Decimal("1.50"), 8500, 12750),
        ("part", Decimal(3), 199, 597),
        ("part", Decimal(2), 1250, 2500),
    ]
    assert priced.subtotal_cents == 12750 + 597 + 2500
    # 21 % of 158.47, rounded half up to the cent.
    assert priced.tax_cents == 3328
    assert priced.total_cents == priced.subtotal_cents + priced.tax_cents
    assert priced.currency == "EUR"


def test_labour_is_rounded_half_up_to_the_cent() -> None:
    # 7500 per hour for 7 minutes is 875.0 cents; for 1 minute 125 cents; 6500 for 1 minute is 108.33 -> 108.
    assert bill(JobType.PREVENTIVE_MAINTENANCE, 7, [], PRICES).lines[0].amount_cents == 875
    assert bill(JobType.INSPECTION, 1, [], PRICES).lines[0].amount_cents == 108
    assert bill(JobType.METER_READING, 2, [], PRICES).subtotal_cents == 150


def test_time_on_site_is_billed_in_started_blocks_and_planned_time_without_an_arrival() -> None:
    arrived = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert labour_minutes(arrived, arrived + timedelta(minutes=47), 90, 15) == 60
    assert labour_minutes(arrived, arrived + timedelta(minutes=45), 90, 15) == 45
    assert labour_minutes(arrived, arrived + timedelta(seconds=20), 90, 15) == 15
    assert labour_minutes(arrived, arrived + timedelta(minutes=61), 30, 30) == 90
    assert labour_minutes(None, arrived, 90, 15) == 90
    # A completion stamped before the arrival (clock trouble) falls back to the quote too.
    assert labour_minutes(arrived, arrived - timedelta(minutes=5), 90, 15) == 90


def test_invoice_numbers_and_amounts_are_formatted() -> None:
    assert invoice_number(2026, 42) == "INV-2026-000042"
    with pytest.raises(ValueError, match="start at 1"):
        invoice_number(2026, 0)
    assert format_cents(123456789) == "1,234,567.89"
    assert format_cents(5) == "0.05"


def test_a_price_list_override_replaces_keys_and_merges_rates(tmp_path: Path) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text('currency: gbp\ntax_rate: "0.2"\nlabour_cents_per_hour:\n  repair: 10000\n')
    prices = load_price_list(override)
    assert (prices.currency, prices.tax_rate) == ("GBP", Decimal("0.2"))
    assert prices.labour_cents_per_hour[JobType.REPAIR] == 10000
    assert prices.labour_cents_per_hour[JobType.INSTALLATION] == PRICES.labour_cents_per_hour[JobType.INSTALLATION]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('tax_rate: "lots"\n', "price list"),
        ('tax_rate: "1.5"\n', "fraction"),
        ("currency: euro\n", "three-letter"),
        ("labour_cents_per_hour:\n  repair: -1\n", "negative"),
        ("labour_cents_per_hour:\n  juggling: 1\n", "price list"),
        ("- a list\n", "mapping"),
    ],
)
def test_a_bad_price_list_is_refused(tmp_path: Path, text: str, message: str) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text(text)
    with pytest.raises(PriceListError, match=message):
        load_price_list(override)


def document(**changes: object) -> InvoiceDocument:
    priced = bill(JobType.REPAIR, 60, [PartUse("VALVE", "Valve <b>brass</b>", 1, 1250)], PRICES)
    values: dict[str, object] = {
        "number": "INV-2026-000007",
        "issued_on": date(2026, 3, 2),
        "work_order": "W-17",
        "bill_to": "Ann <script>alert(1)</script> Smith, 1 Canal St",
        "currency": priced.currency,
        "lines": [line.to_json() for line in priced.lines],
        "subtotal_cents": priced.subtotal_cents,
        "tax_rate": str(priced.tax_rate),
        "tax_cents": priced.tax_cents,
        "total_cents": priced.total_cents,
        "issuer_name": PRICES.issuer_name,
        "issuer_address": PRICES.issuer_address,
    }
    values.update(changes)
    return InvoiceDocument(**values)  # type: ignore[arg-type]


def test_the_html_invoice_shows_lines_and_totals_and_escapes_data() -> None:
    page = render_html(document())
    assert "INV-2026-000007" in page
    assert "Valve &lt;b&gt;brass&lt;/b&gt; (VALVE)" in page
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Tax 21 %" in page
    assert ">117.98<" in page  # (85.00 + 12.50) + 21 % tax of 20.475, rounded half up


def test_the_pdf_invoice_is_a_pdf_and_survives_text_outside_latin1() -> None:
    pdf = render_pdf(document(bill_to="王小明, 北京"))
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 1000
