"""Invoices of chargeable jobs: issued once with gap-free numbers, queued with the PDF, shown to staff and owner."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlmodel import select

from contact_center.models import OutboxAttachment, OutboxMessage
from contact_center.services.invoices import invoice_on_completion
from field_service.models import WorkOrderStatus
from field_service.operations import Invoice
from field_service.worklog import WorkOrderEvent, WorkOrderEventKind
from tests.field_service.fieldops import completed_repair


async def test_a_chargeable_job_gets_one_invoice_and_an_email_with_the_pdf(database, clock) -> None:
    async with database.transaction() as session:
        job = await completed_repair(session, clock.now())
        invoice = await invoice_on_completion(session, job.order, clock.now())
        assert invoice is not None
        again = await invoice_on_completion(session, job.order, clock.now())
    assert again is not None
    assert again.id == invoice.id
    assert invoice.number == "INV-2026-000001"
    assert [(line["kind"], line["quantity"], line["amount_cents"]) for line in invoice.lines] == [
        ("labour", "1.50", 12750),
        ("part", "2", 2500),
    ]
    assert (invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents) == (15250, 3203, 18453)
    assert (invoice.customer_id, invoice.case_id, invoice.email) == (
        job.customer_id,
        job.case_id,
        "w-boiler@example.org",
    )
    assert invoice.bill_to == "Ann Boiler, 1 Canal St"
    async with database.transaction() as session:
        [message] = (await session.execute(select(OutboxMessage))).scalars().all()
        [attachment] = (await session.execute(select(OutboxAttachment))).scalars().all()
    assert invoice.outbox_message_id == message.id
    assert (message.to_address, message.subject, message.case_id) == (
        "w-boiler@example.org",
        "Invoice INV-2026-000001",
        job.case_id,
    )
    assert "EUR 184.53" in message.body
    assert (attachment.message_id, attachment.filename) == (message.id, "INV-2026-000001.pdf")
    assert attachment.content.startswith(b"%PDF-")


async def test_labour_is_the_time_on_site_when_the_arrival_was_recorded(database, clock) -> None:
    async with database.transaction() as session:
        job = await completed_repair(session, clock.now())
        for minutes_ago, to in ((70, "en_route"), (47, "on_site"), (0, "completed")):
            session.add(
                WorkOrderEvent(
                    work_order_id=job.order.id or 0,
                    kind=WorkOrderEventKind.STATUS,
                    data={"to": to},
                    created_at=clock.now() - timedelta(minutes=minutes_ago),
                )
            )
        invoice = await invoice_on_completion(session, job.order, clock.now())
    assert invoice is not None
    # 47 minutes on site, billed as four started quarters; the 90 planned minutes are not charged.
    labour = invoice.lines[0]
    assert (labour["kind"], labour["quantity"], labour["amount_cents"]) == ("labour", "1.00", 8500)


async def test_jobs_under_warranty_or_not_completed_are_not_invoiced(database, clock) -> None:
    async with database.transaction() as session:
        covered = await completed_repair(session, clock.now(), warranty_end=date(2026, 11, 23), code="W-1")
        assert await invoice_on_completion(session, covered.order, clock.now()) is None
        unknown = await completed_repair(session, clock.now(), warranty_end=None, code="W-2", name="Bo")
        assert await invoice_on_completion(session, unknown.order, clock.now()) is None
        failed = await completed_repair(session, clock.now(), code="W-3", name="Cy")
        failed.order.status = WorkOrderStatus.CANNOT_COMPLETE
        assert await invoice_on_completion(session, failed.order, clock.now()) is None
        failed.order.asset_id = None
        failed.order.status = WorkOrderStatus.COMPLETED
        assert await invoice_on_completion(session, failed.order, clock.now()) is None
        assert (await session.execute(select(Invoice))).first() is None


async def test_a_customer_without_email_is_invoiced_without_a_message(database, clock) -> None:
    async with database.transaction() as session:
        job = await completed_repair(session, clock.now(), email=None)
        invoice = await invoice_on_completion(session, job.order, clock.now())
        assert invoice is not None
        assert invoice.outbox_message_id is None
        assert (await session.execute(select(OutboxMessage))).first() is None


async def test_numbers_have_no_gaps_even_when_an_issue_rolls_back_or_runs_in_parallel(database, clock) -> None:
    async with database.transaction() as session:
        jobs = [await completed_repair(session, clock.now(), code=f"W-{n}", name=f"C{n}") for n in range(6)]

    class Undo(Exception):
        pass

    try:
        async with database.transaction() as session:
            await invoice_on_completion(session, jobs[0].order, clock.now())
            raise Undo
    except Undo:
        pass

    async def issue(n: int) -> str:
        async with database.transaction() as session:
            invoice = await invoice_on_completion(session, jobs[n].order, clock.now())
            assert invoice is not None
            await asyncio.sleep(0.01)
            return invoice.number

    numbers = await asyncio.gather(*(issue(n) for n in range(6)))
    assert sorted(numbers) == [f"INV-2026-{n:06d}" for n in range(1, 7)]


async def issued(database, clock):
    async with database.transaction() as session:
        job = await completed_repair(session, clock.now())
        invoice = await invoice_on_completion(session, job.order, clock.now())
    assert invoice is not None
    return job, invoice


async def test_staff_list_and_open_invoices_as_json_html_and_pdf(database, clock, login) -> None:
    _, invoice = await issued(database, clock)
    bob = await login("bob")
    [listed] = await bob.get("/api/v1/invoices", expect=200)
    assert (listed["number"], listed["work_order"], listed["total_cents"]) == (invoice.number, "W-BOILER", 18453)
    assert await bob.get("/api/v1/invoices?year=2025", expect=200) == []
    one = await bob.get(f"/api/v1/invoices/{invoice.number}", expect=200)
    assert one["lines"][1]["description"] == "Valve (VALVE)"
    page = await bob.client.get(f"/api/v1/invoices/{invoice.number}.html")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "184.53" in await page.text()
    pdf = await bob.client.get(f"/api/v1/invoices/{invoice.number}.pdf")
    assert (pdf.status, pdf.content_type) == (200, "application/pdf")
    assert (await pdf.read()).startswith(b"%PDF-")
    missing = await bob.get("/api/v1/invoices/INV-2026-000099", expect=404)
    assert missing["error"]["code"] == "not_found"
    await (await login("tess")).get("/api/v1/invoices", expect=403)


async def test_the_price_list_file_overrides_the_shipped_one_and_a_bad_one_stops_start_up(
    database, clock, settings, tmp_path
) -> None:
    from dataclasses import replace

    import pytest

    from contact_center.settings import ConfigError
    from contact_center.web.api.invoices import PRICES
    from contact_center.web.app import create_app

    override = tmp_path / "prices.yaml"
    override.write_text("currency: GBP\nlabour_cents_per_hour:\n  repair: 6000\n")
    app = create_app(replace(settings, price_list=override), database=database, clock=clock)
    async with database.transaction() as session:
        job = await completed_repair(session, clock.now())
        invoice = await invoice_on_completion(session, job.order, clock.now(), prices=app[PRICES])
    assert invoice is not None
    assert (invoice.currency, invoice.lines[0]["amount_cents"]) == ("GBP", 9000)
    override.write_text('tax_rate: "2"\n')
    with pytest.raises(ConfigError, match="PRICE_LIST"):
        create_app(replace(settings, price_list=override), database=database, clock=clock)
