"""The dispatcher's day board as HTML: who sees it, what a lane shows, and its buttons (forms with CSRF)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from contact_center.clock import ManualClock
from contact_center.db import Database
from tests.contact_center.field.conftest import DAY, World, add_order, orders, window

pytestmark = pytest.mark.usefixtures("users")
BOARD = f"/dispatch?date={DAY.isoformat()}"


async def page(api: Any, path: str = BOARD) -> str:
    response = await api.client.get(path, allow_redirects=False)
    assert response.status == 200, response.status
    return str(await response.text())


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


async def post(api: Any, path: str, form: dict[str, str]) -> str:
    response = await api.client.post(path, data=form, allow_redirects=False)
    assert response.status == 303, (response.status, await response.text())
    return str(response.headers["Location"])


async def test_the_board_shows_lanes_and_its_buttons_change_the_day(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    code = await add_order(database, clock, world.ann_case, window=window(9, 12), address="Dorpsstraat 3")
    stuck = await add_order(database, clock, world.ann_case, required_skills={"plumbing": 9})
    sam = await login("sam")
    html = await page(sam)
    assert "Dispatch Monday 2026-12-07" in html
    assert 'href="/dispatch?date=2026-12-06"' in html
    assert 'href="/dispatch?date=2026-12-08"' in html
    assert "not planned yet" in html
    token = csrf(html)
    back = await post(sam, "/dispatch/optimise", {"csrf_token": token, "date": DAY.isoformat(), "seconds": "0.3"})
    assert back.startswith(f"/dispatch?date={DAY.isoformat()}&notice=Re-optimised")
    html = await page(sam, back)
    assert f'data-work-order="{code}"' in html
    assert "Dorpsstraat 3" in html
    assert "https://www.openstreetmap.org/?mlat=" in html
    assert "whole route" in html
    assert "plumbing 9" in html  # the unassigned job's reason
    assert f'data-work-order="{stuck}"' in html
    await post(
        sam, "/dispatch/pin", {"csrf_token": token, "date": DAY.isoformat(), "work_order": stuck, "technician": "ben"}
    )
    assert (await orders(database))[stuck].pinned_technician == "ben"
    await post(sam, "/dispatch/dispatch", {"csrf_token": token, "date": DAY.isoformat()})
    assert (await orders(database))[code].status.value == "dispatched"
    technician = (await orders(database))[code].technician
    assert technician is not None
    back = await post(sam, "/dispatch/sick", {"csrf_token": token, "date": DAY.isoformat(), "technician": technician})
    assert "re-planned" in back
    assert (await orders(database))[code].technician != technician


async def test_the_board_is_for_dispatchers_and_its_forms_need_the_token(world: World, login) -> None:
    anonymous = await login("anonymous")
    response = await anonymous.client.get(BOARD, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login?next=/dispatch")
    bob = await login("bob")
    assert (await bob.client.get(BOARD, allow_redirects=False)).status == 403
    sam = await login("sam")
    response = await sam.client.post("/dispatch/optimise", data={"date": DAY.isoformat()}, allow_redirects=False)
    assert response.status == 403
    assert (await sam.client.get("/dispatch?date=someday", allow_redirects=False)).status == 400
    assert "Dispatch" in await page(sam, "/dispatch")  # today
