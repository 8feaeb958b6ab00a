"""Invoices of chargeable jobs over HTTP, for staff: the list, one as JSON, and its HTML and PDF renderings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.errors import NotFound
from contact_center.services.invoices import invoice_document
from contact_center.settings import ConfigError, Settings
from contact_center.web.api.params import Out, Page
from contact_center.web.auth import AGENTS
from contact_center.web.keys import DATABASE
from contact_center.web.router import ApiRouter
from field_service.invoice_rendering import render_html, render_pdf
from field_service.invoicing import PriceList, PriceListError, load_price_list
from field_service.models import WorkOrderRecord
from field_service.operations import Invoice

__all__ = ["PRICES", "find_invoice", "invoice_file", "price_list", "router"]

router = ApiRouter("invoices")
#: The price list new invoices are issued with: pass it to ``invoice_on_completion(..., prices=app[PRICES])``.
PRICES = web.AppKey("price_list", PriceList)


def price_list(settings: Settings) -> PriceList:
    """Return the shipped price list with the PRICE_LIST file's changes; a bad file stops start-up."""
    try:
        return load_price_list(settings.price_list)
    except PriceListError as exc:
        raise ConfigError(f"PRICE_LIST: {exc}") from None


class InvoiceLineOut(BaseModel):
    kind: str
    description: str
    quantity: str
    unit_cents: int
    amount_cents: int


class InvoiceOut(Out):
    number: str
    work_order: str
    customer_id: int | None
    case_id: int | None
    bill_to: str
    email: str | None
    currency: str
    lines: list[InvoiceLineOut]
    subtotal_cents: int
    tax_rate: str
    tax_cents: int
    total_cents: int
    issued_on: date
    issued_at: datetime


class InvoiceQuery(Page):
    model_config = ConfigDict(extra="forbid")

    year: int | None = Field(default=None, ge=2000, le=9999)
    customer_id: int | None = None


async def find_invoice(session: AsyncSession, number: str) -> tuple[Invoice, str]:
    """Return an invoice by number with its work order's code."""
    row = (
        await session.execute(
            select(Invoice, WorkOrderRecord.code)
            .join(WorkOrderRecord, col(WorkOrderRecord.id) == col(Invoice.work_order_id))
            .where(Invoice.number == number)
        )
    ).first()
    if row is None:
        raise NotFound(f"invoice {number} does not exist", resource="invoice")
    return row[0], row[1]


def invoice_file(invoice: Invoice, work_order: str, kind: str) -> web.Response:
    """Return an invoice rendered as ``html`` (shown) or ``pdf`` (downloaded)."""
    document = invoice_document(invoice, work_order)
    if kind == "html":
        return web.Response(text=render_html(document), content_type="text/html")
    return web.Response(
        body=render_pdf(document),
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'},
    )


def _out(invoice: Invoice, work_order: str) -> dict[str, Any]:
    return {**invoice.model_dump(), "work_order": work_order}


@router.route(
    "GET",
    "/api/v1/invoices",
    summary="List invoices, newest first",
    roles=AGENTS,
    query=InvoiceQuery,
    response=list[InvoiceOut],
)
async def list_invoices(request: web.Request, query: InvoiceQuery) -> Any:
    statement = select(Invoice, WorkOrderRecord.code).join(
        WorkOrderRecord, col(WorkOrderRecord.id) == col(Invoice.work_order_id)
    )
    if query.year is not None:
        statement = statement.where(Invoice.year == query.year)
    if query.customer_id is not None:
        statement = statement.where(Invoice.customer_id == query.customer_id)
    async with request.app[DATABASE].transaction() as session:
        rows = await session.execute(statement.order_by(col(Invoice.id).desc()).limit(query.limit).offset(query.offset))
        return [_out(invoice, code) for invoice, code in rows.all()]


# The renderings come first: aiohttp matches routes in order, and {number} alone would swallow "X.pdf".
@router.route("GET", "/api/v1/invoices/{number}.html", summary="An invoice as a web page", roles=AGENTS)
async def invoice_html(request: web.Request) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        invoice, work_order = await find_invoice(session, request.match_info["number"])
    return invoice_file(invoice, work_order, "html")


@router.route("GET", "/api/v1/invoices/{number}.pdf", summary="An invoice as a PDF", roles=AGENTS)
async def invoice_pdf(request: web.Request) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        invoice, work_order = await find_invoice(session, request.match_info["number"])
    return invoice_file(invoice, work_order, "pdf")


@router.route("GET", "/api/v1/invoices/{number}", summary="An invoice", roles=AGENTS, response=InvoiceOut)
async def get_invoice(request: web.Request) -> Any:
    async with request.app[DATABASE].transaction() as session:
        invoice, work_order = await find_invoice(session, request.match_info["number"])
    return _out(invoice, work_order)
