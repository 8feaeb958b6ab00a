"""The unprocessable-mail page: admins only, by keyboard in a real browser; reprocessing makes a case."""

from __future__ import annotations

import pytest

from contact_center.models.email import EmailUnprocessable
from tests.browser.conftest import _chromium, _function_scoped_runner, browser, live_server, screenshot
from tests.conftest import PASSWORD

from .conftest import mfs

__all__ = ["_chromium", "_function_scoped_runner", "browser", "live_server", "screenshot"]

READABLE = mfs("""\
    From: Ann Archer <ann@example.org>
    To: help@example.test
    Subject: Kept by an older version
    Message-ID: <kept-page@example.org>

    Please read me now.
    """)


async def keep(database, clock, raw: bytes, reason: str) -> None:
    async with database.transaction() as session:
        session.add(
            EmailUnprocessable(
                message_id=f"<{reason.replace(' ', '-')}@kept>",
                reason=reason,
                size=len(raw),
                source="imap",
                raw=raw,
                received_at=clock.now(),
            )
        )


async def test_only_admins_see_the_page_and_a_reprocess_needs_the_csrf_token(login, database, clock):
    await keep(database, clock, READABLE, "old parser")
    bob, alice = await login("bob"), await login("alice")
    assert (await bob.client.get("/email/unprocessable")).status == 403
    page = await alice.client.get("/email/unprocessable")
    assert page.status == 200
    assert "old parser" in await page.text()
    forged = await alice.client.post("/email/unprocessable/1/reprocess", data={}, allow_redirects=False)
    assert forged.status == 403
    done = await alice.client.post(
        "/email/unprocessable/1/reprocess", data={"csrf_token": alice.csrf}, allow_redirects=False
    )
    assert done.status == 303
    assert "done=1" in done.headers["Location"]
    assert "case=CS-" in done.headers["Location"]


@pytest.mark.browser
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_admin_reprocesses_kept_mail_by_keyboard(browser, live_server, users, database, clock, screenshot):
    await keep(database, clock, READABLE, "old parser")
    await keep(database, clock, b"\x00 still garbage", "no headers")
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()

    await page.goto(f"{live_server}/email/unprocessable")
    # Autofocus lands on the username once the page settles; on a busy machine typing could start before.
    await page.get_by_label("Username").focus()
    await page.keyboard.type("alice@example.test")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live_server}/email/unprocessable")
    assert await page.locator("tbody tr").count() == 2
    await screenshot(page, "email-unprocessable")

    # Rows are newest first: the garbage (id 2) first, then the readable one; reprocess the readable one.
    button = page.get_by_role("row", name="old parser").get_by_role("button", name="Reprocess")
    await button.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/email/unprocessable?done=1*")
    assert "was taken in as" in await page.locator("[role=status]").inner_text()
    assert await page.locator("tbody tr").count() == 1

    await page.get_by_role("button", name="Reprocess").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/email/unprocessable?error=*")
    assert "still cannot be read" in await page.locator("[role=alert]").inner_text()
    link = page.get_by_role("link", name="CS-")
    assert await link.count() == 0  # the error view names no case
    await context.close()
