"""The stock page in a real browser: a reorder alert's purchase request is approved and received at 1280x720."""

from __future__ import annotations

import pytest

from field_service.ledger import StockLedger
from tests.conftest import PASSWORD
from tests.field_service.test_ledger import NOW, stock_up

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_dispatcher_takes_an_alert_to_a_received_purchase(browser, live_server, database, users, screenshot):
    await stock_up(database)  # 8 fuses at WH-NORTH
    async with database.transaction() as session:
        ledger = StockLedger(session, NOW, actor="tess")
        await ledger.set_reorder_point("WH-NORTH", "FUSE-10A", 5, 20)
        await ledger.consume("WH-NORTH", "FUSE-10A", 4, "W1")  # 4 left: the alert raises purchase request 1
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    await page.goto(f"{live_server}/stock")
    await page.get_by_label("Username").fill("sam@example.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live_server}/stock")

    alerts = page.locator("#alerts tbody tr")
    assert await alerts.count() == 1
    assert "FUSE-10A" in await alerts.first.inner_text()
    assert "#1" in await alerts.first.inner_text()
    request = page.locator('#purchases tr[data-request="1"]')
    assert await request.locator(".status").inner_text() == "open"
    await screenshot(page, "stock-alert")

    await page.get_by_role("button", name="Approve purchase request 1").click()
    await page.wait_for_url(f"{live_server}/stock")
    assert await request.locator(".status").inner_text() == "approved"
    await page.get_by_role("button", name="Receive purchase request 1").click()
    await page.wait_for_url(f"{live_server}/stock")
    assert await request.locator(".status").inner_text() == "received"
    await page.locator("#no-alerts").wait_for()
    level = page.locator('#levels tr[data-level="WH-NORTH/FUSE-10A"] .available')
    assert await level.inner_text() == "24"
    await screenshot(page, "stock-received")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
    await context.close()
