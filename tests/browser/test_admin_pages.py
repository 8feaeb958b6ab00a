"""Setting up routing in a real browser at 1280x720: a skill, a queue that requires it, an agent who has it, a user."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def sign_in_as(page, live_server: str, path: str, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{live_server}{path}")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live_server}{path}")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_new_agent_is_set_up_from_the_pages_and_signs_in(browser, live_server, users, screenshot):
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    await sign_in_as(page, live_server, "/queues", "alice@example.test")
    await page.get_by_role("textbox", name="New skill").fill("billing")
    await page.get_by_role("button", name="Add skill").click()
    await page.wait_for_url(f"{live_server}/queues")
    form = page.get_by_role("form", name="New queue")
    await form.get_by_label("Name (lower-case").fill("billing")
    await form.get_by_label("billing").fill("4")
    await form.get_by_label("voice").uncheck()
    await form.get_by_role("button", name="Add queue").click()
    await page.wait_for_url(f"{live_server}/queues/*")
    await page.goto(f"{live_server}/queues")
    row = page.locator("#queues tbody tr").first
    assert "billing ≥ 4" in await row.inner_text()
    assert "voice" not in await row.inner_text()
    await screenshot(page, "queues")

    await page.goto(f"{live_server}/agents")
    form = page.get_by_role("form", name="New agent")
    await form.get_by_label("Name", exact=True).fill("Nia Okoro")
    await form.get_by_role("textbox", name="Email (the agent").fill("nia@example.test")
    await form.get_by_label("billing").fill("6")
    await form.get_by_role("button", name="Add agent").click()
    await page.wait_for_url(f"{live_server}/agents/*")
    assert await page.get_by_label("billing").input_value() == "6"
    await screenshot(page, "agent")

    await page.goto(f"{live_server}/users")
    form = page.get_by_role("form", name="New user")
    await form.get_by_label("Username").fill("nia@example.test")
    await form.get_by_label("Works as agent").select_option(label="Nia Okoro (nia@example.test)")
    await form.get_by_label("Password (at least").fill("nia's own password")
    await form.get_by_label("Password again").fill("nia's own password")
    await form.get_by_role("button", name="Add user").click()
    await page.wait_for_url(f"{live_server}/users")
    assert "Nia Okoro" in await page.locator("#users").inner_text()
    await screenshot(page, "users")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
    await context.close()

    nia = await (await browser.new_context(viewport={"width": 1280, "height": 720})).new_page()
    await sign_in_as(nia, live_server, "/desktop", "nia@example.test", "nia's own password")
    await nia.get_by_text("Connected · offline").wait_for()
    await nia.context.close()
