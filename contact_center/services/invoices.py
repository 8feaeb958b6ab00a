"""Issuing invoices for chargeable jobs and sending them to the customer, with the PDF, through the outbox.

``invoice_on_completion`` is called when a work order is completed, in the same transaction: a job on an asset
out of warranty gets an invoice (labour by job type, the parts the job consumed, tax) under the year's next number,
and an email with the PDF attached is stored in the outbox. Numbers have no gaps: the year's counter row is locked
and incremented in the transaction that stores the invoice, so a rolled-back issue gives its number back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contact_center.models import (
    OutboxAttachment,
    OutboxChannel,
    OutboxMessage,
)
from contact_center.services.field_contacts import work_order_contact
from contact_center.services.outbox import Outbound, do_enqueue
from field_service.invoice_rendering import InvoiceDocument, render_pdf
from field_service.invoicing import (
    PartUse,
    PriceList,
    bill,
    chargeable,
    format_cents,
    invoice_number,
    labour_minutes,
    load_price_list,
)
from field_service.models import Asset, MovementKind, Part, StockMovement, WorkOrderRecord, WorkOrderStatus
from field_service.operations import Invoice, InvoiceCounter
from field_service.worklog import WorkOrderEvent, WorkOrderEventKind

__all__ = ["invoice_document", "invoice_on_completion", "invoices_of_cases"]


async def invoice_on_completion(
    session: AsyncSession, order: WorkOrderRecord, now: datetime, *, prices: PriceList | None = None
) -> Invoice | None:
    """Issue and queue the invoice of a completed chargeable job; return it (the same one on every call).

    Returns None when the job is not chargeable: not completed, on no asset, or on one still under warranty.
    Labour is charged for the time on site (from the technician's arrival to ``now``, in the price list's blocks),
    or the planned duration when no arrival was recorded; ``prices`` defaults to the shipped price list (the
    app's, with the PRICE_LIST changes, is ``app[contact_center.web.api.invoices.PRICES]``).
    """
    if order.id is None or order.status is not WorkOrderStatus.COMPLETED or order.asset_id is None:
        return None
    existing = (await session.execute(select(Invoice).where(Invoice.work_order_id == order.id))).scalar_one_or_none()
    if existing is not None:
        return existing
    asset = await session.get(Asset, order.asset_id)
    completed_on = now.astimezone(UTC).date()
    if asset is None or not chargeable(asset.warranty_end, completed_on):
        return None
    prices = prices or _shipped_prices()
    minutes = labour_minutes(
        await _arrived_at(session, order.id), now, order.duration_minutes, prices.labour_increment_minutes
    )
    priced = bill(order.job_type, minutes, await _parts_used(session, order.code), prices)
    contact = await work_order_contact(session, order)
    email = contact.email if contact else None
    sequence = await _next_sequence(session, completed_on.year)
    invoice = Invoice(
        number=invoice_number(completed_on.year, sequence),
        year=completed_on.year,
        sequence=sequence,
        work_order_id=order.id,
        customer_id=contact.customer_id if contact else None,
        case_id=order.case_id,
        issuer="\n".join(part for part in (prices.issuer_name, prices.issuer_address) if part),
        bill_to=", ".join(part for part in (contact.name if contact else "", asset.address) if part),
        email=email,
        currency=priced.currency,
        lines=[line.to_json() for line in priced.lines],
        subtotal_cents=priced.subtotal_cents,
        tax_rate=str(priced.tax_rate),
        tax_cents=priced.tax_cents,
        total_cents=priced.total_cents,
        issued_on=completed_on,
        issued_at=now,
    )
    session.add(invoice)
    await session.flush()
    if email:
        message = await _queue_email(session, invoice, order.code, email, now)
        invoice.outbox_message_id = message.id
        await session.flush()
    return invoice


def invoice_document(invoice: Invoice, work_order: str) -> InvoiceDocument:
    """Return what the renderings print of a stored invoice."""
    name, _, address = invoice.issuer.partition("\n")
    return InvoiceDocument(
        number=invoice.number,
        issued_on=invoice.issued_on,
        work_order=work_order,
        bill_to=invoice.bill_to,
        currency=invoice.currency,
        lines=invoice.lines,
        subtotal_cents=invoice.subtotal_cents,
        tax_rate=invoice.tax_rate,
        tax_cents=invoice.tax_cents,
        total_cents=invoice.total_cents,
        issuer_name=name,
        issuer_address=address,
    )


async def invoices_of_cases(session: AsyncSession, case_ids: Sequence[int]) -> list[Invoice]:
    """Return the invoices issued on these cases' work orders, oldest first."""
    if not case_ids:
        return []
    rows = await session.execute(
        select(Invoice).where(col(Invoice.case_id).in_(list(case_ids))).order_by(col(Invoice.id))
    )
    return list(rows.scalars().all())


@functools.cache
def _shipped_prices() -> PriceList:
    return load_price_list()


async def _arrived_at(session: AsyncSession, work_order_id: int) -> datetime | None:
    """Return when the technician last arrived on site for the job (its last step to on site), if recorded."""
    steps = await session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == work_order_id, WorkOrderEvent.kind == WorkOrderEventKind.STATUS)
        .order_by(col(WorkOrderEvent.created_at).desc(), col(WorkOrderEvent.id).desc())
    )
    return next((step.created_at for step in steps if step.data.get("to") == WorkOrderStatus.ON_SITE.value), None)


async def _parts_used(session: AsyncSession, work_order: str) -> list[PartUse]:
    rows = await session.execute(
        select(Part.sku, Part.name, Part.unit_price_cents, func.sum(StockMovement.quantity))
        .join(Part, col(Part.id) == col(StockMovement.part_id))
        .where(StockMovement.work_order == work_order, StockMovement.kind == MovementKind.CONSUMPTION)
        .group_by(col(Part.sku), col(Part.name), col(Part.unit_price_cents))
    )
    return [PartUse(sku, name, int(units), price) for sku, name, price, units in rows.all()]


async def _next_sequence(session: AsyncSession, year: int) -> int:
    """Take the year's next invoice sequence number, holding the counter's lock until the transaction ends."""
    table = InvoiceCounter.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(table).values(year=year, last_sequence=0).on_conflict_do_nothing())
    counter = (
        await session.execute(
            select(InvoiceCounter)
            .where(InvoiceCounter.year == year)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    counter.last_sequence += 1
    await session.flush()
    return counter.last_sequence


async def _queue_email(
    session: AsyncSession, invoice: Invoice, work_order: str, email: str, now: datetime
) -> OutboxMessage:
    body = (
        f"Hello,\n\nplease find attached invoice {invoice.number} for work order {work_order}, completed on "
        f"{invoice.issued_on.isoformat()}: {invoice.currency} {format_cents(invoice.total_cents)} including tax.\n"
        "The equipment's warranty had ended before the visit, so labour and parts are charged.\n"
    )
    message = await do_enqueue(
        session,
        Outbound(OutboxChannel.EMAIL, email, body, subject=f"Invoice {invoice.number}", case_id=invoice.case_id),
        now,
    )
    pdf = render_pdf(invoice_document(invoice, work_order))
    session.add(
        OutboxAttachment(
            message_id=message.id or 0, filename=f"{invoice.number}.pdf", content_type="application/pdf", content=pdf
        )
    )
    await session.flush()
    return message
