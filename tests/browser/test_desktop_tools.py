"""The rest of the desktop and the wallboard in a real browser: an email flagged as a duplicate is merged, a text
is answered by SMS, the contact wrapped up, all by keyboard; the wallboard's what-if and CSV report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect
from sqlmodel import select

from contact_center.models import Case, OutboxMessage
from tests.browser.test_chat_desktop_wallboard import signed_in_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def contact_in(live_server, **contact):
    """Deliver a contact the way a channel would: through the live server's own routing."""
    async with aiohttp.ClientSession(live_server, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.post("/api/v1/auth/login", json={"username": "sam@example.test", "password": PASSWORD})
        csrf = (await login.json())["csrf_token"]
        response = await http.post("/api/v1/contacts", json=contact, headers={"X-CSRF-Token": csrf})
        assert response.status == 201, await response.text()
        return await response.json()


async def accept_next_offer(desktop):
    offer = desktop.locator(".offer").first
    await offer.wait_for()
    await offer.get_by_role("button", name="Accept").focus()
    await desktop.keyboard.press("Enter")
    await expect(desktop.locator(".offer")).to_have_count(0)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_agent_merges_a_duplicate_answers_a_text_and_wraps_up(
    browser, live_server, users, database, screenshot
):
    first = await contact_in(
        live_server,
        channel="email",
        external_id="<a1@x>",
        address="ann@example.com",
        subject="Router keeps rebooting",
        body="since Monday",
        route=False,
    )
    agent, desktop = await signed_in_page(browser, live_server, "bob", "/desktop")
    await desktop.get_by_label("Presence").select_option("available")
    await desktop.get_by_text("Connected · available").wait_for()

    await contact_in(
        live_server,
        channel="email",
        external_id="<a2@x>",
        address="ann@example.com",
        subject="Router keeps rebooting",
        body="still rebooting",
    )
    await accept_next_offer(desktop)
    await desktop.locator("#transcript").get_by_text("still rebooting").wait_for()
    await desktop.get_by_text("Wrap-up, transfer, merge").click()
    await expect(desktop.locator("#merge-target")).to_have_text(first["case"]["number"])
    await desktop.get_by_role("button", name="Merge into it").focus()
    await desktop.keyboard.press("Enter")
    await expect(desktop.locator("#action-result")).to_have_text(f"Merged into {first['case']['number']}.")
    await desktop.get_by_label("Wrap-up code").select_option("information")
    await desktop.get_by_role("button", name="Finish contact").click()
    await expect(desktop.locator("#action-result")).to_contain_text("Finished (information)")

    await contact_in(live_server, channel="sms", external_id="SM1", address="+14155550100", body="Is my bill ready?")
    await desktop.locator(".offer").wait_for()
    await desktop.keyboard.press("Alt+a")  # the shortcut for the oldest offer
    await expect(desktop.locator(".offer")).to_have_count(0)
    await desktop.locator("#transcript").get_by_text("Is my bill ready?").wait_for()
    await desktop.get_by_label("Text message").fill("Yes, it went out this morning.")
    await desktop.get_by_role("button", name="Send text").click()
    await expect(desktop.locator("#action-result")).to_have_text("Text queued for sending.")
    await desktop.locator("#transcript").get_by_text("Yes, it went out this morning.").wait_for()
    await desktop.get_by_label("Change the case's status now").select_option("pending")
    await desktop.get_by_role("button", name="Change status").click()
    await expect(desktop.locator("#action-result")).to_have_text("Case CS-000003 is pending.")
    await desktop.get_by_label("Wrap-up code").focus()
    await desktop.get_by_label("Wrap-up code").select_option("resolved")
    await desktop.get_by_label("Case status").select_option("resolved")
    await desktop.get_by_label("Notes").fill("Bill sent")
    await desktop.get_by_role("button", name="Finish contact").focus()
    await desktop.keyboard.press("Enter")
    await expect(desktop.locator("#action-result")).to_have_text("Finished (resolved); case is resolved.")
    await expect(desktop.locator("#work")).to_have_text("Nothing in hand.")
    await screenshot(desktop, "desktop-wrapped-up")
    async with database.transaction() as session:
        outbox = (await session.scalars(select(OutboxMessage))).all()
        merged = await session.get(Case, first["case"]["id"] + 1)
    assert [(m.channel.value, m.to_address, m.body) for m in outbox] == [
        ("sms", "+14155550100", "Yes, it went out this morning.")
    ]
    assert merged is not None
    assert merged.merged_into_id == first["case"]["id"]

    supervisor, wallboard = await signed_in_page(browser, live_server, "sam", "/wallboard")
    await wallboard.get_by_label("Agents").fill("4")
    await wallboard.get_by_label("Arrivals per hour").fill("40")
    await wallboard.get_by_label("AHT (seconds)").fill("240")
    await wallboard.get_by_label("AHT (seconds)").press("Enter")
    await expect(wallboard.locator("#whatif-result")).to_contain_text("Erlang C:")
    await expect(wallboard.locator("#whatif-result")).to_contain_text("simulator:")
    await screenshot(wallboard, "wallboard-what-if")
    async with wallboard.expect_download() as download_info:
        await wallboard.get_by_role("button", name="Download CSV").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("report-queue-")
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    assert text.splitlines()[0].startswith("queue,offered,answered")
    assert text.splitlines()[1].startswith("general,2,2,")
    await supervisor.close()
    await agent.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_agent_transfers_a_text_to_a_colleague_who_is_offered_it(browser, live_server, users, database):
    bob, bob_desk = await signed_in_page(browser, live_server, "bob", "/desktop")
    await bob_desk.get_by_label("Presence").select_option("available")
    await bob_desk.get_by_text("Connected · available").wait_for()
    await contact_in(live_server, channel="sms", external_id="SM9", address="+14155550100", body="Bill question")
    await accept_next_offer(bob_desk)
    await bob_desk.locator("#transcript").get_by_text("Bill question").wait_for()
    sam, sam_desk = await signed_in_page(browser, live_server, "sam", "/desktop")
    await sam_desk.get_by_label("Presence").select_option("available")
    await sam_desk.get_by_text("Connected · available").wait_for()

    await bob_desk.get_by_text("Wrap-up, transfer, merge").click()
    await bob_desk.get_by_label("offered first to").select_option(label="Sam")
    await bob_desk.get_by_role("button", name="Transfer").click()
    await expect(bob_desk.locator("#action-result")).to_have_text("Transferred to Sam first, then general.")
    await accept_next_offer(sam_desk)
    await sam_desk.locator("#transcript").get_by_text("Bill question").wait_for()
    await sam.close()
    await bob.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_agent_answers_an_email_with_a_template_after_a_spell_check(browser, live_server, users, database):
    agent, desktop = await signed_in_page(browser, live_server, "bob", "/desktop")
    await desktop.get_by_label("Presence").select_option("available")
    await desktop.get_by_text("Connected · available").wait_for()
    await contact_in(
        live_server,
        channel="email",
        external_id="<q1@example.com>",
        address="ann@example.com",
        subject="Meter reading",
        body="Which reading do you need?",
    )
    await accept_next_offer(desktop)
    await desktop.locator("#transcript").get_by_text("Which reading do you need?").wait_for()
    await desktop.get_by_label("Email reply").fill("Plese send the number on the meter's display.")
    await desktop.get_by_role("button", name="Check spelling").click()
    await expect(desktop.locator("#spelling")).to_contain_text("Plese → please")
    await desktop.get_by_label("Email reply").fill("Please send the number on the meter's display.")
    await desktop.get_by_label("Template (optional)").select_option("more-information")
    await desktop.get_by_role("button", name="Send email").click()
    await expect(desktop.locator("#action-result")).to_contain_text("Email to ann@example.com queued: ")
    async with database.transaction() as session:
        [reply] = (await session.scalars(select(OutboxMessage))).all()
    assert reply.to_address == "ann@example.com"
    assert "[CS-000001]" in reply.subject
    assert "Please send the number on the meter's display." in reply.body
    assert "which product and version" in reply.body  # the template around the agent's words
    await agent.close()
