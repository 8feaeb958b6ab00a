"""A signed-in customer's cases: only their own (404 otherwise), replies with files, close and reopen, new cases
routed like any contact, deflection, and the satisfaction survey in the supervisor report."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import FormData
from sqlmodel import select

from contact_center.actors import Actor
from contact_center.models import ActorKind, Case, CaseEvent, CaseStatus, Channel, Contact, EventKind
from contact_center.services.cases import NewCase, do_change_status, do_create_case, do_record_message, get_case
from tests.field_service.visits import add_visits
from tests.knowledge_base.articles import publish_fixtures

AGENT = Actor(ActorKind.USER, 1, "Bob")


async def open_case(database, clock, customer_id: int, subject: str) -> str:
    async with database.transaction() as session:
        case = await do_create_case(
            session, NewCase(customer_id=customer_id, subject=subject, channel=Channel.EMAIL), AGENT, clock.now()
        )
        await do_record_message(
            session, case, inbound=True, body=f"{subject}, please help", actor=AGENT, now=clock.now()
        )
        await do_add_internal_note(session, case, clock)
        return case.number


async def do_add_internal_note(session, case, clock) -> None:
    from contact_center.services.cases import do_add_note

    await do_add_note(session, case, "Customer sounds annoyed; VIP?", AGENT, clock.now())


async def events(database, number: str) -> list[CaseEvent]:
    async with database.transaction() as session:
        case = await get_case(session, number)
        return list((await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))).all())


async def test_another_customers_case_is_not_found_for_every_action(portal, database, clock, customers):
    carls = await open_case(database, clock, customers["carl"], "Carl's invoice")
    ann = await portal("ann@example.org")
    before = len(await events(database, carls))
    page = await ann.page(f"/portal/cases/{carls}", status=404)
    assert "Carl" not in page
    missing = await ann.page("/portal/cases/CS-999999", status=404)
    assert "You have no case with this number" in page
    assert page.replace(carls, "") == missing.replace("CS-999999", "")  # the same answer as for no case at all
    await ann.page("/portal/cases/not-a-number", status=404)
    for action in ("reply", "close", "reopen", "survey"):
        await ann.post(f"/portal/cases/{carls}/{action}", {"body": "mine now", "score": "5"}, status=404)
    assert len(await events(database, carls)) == before
    assert carls not in await ann.page("/portal")


async def test_timeline_shows_public_messages_only_and_replies_carry_files(portal, database, clock, customers):
    number = await open_case(database, clock, customers["ann"], "Printer offline")
    ann = await portal("ann@example.org")
    page = await ann.page(f"/portal/cases/{number}")
    assert "Printer offline, please help" in page
    assert "VIP?" not in page

    form = FormData()
    form.add_field("csrf_token", ann.csrf)
    form.add_field("body", "Here is a photo of the screen.")
    form.add_field("file", b"\x89PNG fake image bytes", filename="screen.png", content_type="image/png")
    response = await ann.client.post(f"/portal/cases/{number}/reply", data=form, allow_redirects=False)
    assert response.status == 303
    page = await ann.page(f"/portal/cases/{number}")
    assert "Here is a photo of the screen." in page
    link = re.search(rf"/portal/cases/{number}/files/\d+", page).group()
    download = await ann.client.get(link)
    assert download.status == 200
    assert await download.read() == b"\x89PNG fake image bytes"
    assert download.headers["Content-Disposition"].startswith("attachment;")

    carl = await portal("carl@example.org")
    await carl.page(link, status=404)
    reply = [e for e in await events(database, number) if e.kind is EventKind.MESSAGE_IN][-1]
    assert reply.public
    assert reply.actor_kind is ActorKind.CUSTOMER
    assert reply.data["attachment"] == "screen.png"


async def test_close_reopen_and_the_survey_in_the_supervisor_report(portal, database, clock, customers, login):
    number = await open_case(database, clock, customers["ann"], "Router")
    ann = await portal("ann@example.org")
    await ann.page(f"/portal/cases/{number}")
    await ann.post(f"/portal/cases/{number}/survey", {"score": "5"}, status=409)  # not resolved yet
    await ann.post(f"/portal/cases/{number}/close")
    await ann.page(f"/portal/cases/{number}")
    await ann.post(f"/portal/cases/{number}/reopen")
    async with database.transaction() as session:
        case = await get_case(session, number, for_update=True)
        assert case.status is CaseStatus.OPEN
        await do_record_message(session, case, inbound=False, body="Fixed on our side.", actor=AGENT, now=clock.now())
        await do_change_status(session, case, CaseStatus.RESOLVED, AGENT, clock.now())
    page = await ann.page(f"/portal/cases/{number}")
    assert "Fixed on our side." in page
    assert "How satisfied are you" in page
    await ann.post(f"/portal/cases/{number}/survey", {"score": "4", "comment": "quick"})
    await ann.post(f"/portal/cases/{number}/survey", {"score": "1"}, status=409)  # once per case
    assert "Thank you for your answer." in await ann.page(f"/portal/cases/{number}")

    sam, bob = await login("sam"), await login("bob")
    report = await sam.get("/api/v1/reports/portal", expect=200)
    assert (report["responses"], report["average_score"], report["satisfied_share"]) == (1, 4.0, 1.0)
    assert report["scores"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    await bob.get("/api/v1/reports/portal", expect=403)


async def test_a_new_case_is_a_routed_web_contact_and_deflection_is_counted(portal, database, clock, login):
    async with database.transaction() as session:
        await publish_fixtures(session, clock.now())
    ann = await portal("ann@example.org")
    suggestions = await ann.client.get("/api/v1/kb/suggest", params={"text": "invoice download", "language": "en"})
    assert (await suggestions.json())[0]["slug"] == "download-invoice"

    # First form: an article opened, nothing submitted -> deflected.
    first = await ann.page("/portal/new")
    draft = re.search(r'name="draft" value="([^"]+)"', first).group(1)
    await ann.page(f"/kb/download-invoice?draft={draft}&back=/portal")
    # Second form: submitted -> a case, routed like any contact.
    second = await ann.page("/portal/new")
    draft = re.search(r'name="draft" value="([^"]+)"', second).group(1)
    response = await ann.post(
        "/portal/new",
        {"draft": draft, "subject": "打印机脱机", "body": "一直显示脱机", "category": "devices", "language": "zh"},
    )
    number = response.headers["Location"].rsplit("/", 1)[1]
    again = await ann.post(  # a double click submits the same form twice: still one case
        "/portal/new", {"draft": draft, "subject": "打印机脱机", "body": "一直显示脱机", "language": "zh"}
    )
    assert again.headers["Location"].endswith(number)
    async with database.transaction() as session:
        case = await get_case(session, number)
        contacts = list((await session.scalars(select(Contact).where(Contact.case_id == case.id))).all())
        cases = list((await session.scalars(select(Case).where(Case.customer_id == case.customer_id))).all())
    assert (case.channel, case.language, case.category) == (Channel.WEB, "zh", "devices")
    assert len(contacts) == 1
    assert len(cases) == 1
    sam = await login("sam")
    report = await sam.get("/api/v1/reports/portal", expect=200)
    assert (report["drafts"], report["deflected"], report["cases_from_portal"]) == (2, 0, 1)  # may still submit
    clock.advance(timedelta(minutes=31))
    report = await sam.get("/api/v1/reports/portal", expect=200)
    assert (report["drafts"], report["deflected"], report["cases_from_portal"]) == (2, 1, 1)
    await ann.post("/portal/new", {"draft": draft, "subject": "x", "body": "y"}, status=303, csrf=True)
    await ann.post("/portal/new", {"draft": draft, "subject": "x", "body": "y"}, status=403, csrf=False)


async def test_a_case_shows_its_technician_visits_with_the_first_name_only(portal, database, clock, customers):
    number = await open_case(database, clock, customers["ann"], "Boiler broken")
    async with database.transaction() as session:
        case = await get_case(session, number)
        await add_visits(session, case.id, clock.now())
    ann = await portal("ann@example.org")
    page = await ann.page(f"/portal/cases/{number}")
    assert "Technician visit" in page
    assert "On the way" in page
    assert "Being planned" in page
    assert "technician Ada" in page
    assert "Lovelace" not in page


async def test_a_customer_opens_their_invoice_from_the_case_page_and_nobody_else_can(
    portal, database, clock, customers
):
    from contact_center.services.invoices import invoice_on_completion
    from tests.field_service.fieldops import completed_repair

    async with database.transaction() as session:
        job = await completed_repair(session, clock.now(), customer_id=customers["ann"])
        invoice = await invoice_on_completion(session, job.order, clock.now())
    assert invoice is not None
    ann = await portal("ann@example.org")
    page = await ann.page(f"/portal/cases/{job.case_number}")
    assert f'href="/portal/invoices/{invoice.number}.html"' in page
    assert "EUR 184.53" in page
    html = await ann.page(f"/portal/invoices/{invoice.number}.html")
    assert "Valve (VALVE)" in html
    pdf = await ann.client.get(f"/portal/invoices/{invoice.number}.pdf")
    assert pdf.status == 200
    assert (await pdf.read()).startswith(b"%PDF-")
    carl = await portal("carl@example.org")
    await carl.page(f"/portal/invoices/{invoice.number}.pdf", status=404)
    await carl.page("/portal/invoices/INV-2026-000042.html", status=404)
