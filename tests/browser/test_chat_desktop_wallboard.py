"""A customer chats, an agent answers from the desktop, a supervisor watches: three real browser contexts."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 720}


async def signed_in_page(browser, live_server, persona, path):
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto(f"{live_server}{path}")
    await page.get_by_label("Username").fill(f"{persona}@example.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live_server}{path}")
    return context, page


def cell(page, queue, field):
    return page.locator(f'#queues tr[data-queue="{queue}"] [data-field="{field}"]')


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_customer_chats_and_an_agent_answers_while_the_wallboard_counts(
    browser, live_server, users, screenshot
):
    supervisor, wallboard = await signed_in_page(browser, live_server, "sam", "/wallboard")
    await cell(wallboard, "general", "waiting").wait_for()
    assert await cell(wallboard, "general", "waiting").inner_text() == "0"

    agent, desktop = await signed_in_page(browser, live_server, "bob", "/desktop")
    await desktop.get_by_text("Connected · offline").wait_for()

    customer = await browser.new_context(viewport={"width": 390, "height": 844})
    chat = await customer.new_page()
    dialogs: list[str] = []
    chat.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await chat.goto(f"{live_server}/chat")
    await chat.get_by_label("Your name (optional)").fill("Ann Lee")
    await chat.get_by_label("How can we help?").fill("My parcel <b>never</b> arrived")
    await chat.get_by_role("button", name="Start chat").click()
    await chat.get_by_text("My parcel <b>never</b> arrived").wait_for()
    await chat.get_by_text("You are number 1 in the queue.").wait_for()
    await screenshot(chat, "chat-waiting")

    # The wallboard sees the waiting chat without a reload.
    await expect(cell(wallboard, "general", "waiting")).to_have_text("1")

    # The agent becomes available by keyboard; the offer arrives live with its countdown.
    await desktop.get_by_label("Presence").focus()
    await desktop.get_by_label("Presence").select_option("available")
    offer = desktop.locator(".offer")
    await offer.wait_for()
    assert "Ann Lee" in await offer.inner_text()
    assert (await offer.locator(".countdown").inner_text()).endswith(" s")
    await screenshot(desktop, "desktop-offer")
    await offer.get_by_role("button", name="Accept").focus()
    await desktop.keyboard.press("Enter")
    await desktop.locator("#transcript").get_by_text("My parcel <b>never</b> arrived").wait_for()
    await chat.get_by_text("Bob joined the chat").wait_for()
    assert await chat.locator("#ccw-info").inner_text() == ""

    # The 360 view shows who this is.
    await desktop.locator("#c360").get_by_text("Ann Lee").wait_for()

    # Typing shows on the other side, both ways.
    await desktop.get_by_label("Chat reply").press_sequentially("Sor")
    await chat.get_by_text("Agent typing…").wait_for()
    await chat.locator("#ccw-input").press_sequentially("hel")
    await desktop.get_by_text("Customer is typing…").wait_for()
    await chat.locator("#ccw-input").fill("")

    await desktop.get_by_label("Chat reply").fill("Sorry to hear that, Ann. Let me check.")
    await desktop.get_by_label("Chat reply").press("Enter")
    await chat.get_by_text("Sorry to hear that, Ann. Let me check.").wait_for()

    # The customer's answer reaches the agent live.
    await chat.locator("#ccw-input").fill("Order 4711")
    await chat.locator("#ccw-input").press("Enter")
    await desktop.locator("#transcript").get_by_text("Order 4711").wait_for()

    # A dropped connection loses nothing: the agent writes while the customer is away.
    await chat.evaluate("window.ccChat.drop()")
    await desktop.get_by_label("Chat reply").fill("Found it: it ships today.")
    await desktop.get_by_label("Chat reply").press("Enter")
    await chat.get_by_text("Found it: it ships today.").wait_for()
    await screenshot(chat, "chat")
    await screenshot(desktop, "desktop")
    seqs = await chat.eval_on_selector_all(".ccw-msg", "items => items.map(i => Number(i.dataset.seq))")
    assert seqs == sorted(set(seqs))
    assert seqs == list(range(1, len(seqs) + 1))

    await expect(cell(wallboard, "general", "waiting")).to_have_text("0")
    assert await cell(wallboard, "general", "offered").inner_text() == "1"
    await screenshot(wallboard, "wallboard")

    # A second customer while Bob talks to Ann: Bob holds both, and the one not open shows its new line.
    other = await browser.new_context(viewport={"width": 390, "height": 844})
    second = await other.new_page()
    await second.goto(f"{live_server}/chat")
    await second.get_by_label("How can we help?").fill("Do you ship to Canada?")
    await second.get_by_role("button", name="Start chat").click()
    await desktop.locator(".offer").wait_for()
    await desktop.keyboard.press("Alt+a")
    await desktop.locator("#transcript").get_by_text("Do you ship to Canada?").wait_for()
    await chat.locator("#ccw-input").fill("Are you still there?")
    await chat.locator("#ccw-input").press("Enter")
    ann = desktop.locator("#work button", has_text="Ann Lee")
    await expect(ann).to_contain_text("new message")
    await ann.click()
    await desktop.locator("#transcript").get_by_text("Are you still there?").wait_for()
    await expect(ann).not_to_contain_text("new message")
    await other.close()

    assert dialogs == []
    for page in (desktop, wallboard):
        assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
    for context in (customer, agent, supervisor):
        await context.close()
