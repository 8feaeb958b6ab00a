"""A customer's whole journey in Debian's chromium at phone size: emailed link (captured by a real aiosmtpd server),
a new case with a suggestion appearing while typing, a reply, the agent's answer; another customer's case is 404;
a reused or expired link gets a page that says so."""

from __future__ import annotations

import asyncio
import email
import re
import socket
from dataclasses import replace
from datetime import timedelta
from email import policy

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from contact_center.actors import Actor
from contact_center.models import ActorKind, CaseStatus, Channel, IdentityKind
from contact_center.services.cases import NewCase, do_change_status, do_create_case, do_record_message, get_case
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from contact_center.web.app import create_app
from tests.knowledge_base.articles import publish_fixtures

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/portal/signin/[A-Za-z0-9_\-]+)")


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append((envelope.content or b"").decode("utf-8", "replace"))
        return "250 OK"

    async def next_link(self, seen: int) -> str:
        for _ in range(200):
            if len(self.messages) > seen:
                message = email.message_from_string(self.messages[seen], policy=policy.default)
                text = message.get_body(("plain",)).get_content()
                found = LINK.search(text)
                assert found, text
                return found.group(1)
            await asyncio.sleep(0.05)
        raise AssertionError("no sign-in email arrived")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def mailbox():
    box = Mailbox()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(box), "127.0.0.1", 0)
    yield box, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def portal(settings, database, clock, mailbox):
    box, smtp_port = mailbox
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # The outbox sender runs in the server, as in production, and hands the link email to the SMTP server.
    configured = replace(
        settings, smtp_host="127.0.0.1", smtp_port=smtp_port, public_base_url=base, background_workers=True
    )
    async with database.transaction() as session:
        await publish_fixtures(session, clock.now())
        ann = await do_create_customer(session, CustomerFields(name="Ann Lee"), clock.now())
        await do_add_identity(session, ann, IdentityKind.EMAIL, "ann@example.org", clock.now())
        carl = await do_create_customer(session, CustomerFields(name="Carl Diaz"), clock.now())
        await do_add_identity(session, carl, IdentityKind.EMAIL, "carl@example.org", clock.now())
        carls_case = await do_create_case(
            session,
            NewCase(customer_id=carl.id or 0, subject="Carl's invoice", channel=Channel.EMAIL),
            Actor(ActorKind.SYSTEM),
            clock.now(),
        )
    runner = web.AppRunner(create_app(configured, database=database, clock=clock))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield base, box, carls_case.number
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_customer_signs_in_by_link_opens_a_case_and_reads_the_answer(
    portal, browser, database, clock, screenshot
):
    base, box, carls_case = portal
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()

    await page.goto(f"{base}/portal")
    await page.get_by_label("Email address").fill("ann@example.org")
    await page.get_by_role("button", name="Email me a sign-in link").click()
    await page.get_by_text("a sign-in link is on its way").wait_for()
    link = await box.next_link(0)

    await page.goto(link)
    await page.get_by_role("heading", name="My cases").wait_for()

    await page.get_by_role("link", name="New case").first.click()
    await page.get_by_label("Subject").press_sequentially("printer offline", delay=20)
    suggestion = page.locator("#suggestion-list a", has_text="Printer shows offline")
    await suggestion.wait_for()
    await screenshot(page, "portal-new-case-suggestion")
    await page.get_by_label("Describe the problem").fill("It has said offline since this morning.")
    await page.get_by_role("button", name="Submit").click()
    await page.get_by_role("heading", name=re.compile(r"CS-\d+: printer offline")).wait_for()
    number = (await page.get_by_role("heading", level=1).inner_text()).split(":")[0]

    await page.get_by_label("Reply").fill("I restarted it, still offline.")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_text("I restarted it, still offline.").wait_for()

    async with database.transaction() as session:
        case = await get_case(session, number, for_update=True)
        await do_record_message(
            session,
            case,
            inbound=False,
            body="Please clear 'Use printer offline' in Devices and Printers.",
            actor=Actor(ActorKind.USER, 1, "Bob"),
            now=clock.now(),
        )
        await do_change_status(session, case, CaseStatus.RESOLVED, Actor(ActorKind.USER, 1, "Bob"), clock.now())
    await page.reload()
    await page.get_by_text("Please clear 'Use printer offline'").wait_for()
    assert await page.get_by_text("Resolved").first.is_visible()
    await page.get_by_label(re.compile("Very satisfied")).check()
    await page.get_by_role("button", name="Submit").click()
    await page.get_by_text("Thank you for your answer.").wait_for()
    await screenshot(page, "portal-case-answered")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]

    # Another customer's case by number in the URL: not found, exactly like a case that does not exist.
    response = await page.goto(f"{base}/portal/cases/{carls_case}")
    assert response.status == 404
    assert "Carl's invoice" not in await page.content()
    missing = await page.goto(f"{base}/portal/cases/CS-999999")
    assert missing.status == 404

    # The link worked once; a second use is refused with a page that says why.
    fresh = await browser.new_context(viewport=PHONE)
    other = await fresh.new_page()
    reused = await other.goto(link)
    assert reused.status == 410
    await other.get_by_text("This sign-in link was used already").wait_for()

    await other.goto(f"{base}/portal")
    await other.get_by_label("Email address").fill("ann@example.org")
    await other.get_by_role("button", name="Email me a sign-in link").click()
    await other.get_by_text("a sign-in link is on its way").wait_for()
    late_link = await box.next_link(1)
    clock.advance(timedelta(minutes=11))
    expired = await other.goto(late_link)
    assert expired.status == 410
    await other.get_by_text("This sign-in link has expired").wait_for()
    await screenshot(other, "portal-link-expired")
    await fresh.close()
    await context.close()
