"""A technician's visit on a phone, in Debian's chromium at 390x844: sign in, the day in route order, set off,
arrive, record a part and a meter reading, attach a photo, finish; then the store says what the page said. And the
agent desktop's 360 view follows the visit as the technician moves it."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import expect
from sqlmodel import select

from field_service.ledger import StockLedger
from field_service.models import MeterReading, WorkOrderRecord, WorkOrderStatus
from field_service.worklog import WorkOrderPhoto
from tests.browser.test_chat_desktop_wallboard import signed_in_page
from tests.browser.test_desktop_tools import accept_next_offer, contact_in
from tests.conftest import PASSWORD, START
from tests.field_service.visit_day import EMAIL, PHONE, seed_day, tiny_png

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 390, "height": 844}


async def assert_fits_the_phone(page) -> None:
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{page.url} scrolls sideways: {width}px wide"


async def test_a_technician_works_a_job_from_the_phone(live_server, browser, database, clock, users, screenshot):
    async with database.transaction() as session:
        await seed_day(session, clock.now(), users["tess"])
    context = await browser.new_context(viewport=VIEWPORT, has_touch=True, is_mobile=True)
    page = await context.new_page()

    await page.goto(f"{live_server}/tech")
    await page.get_by_label("Username").fill("tess@example.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("list", name="Jobs in route order").wait_for()
    jobs = page.locator(".tech-job")
    assert await jobs.count() == 2
    assert "W-boiler street 1" in await jobs.nth(0).inner_text()
    assert "10:30\u201311:30" in await jobs.nth(0).inner_text()
    assert "W-socket street 1" in await jobs.nth(1).inner_text()
    await assert_fits_the_phone(page)
    await screenshot(page, "technician-day")

    await jobs.nth(0).get_by_role("link").click()
    await page.get_by_role("heading", name="Repair W-boiler").wait_for()
    assert await page.get_by_role("link", name=f"Call {PHONE}").get_attribute("href") == f"tel:{PHONE}"
    assert await page.get_by_role("link", name="Email").get_attribute("href") == f"mailto:{EMAIL}"
    assert (await page.get_by_role("link", name="Open in maps").get_attribute("href") or "").startswith("geo:")
    osm = await page.get_by_role("link", name="OpenStreetMap").get_attribute("href") or ""
    assert osm.startswith("https://www.openstreetmap.org/?mlat=")
    assert "Boiler trips the fuse" in await page.inner_text("main")
    photo_input = page.locator("input[type=file]")
    assert (await photo_input.get_attribute("accept"), await photo_input.get_attribute("capture")) == (
        "image/*",
        "environment",
    )
    # The big buttons are big enough for a thumb.
    box = await page.get_by_role("button", name="On my way").bounding_box()
    assert box is not None
    assert box["height"] >= 48
    await assert_fits_the_phone(page)

    await page.get_by_role("button", name="On my way").click()
    await page.locator("#job-status", has_text="en route").wait_for()
    assert "ETA" in await page.inner_text("main")
    await page.get_by_role("button", name="Arrived on site").click()
    await page.locator("#job-status", has_text="on site").wait_for()

    await page.get_by_label("Part (SKU)").fill("FUSE")
    await page.get_by_label("Units used").fill("2")
    await page.get_by_role("button", name="Record part").click()
    await page.locator("#parts-recorded", has_text="Used 2 \u00d7 Fuse 13 A").wait_for()
    await page.get_by_label("Reading (hours)").fill("1500.5")
    await page.get_by_role("button", name="Save reading").click()
    await page.locator("#readings", has_text="1500.5 hours").wait_for()
    await page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "boiler.png", "mimeType": "image/png", "buffer": tiny_png()}
    )
    await page.get_by_role("button", name="Upload photo").click()
    photo = page.get_by_role("img", name="Photo 1 of W-boiler")
    await photo.scroll_into_view_if_needed()
    # The photo is served back to its technician and decodes as the image that was sent.
    decoded = (
        "async () => { const img = document.querySelector('.tech-photos img');"
        " await img.decode(); return img.naturalWidth; }"
    )
    assert await page.evaluate(decoded) == 1
    await assert_fits_the_phone(page)
    await screenshot(page, "technician-job-on-site")

    await page.get_by_role("button", name="Done").click()
    await page.locator("#job-status", has_text="completed").wait_for()
    assert await page.get_by_role("button", name="Done").count() == 0
    await assert_fits_the_phone(page)
    await page.get_by_role("link", name="← Day").click()
    await page.locator(".tech-job").first.locator(".tech-badge", has_text="completed").wait_for()
    await context.close()

    async with database.transaction() as session:
        order = (await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == "W-boiler"))).scalar_one()
        assert order.status is WorkOrderStatus.COMPLETED
        van = await StockLedger(session, START).level("VAN-TESS", "FUSE")
        assert (van.on_hand, van.reserved) == (0, 0)
        readings = (await session.execute(select(MeterReading.value, MeterReading.work_order_id))).all()
        assert readings == [(1500.5, order.id)]
        photos = (await session.execute(select(WorkOrderPhoto.media_type, WorkOrderPhoto.size))).all()
        assert photos == [("image/png", len(tiny_png()))]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_agent_desktop_follows_the_visit_live(browser, live_server, users, database, clock):
    async with database.transaction() as session:
        await seed_day(session, clock.now(), users["tess"])
    agent, desktop = await signed_in_page(browser, live_server, "bob", "/desktop")
    await desktop.get_by_label("Presence").select_option("available")
    await desktop.get_by_text("Connected · available").wait_for()
    # Ann texts in; her 360 view lists the visit planned on her boiler case.
    await contact_in(live_server, channel="sms", external_id="SM-ann", address=PHONE, body="When is the engineer here?")
    await accept_next_offer(desktop)
    visits = desktop.locator("#c360 li", has_text="repair")
    await expect(visits).to_contain_text("scheduled")

    async with aiohttp.ClientSession(live_server, cookie_jar=aiohttp.CookieJar(unsafe=True)) as tess:
        signed_in = await tess.post("/api/v1/auth/login", json={"username": "tess@example.test", "password": PASSWORD})
        csrf = (await signed_in.json())["csrf_token"]
        moved = await tess.post(
            "/api/v1/work-orders/W-boiler/status", json={"status": "en_route"}, headers={"X-CSRF-Token": csrf}
        )
        assert moved.status == 200, await moved.text()
    await expect(visits).to_contain_text("en route")
    await expect(visits).to_contain_text("ETA")
    await agent.close()
