"""A supervisor writes, previews and publishes an article in the browser at 1280x720; customers then find it."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_supervisor_writes_and_publishes_an_article(browser, live_server, users, screenshot):
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    await page.goto(f"{live_server}/staff/kb/new")
    await page.get_by_label("Username").fill("sam@example.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live_server}/staff/kb/new")

    await page.get_by_label("Title").fill("Printer prints blank pages")
    await page.get_by_label("Body (Markdown)").fill("Check the **toner**.\n\n<script>alert(1)</script>")
    await page.get_by_label("Category").fill("devices")
    await page.get_by_label("Tags (comma-separated)").fill("printer, toner")
    await page.get_by_role("button", name="Save draft").click()
    await page.get_by_role("heading", name="Preview").wait_for()
    assert await page.locator(".article-body strong", has_text="toner").count() == 1
    assert await page.locator(".article-body script").count() == 0

    await page.get_by_label("Body (Markdown)").fill("Check the **toner** cartridge and the print head.")
    await page.get_by_label("What changed (for the history)").fill("print head")
    await page.get_by_role("button", name="Save a new version").click()
    await page.get_by_label("Status").select_option("published")
    await page.get_by_role("button", name="Change status").click()
    await page.get_by_role("link", name="public page").wait_for()
    history = await page.locator(".timeline li").all_inner_texts()
    assert [line.split()[0] for line in history] == ["v3", "v2", "v1"]
    assert "print head" in history[1]
    await screenshot(page, "kb-editor")

    customer = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await customer.goto(f"{live_server}/kb?q=blank+pages&language=en")
    await customer.get_by_role("link", name="Printer prints blank pages").click()
    await customer.get_by_text("print head").wait_for()
    await customer.get_by_role("button", name="Yes").click()
    await customer.get_by_text("Thanks for your feedback.").wait_for()
    await context.close()
