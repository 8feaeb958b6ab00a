"""Staff pages in a real browser: sign in, find a case, change its status, all by keyboard at 1280x720."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_agent_signs_in_and_works_a_case_by_keyboard(browser, live_server, users, login, screenshot):
    api = await login("bob")
    received = await api.post(
        "/api/v1/contacts",
        {
            "channel": "email",
            "external_id": "<b1@x>",
            "address": "ann@example.com",
            "subject": "Router keeps rebooting",
            "body": "<img src=x onerror=alert(1)> since Monday",
        },
        expect=201,
    )
    number = received["case"]["number"]
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    await page.goto(f"{live_server}/cases")
    assert page.url.endswith("/login?next=/cases")
    await screenshot(page, "login")
    await page.keyboard.type("bob@example.test")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live_server}/cases")
    await screenshot(page, "cases")

    await page.get_by_role("link", name=number).click()
    await page.wait_for_url(f"{live_server}/cases/{number}")
    assert await page.locator("#case-status").inner_text() == "new"
    await page.get_by_label("Change status").select_option("open")
    await page.get_by_role("button", name="Save status").click()
    await page.wait_for_url(f"{live_server}/cases/{number}")
    assert await page.locator("#case-status").inner_text() == "open"
    await page.get_by_label("Internal note").fill("Asked for the router model")
    await page.get_by_role("button", name="Add note").click()
    await page.get_by_text("Asked for the router model").wait_for()
    await screenshot(page, "case")
    assert dialogs == []  # the message's markup was shown as text, never run
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
    await context.close()
