"""A dispatcher plans a day on the board in a real browser at 1280x720: re-optimise, see the lanes, pin, dispatch,
mark a technician sick, and move to the next day."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

DAY = "2026-12-07"  # a Monday; the test clock is the week before
WEEK = {
    str(d): {"start": "08:00", "end": "17:00", "breaks": [{"earliest": "12:00", "latest": "13:00", "minutes": 30}]}
    for d in range(5)
}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_dispatcher_plans_and_dispatches_a_day(browser, live_server, users, login, screenshot):
    alice, bob = await login("alice"), await login("bob")
    for code, lon in (("ada", 4.95), ("ben", 5.05)):
        await alice.post(
            "/api/v1/technicians",
            {"code": code, "name": f"{code.title()} Smith", "home_lat": 52.0, "home_lon": lon, "shifts": WEEK},
            expect=201,
        )
    received = await bob.post(
        "/api/v1/contacts",
        {
            "channel": "email",
            "external_id": "<d1@x>",
            "address": "ann@example.com",
            "subject": "No heating",
            "body": "Cold",
        },
        expect=201,
    )
    number = received["case"]["number"]
    codes = []
    for hour, lat in ((9, 52.01), (11, 51.99), (14, 52.02)):
        created = await bob.post(
            f"/api/v1/cases/{number}/work-orders",
            {
                "job_type": "repair",
                "address": f"Street {hour}",
                "lat": lat,
                "lon": 5.0,
                "duration_minutes": 60,
                "window_start": f"{DAY}T{hour:02d}:00:00+00:00",
                "window_end": f"{DAY}T{hour + 2:02d}:00:00+00:00",
            },
            expect=201,
        )
        codes.append(created["code"])
    impossible = await bob.post(
        f"/api/v1/cases/{number}/work-orders",
        {"job_type": "upgrade", "lat": 52.0, "lon": 5.0, "duration_minutes": 30, "required_skills": {"fibre": 5}},
        expect=201,
    )

    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    await page.goto(f"{live_server}/dispatch?date={DAY}")
    await page.get_by_label("Username").fill("sam@example.test")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live_server}/dispatch?date={DAY}")
    assert "not planned yet" in await page.locator("#totals").inner_text()

    await page.get_by_label("Solver seconds").fill("0.5")
    await page.get_by_role("button", name="Re-optimise").click()
    await page.locator("#notice").wait_for()
    assert "Re-optimised: 1 unassigned." in await page.locator("#notice").inner_text()
    lanes = page.locator("section.lane[data-technician]")
    assert await lanes.count() == 2
    planned = await page.locator("section.lane[data-technician] li.visit").evaluate_all(
        "items => items.map(item => item.dataset.workOrder)"
    )
    assert sorted(planned) == sorted(codes)
    unassigned = page.get_by_label("Unassigned")
    assert "fibre 5" in await unassigned.inner_text()
    link = page.locator(f'li[data-work-order="{codes[0]}"] a.address')
    assert (await link.get_attribute("href") or "").startswith("https://www.openstreetmap.org/?mlat=52.010000")
    await screenshot(page, "dispatch-board")

    await page.get_by_label("Work order").select_option(impossible["code"])
    await page.get_by_label("Pin to").select_option("ben")
    await page.get_by_role("button", name="Pin", exact=True).click()
    await page.get_by_text(f"{impossible['code']} pinned to ben").wait_for()

    await page.get_by_role("button", name="Dispatch the day").click()
    await page.get_by_text("Dispatched 3 visits.").wait_for()
    assert await page.locator("li.status-dispatched").count() == 3

    ada_visits = await page.locator('section[data-technician="ada"] li.visit').count()
    await page.get_by_role("button", name="Mark ada sick").click()
    await page.get_by_text(f"ada is off; {ada_visits} visits re-planned.").wait_for(timeout=30_000)
    assert await page.locator('section[data-technician="ada"]').count() == 0
    await screenshot(page, "dispatch-board-sick")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280

    await page.get_by_role("link", name="Next day").click()
    await page.wait_for_url(f"{live_server}/dispatch?date=2026-12-08")
    assert "Dispatch Tuesday 2026-12-08" in await page.locator("h1").inner_text()
    await context.close()
