"""XSS: hostile text in every field people can write, shown on every page, in a real browser; no script runs.

Payloads go in a customer's name, an email's subject and HTML body and sender name, a kept (unprocessable)
email, a case note, a knowledge-base article's title and Markdown, and a chat's name and messages. Then every
page of the route table (staff pages as the admin, portal pages as the customer, the desktop and wallboard
live) is opened with the Content-Security-Policy switched off, so escaping alone must hold. On each page:
`window.__xss` (what the payloads set) is unset, no alert opened, no element the payloads carry (`data-xss`)
exists and no link, frame or form points at `javascript:`.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from playwright.async_api import expect
from sqlmodel import col, select

from contact_center.actors import Actor
from contact_center.channels.email.intake import take_in_message
from contact_center.models import ActorKind, Channel, IdentityKind, OutboxChannel, OutboxMessage
from contact_center.models.email import EmailUnprocessable
from contact_center.services.cases import NewCase, do_add_note, do_create_case, do_record_message
from contact_center.services.customers import CustomerFields, do_add_identity, do_create_customer
from knowledge_base.models import ArticleStatus, Visibility
from knowledge_base.service import ArticleDraft, Author, do_create_article
from tests.browser.conftest import _chromium, _function_scoped_runner, browser, live_server
from tests.conftest import PASSWORD
from tests.security.routes import PAGES, Open, Route, routes

# The browser fixtures, on the session's loop with the one chromium the browser tests share.
__all__ = ["_chromium", "_function_scoped_runner", "browser", "live_server"]

pytestmark = pytest.mark.browser

SET_FLAG = "window.__xss=1"
PAYLOAD = (
    f"\"'><img data-xss src=x onerror={SET_FLAG}><script data-xss>{SET_FLAG}</script>"
    f"<svg data-xss onload={SET_FLAG}></svg>"
)
HTML_BODY = (
    f'<p>My router <b>died</b>.</p>{PAYLOAD}<a data-xss href="javascript:{SET_FLAG}">details</a>'
    f'<iframe data-xss srcdoc="<script>parent.__xss=1</script>"></iframe>'
    f'<p style="x" onclick="{SET_FLAG}">click</p><form action="javascript:{SET_FLAG}"><button>go</button></form>'
)
MARKDOWN = (
    f"Try [this](javascript:{SET_FLAG}) and ![x](javascript:{SET_FLAG}).\n\n{PAYLOAD}\n\n"
    f"<a href='javascript:{SET_FLAG}'>raw</a>"
)
NOW_ACTOR = Actor(ActorKind.USER, 1, "Alice")
PROBE = """() => {
  const bad = /^\\s*javascript:/i;
  const links = [...document.querySelectorAll('[href], [src], [action], [formaction]')].filter(e =>
    ['href', 'src', 'action', 'formaction'].some(a => bad.test(e.getAttribute(a) || '')));
  return {
    flag: window.__xss ?? null,
    marked: document.querySelectorAll('[data-xss]').length,
    handlers: [...document.querySelectorAll('*')].filter(e =>
      [...e.attributes].some(a => a.name.startsWith('on'))).length,
    links: links.length,
    shown: document.body ? document.body.innerText.includes('data-xss') : false,
  };
}"""


def _email(subject: str, message_id: str) -> bytes:
    return (
        f'From: "Eve <img data-xss src=x onerror={SET_FLAG}>" <eve@example.org>\r\n'
        "To: help@example.test\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{message_id}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f"{HTML_BODY}\r\n"
    ).encode()


@pytest.fixture
async def hostile(database, clock, users) -> dict[str, list[str]]:
    """Write the payloads everywhere; return the path parameter values that reach them."""
    async with database.transaction() as session:
        eve = await do_create_customer(session, CustomerFields(name=f"Eve {PAYLOAD}"), clock.now())
        await do_add_identity(session, eve, IdentityKind.EMAIL, "eve@example.org", clock.now())
        case = await do_create_case(
            session,
            NewCase(customer_id=eve.id or 0, subject=f"Phone {PAYLOAD}", channel=Channel.VOICE),
            NOW_ACTOR,
            clock.now(),
        )
        await do_record_message(session, case, inbound=True, body=PAYLOAD, actor=NOW_ACTOR, now=clock.now())
        await do_record_message(
            session, case, inbound=False, body=f"Answer {PAYLOAD}", actor=NOW_ACTOR, now=clock.now()
        )
        await do_add_note(session, case, f"Note {PAYLOAD}", NOW_ACTOR, clock.now())
        article = await do_create_article(
            session,
            ArticleDraft(
                title=f"Router {PAYLOAD}",
                body=MARKDOWN,
                category=f"c{PAYLOAD[:20]}",
                tags=[PAYLOAD[:30]],
                visibility=Visibility.PUBLIC,
                status=ArticleStatus.PUBLISHED,
                slug="router-xss",
            ),
            Author(f"Sam {PAYLOAD[:30]}", 1),
            clock.now(),
        )
        raw = _email(f"Kept {PAYLOAD}", "kept")
        session.add(
            EmailUnprocessable(
                message_id="<kept@example.org>",
                reason=f"bad {PAYLOAD}",
                size=len(raw),
                source="imap",
                raw=raw,
                received_at=clock.now(),
            )
        )
    result = await take_in_message(
        database,
        _email(f"Refund {PAYLOAD}", "refund"),
        clock.now(),
        router=None,
        auto_reply=False,
        smtp_from="help@example.test",
    )
    assert result.case_id is not None, result
    cases = [case.number, f"CS-{result.case_id:06d}"]
    return {
        "case_ref": cases,
        "article_id": [str(article.id)],
        "slug": ["router-xss"],
        "code": ["en", "zh"],
        "email_id": ["1"],
        "file_id": ["1"],
    }


class Watch:
    """Opens pages in one browser context and records everything a payload could have done there."""

    def __init__(self, context: Any, base: str) -> None:
        self.context = context
        self.base = base
        self.dialogs: list[str] = []
        self.problems: list[str] = []
        self.shown: list[str] = []
        self._visitor: Any = None

    async def page(self) -> Any:
        page = await self.context.new_page()
        page.on("dialog", self._dialog)
        return page

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    async def check(self, page: Any, where: str) -> None:
        await page.wait_for_timeout(150)  # let page scripts render what they fetch
        found = await page.evaluate(PROBE)
        if found["flag"] is not None or found["marked"] or found["handlers"] or found["links"]:
            self.problems.append(f"{where}: {found}")
        if found["shown"]:
            self.shown.append(where)

    async def visit(self, path: str) -> None:
        # One tab goes from page to page (a navigation ends the last page's scripts): a new tab each costs more.
        if self._visitor is None:
            self._visitor = await self.page()
        await self._visitor.goto(f"{self.base}{path}")
        await self.check(self._visitor, path)


def _page_paths(route: Route, values: dict[str, list[str]]) -> list[str]:
    names = [name for name in values if "{" + name + "}" in route.template]
    if not names:
        return [route.path()]
    combos = itertools.product(*(values[name] for name in names))
    return sorted({route.path(**dict(zip(names, combo, strict=True))) for combo in combos})


async def _staff(browser: Any, base: str, persona: str) -> Watch:
    context = await browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    watch = Watch(context, base)
    page = await watch.page()
    await page.goto(f"{base}/login")
    await page.get_by_label("Username").fill(f"{persona}@example.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/")
    await page.close()
    return watch


async def _customer(browser: Any, base: str, database: Any) -> Watch:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    watch = Watch(context, base)
    page = await watch.page()
    await page.goto(f"{base}/portal")
    await page.locator("input[name=email]").fill("eve@example.org")
    await page.locator("input[name=email]").press("Enter")
    await page.wait_for_load_state()
    async with database.transaction() as session:
        message = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == OutboxChannel.EMAIL, OutboxMessage.to_address == "eve@example.org")
                .order_by(col(OutboxMessage.id).desc())
            )
        ).first()
    assert message is not None, "no sign-in link was sent"
    link = next(word for word in message.body.split() if "/portal/signin/" in word)
    await page.goto(f"{base}{link[link.index('/portal/signin/') :]}")
    await page.wait_for_url(f"{base}/portal")
    await page.close()
    return watch


async def _chat_to_desktop(browser: Any, base: str, bob: Watch, sam: Watch) -> None:
    """A hostile chat reaches Bob's desktop live while Sam's wallboard watches; all three pages are checked."""
    wallboard = await sam.page()
    await wallboard.goto(f"{base}/wallboard")
    desktop = await bob.page()
    await desktop.goto(f"{base}/desktop")
    await desktop.get_by_text("Connected · offline").wait_for()
    customer = Watch(await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True), base)
    chat = await customer.page()
    await chat.goto(f"{base}/chat")
    await chat.get_by_label("Your name (optional)").fill(f"Mallory {PAYLOAD}"[:120])
    await chat.get_by_label("How can we help?").fill(f"Help {PAYLOAD}")
    await chat.get_by_role("button", name="Start chat").click()
    await chat.get_by_text("You are number 1 in the queue.").wait_for()
    await desktop.get_by_label("Presence").select_option("available")
    offer = desktop.locator(".offer")
    await offer.wait_for()
    await customer.check(chat, "/chat (waiting)")
    await bob.check(desktop, "/desktop (offer)")
    await offer.get_by_role("button", name="Accept").click()
    await desktop.locator("#transcript").get_by_text(f"Help {PAYLOAD}").wait_for()
    await desktop.get_by_label("Chat reply").fill(f"Agent {PAYLOAD}")
    await desktop.get_by_label("Chat reply").press("Enter")
    await chat.get_by_text(f"Agent {PAYLOAD}").wait_for()
    await chat.locator("#ccw-input").fill(f"Again {PAYLOAD}")
    await chat.locator("#ccw-input").press("Enter")
    await desktop.locator("#transcript").get_by_text(f"Again {PAYLOAD}").wait_for()
    await expect(desktop.locator("#c360")).to_contain_text("Mallory")
    for watch, page, where in (
        (bob, desktop, "/desktop (chat)"),
        (customer, chat, "/chat"),
        (sam, wallboard, "/wallboard"),
    ):
        await watch.check(page, where)
    bob.problems += customer.problems
    bob.dialogs += customer.dialogs
    bob.shown += customer.shown
    await customer.context.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_no_payload_runs_or_becomes_markup_on_any_page(live_server, hostile, database, app_client, browser):
    table = list(routes((await app_client()).server.app))
    pages = [r for r in table if r.method == "GET" and not r.socket and (r.method, r.template) in PAGES]
    alice, bob, sam = [await _staff(browser, live_server, name) for name in ("alice", "bob", "sam")]
    eve = await _customer(browser, live_server, database)
    await _chat_to_desktop(browser, live_server, bob, sam)
    for route in pages:
        if route.template in ("/static", "/portal/signin/{token}"):
            continue
        watch = eve if PAGES[(route.method, route.template)] is Open.CUSTOMER else alice
        for path in _page_paths(route, hostile):
            await watch.visit(path)
    watches = (alice, bob, sam, eve)
    assert [problem for watch in watches for problem in watch.problems] == []
    assert [dialog for watch in watches for dialog in watch.dialogs] == []
    shown = {where for watch in watches for where in watch.shown}
    # The payloads did reach the pages as text: the checks above looked at real hostile content.
    for where in ("/cases", "/desktop (chat)", "/chat", "/kb/router-xss", "/staff/kb", "/email/unprocessable"):
        assert where in shown, (where, sorted(shown))
    assert any(where.startswith("/cases/CS-") for where in shown)
    assert any(where.startswith("/portal/cases/CS-") for where in shown)
