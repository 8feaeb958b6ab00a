"""An issued invoice as a web page and as a PDF: pure functions of the stored invoice, no I/O.

The HTML comes from a shipped template rendered in Jinja2's sandbox with autoescaping on, so a customer's name
or a part's description can never inject markup. The PDF is drawn with fpdf2 (pure Python) in its built-in
Helvetica, which covers Latin-1 only: other characters are printed as "?" rather than failing the invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from fpdf import FPDF
from jinja2.sandbox import SandboxedEnvironment

from field_service.invoicing import format_cents

__all__ = ["InvoiceDocument", "render_html", "render_pdf"]

_TEMPLATES = Path(__file__).with_name("templates")
_ENVIRONMENT = SandboxedEnvironment(
    loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything printed on an invoice."""

    number: str
    issued_on: date
    work_order: str
    bill_to: str
    currency: str
    lines: Sequence[dict[str, Any]]
    subtotal_cents: int
    tax_rate: str
    tax_cents: int
    total_cents: int
    issuer_name: str = ""
    issuer_address: str = ""

    @property
    def tax_percent(self) -> str:
        """Return the tax rate as a percentage without trailing zeros, e.g. 21 or 9.5."""
        percent = Decimal(self.tax_rate) * 100
        return f"{percent.normalize():f}"


def render_html(invoice: InvoiceDocument) -> str:
    """Return the invoice as an HTML page."""
    return _ENVIRONMENT.get_template("invoice.html").render(invoice=invoice, money=format_cents)


def render_pdf(invoice: InvoiceDocument) -> bytes:
    """Return the invoice as a one-file PDF (A4)."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_creator(invoice.issuer_name or "Contact Center")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(f"Invoice {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for text in (invoice.issuer_name, invoice.issuer_address, ""):
        pdf.cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    for label, value in (
        ("Issued", invoice.issued_on.isoformat()),
        ("Work order", invoice.work_order),
        ("Bill to", invoice.bill_to),
    ):
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(30, 6, label)
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (95, 25, 30, 30)
    pdf.set_font("Helvetica", "B", 10)
    for width, heading in zip(widths, ("Description", "Quantity", "Unit", "Amount"), strict=True):
        pdf.cell(width, 7, heading, border="B", align="L" if heading == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines:
        quantity = f"{line['quantity']} h" if line["kind"] == "labour" else str(line["quantity"])
        cells = (line["description"], quantity, format_cents(line["unit_cents"]), format_cents(line["amount_cents"]))
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, _latin1(str(text)), align="L" if width == widths[0] else "R")
        pdf.ln()
    pdf.ln(2)
    for label, cents, style in (
        ("Subtotal", invoice.subtotal_cents, ""),
        (f"Tax {invoice.tax_percent} %", invoice.tax_cents, ""),
        (f"Total {invoice.currency}", invoice.total_cents, "B"),
    ):
        pdf.set_font("Helvetica", style, 10)
        pdf.cell(sum(widths[:3]), 6, label, align="R")
        pdf.cell(widths[3], 6, format_cents(cents), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")
