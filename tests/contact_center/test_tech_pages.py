"""The technician's phone pages over HTTP: who sees what, forms with CSRF that redirect, refusals that explain."""

from __future__ import annotations

import io
import re

import pytest
from aiohttp import FormData

from contact_center.web.api.technician import photo_url
from field_service.ledger import StockLedger
from field_service.photos import MAX_PHOTO_BYTES
from field_service.transfers import transfer_requests
from tests.conftest import Api
from tests.field_service.visit_day import EMAIL, PHONE, SeededDay, seed_day, tiny_png


@pytest.fixture
async def day(database, clock, users) -> SeededDay:
    async with database.transaction() as session:
        return await seed_day(session, clock.now(), users["tess"])


async def page(api: Api, path: str, expect: int = 200) -> str:
    response = await api.client.get(path, allow_redirects=False)
    assert response.status == expect, (path, response.status)
    return await response.text()


async def post_form(api: Api, path: str, fields: dict[str, str], *, csrf: bool = True):
    data = {**fields, **({"csrf_token": api.csrf or ""} if csrf else {})}
    return await api.client.post(path, data=data, allow_redirects=False)


async def test_signed_out_people_are_sent_to_sign_in_and_agents_are_turned_away(login, day):
    anonymous = await login("anonymous")
    response = await anonymous.client.get("/tech", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login?next=/tech")
    await page(await login("bob"), "/tech", 403)
    await page(await login("bob"), "/tech/jobs/W-boiler", 403)


async def test_the_day_and_the_job_show_what_the_technician_needs(login, day):
    tess = await login("tess")
    html = await page(tess, "/tech")
    assert html.index("W-boiler street 1") < html.index("W-socket street 1")
    assert "W-ada" not in html
    assert "W-tomorrow street 1" in await page(tess, "/tech?date=2026-11-24")
    await page(tess, "/tech?date=tomorrow", 400)
    await page(tess, "/tech?technician=ada", 403)
    job = await page(tess, "/tech/jobs/W-boiler")
    assert f'href="tel:{PHONE}"' in job
    assert f'href="mailto:{EMAIL}"' in job
    assert re.search(r'href="geo:[\d.]+,[\d.]+\?q=', job)
    assert 'href="https://www.openstreetmap.org/?mlat=' in job
    assert 'accept="image/*" capture="environment"' in job
    assert "Boiler X200" in job
    assert "<script" not in job
    await page(tess, "/tech/jobs/W-ada", 403)
    await page(tess, "/tech/jobs/W-nope", 404)


async def test_supervisors_view_any_technicians_day(login, day):
    sam = await login("sam")
    assert "W-ada street 1" in await page(sam, "/tech?technician=ada")
    assert "Repair" in await page(sam, "/tech/jobs/W-ada")
    picker = await page(sam, "/tech")
    assert picker.index('href="/tech?technician=ada"') < picker.index('href="/tech?technician=tess"')


async def test_forms_post_then_redirect_and_refusals_say_why(login, day):
    tess = await login("tess")
    response = await post_form(tess, "/tech/jobs/W-boiler/status", {"status": "en_route"}, csrf=False)
    assert response.status == 403
    response = await post_form(tess, "/tech/jobs/W-boiler/status", {"status": "on_site"})
    assert response.status == 409
    assert "can go en route next" in await response.text()
    response = await post_form(tess, "/tech/jobs/W-boiler/status", {"status": "en_route"})
    assert (response.status, response.headers["Location"]) == (303, "/tech/jobs/W-boiler")
    assert "ETA" in await page(tess, "/tech/jobs/W-boiler")
    response = await post_form(tess, "/tech/jobs/W-boiler/parts", {"sku": "FUSE", "used": "1"})
    assert response.status == 409
    assert "once on site" in await response.text()
    await post_form(tess, "/tech/jobs/W-boiler/status", {"status": "on_site"})
    response = await post_form(tess, "/tech/jobs/W-boiler/parts", {"sku": "FUSE", "used": "x"})
    assert response.status == 400
    assert (await post_form(tess, "/tech/jobs/W-boiler/parts", {"sku": "FUSE", "used": "3"})).status == 303
    assert "Used 3 \u00d7 Fuse 13 A" in await page(tess, "/tech/jobs/W-boiler")
    assert (await post_form(tess, "/tech/jobs/W-boiler/parts", {"sku": "FUSE", "remove": "1"})).status == 303
    assert 'id="parts-recorded"' not in await page(tess, "/tech/jobs/W-boiler")
    response = await post_form(tess, "/tech/jobs/W-boiler/readings", {"value": "lots"})
    assert response.status == 400
    response = await post_form(tess, "/tech/jobs/W-boiler/notes", {"text": "Cellar is flooded."})
    assert response.status == 303
    assert "Cellar is flooded." in await page(tess, "/tech/jobs/W-boiler")
    response = await post_form(tess, "/tech/jobs/W-boiler/status", {"status": "cannot_complete", "reason": ""})
    assert response.status == 409
    response = await post_form(tess, "/tech/jobs/W-boiler/status", {"status": "cannot_complete", "reason": "Flood"})
    assert response.status == 303
    closed = await page(tess, "/tech/jobs/W-boiler")
    assert "cannot complete" in closed
    assert 'action="/tech/jobs/W-boiler/notes"' not in closed


async def test_photos_from_the_page_are_checked_and_shown(login, day):
    tess = await login("tess")

    async def upload(content: bytes, *, csrf: bool = True):
        form = FormData()
        if csrf:
            form.add_field("csrf_token", tess.csrf or "")
        form.add_field("photo", io.BytesIO(content), filename="x.jpg", content_type="image/jpeg")
        return await tess.client.post("/tech/jobs/W-boiler/photos", data=form, allow_redirects=False)

    assert (await upload(tiny_png(), csrf=False)).status == 403
    wrong = await upload(b"GIF89a not a photo")
    assert wrong.status == 415
    assert "not a JPEG, PNG, WebP or HEIC" in await wrong.text()
    assert (await upload(b"\xff\xd8\xff" + b"\0" * (MAX_PHOTO_BYTES + 100_000))).status == 413
    accepted = await upload(tiny_png())
    assert accepted.status == 303
    html = await page(tess, "/tech/jobs/W-boiler")
    (url,) = re.findall(r'<img src="([^"]+)"', html)
    assert url == photo_url("W-boiler", int(url.rsplit("/", 1)[1]))


async def test_times_show_in_the_zone_asked_for_and_forms_keep_it(login, day):
    tess = await login("tess")
    day_page = await page(tess, "/tech?tz=Europe/Amsterdam")
    assert "11:30\u201312:30" in day_page
    assert 'href="/tech/jobs/W-boiler?tz=Europe/Amsterdam"' in day_page
    job = await page(tess, "/tech/jobs/W-boiler?tz=Europe/Amsterdam")
    assert 'action="/tech/jobs/W-boiler/status?tz=Europe/Amsterdam"' in job
    response = await post_form(tess, "/tech/jobs/W-boiler/status?tz=Europe/Amsterdam", {"status": "en_route"})
    assert (response.status, response.headers["Location"]) == (303, "/tech/jobs/W-boiler?tz=Europe/Amsterdam")
    await page(tess, "/tech?tz=Mars/Olympus", 400)


async def test_a_part_the_job_needs_is_found_elsewhere_and_asked_for_from_the_page(login, day, database, clock):
    async with database.transaction() as session:
        ledger = StockLedger(session, clock.now(), "stores")
        await ledger.receive("WH", "FUSE", 5)
        await ledger.receive("VAN-ADA", "FUSE", 1)
    tess = await login("tess")
    job = await page(tess, "/tech/jobs/W-boiler")
    # Ada's van comes before the warehouse; Tess's own van is not "elsewhere".
    assert job.index("VAN-ADA: 1 available") < job.index("WH: 5 available")
    assert "VAN-TESS:" not in job

    response = await post_form(tess, "/tech/jobs/W-boiler/transfers", {"sku": "FUSE", "source": "WH", "quantity": "1"})
    assert (response.status, response.headers["Location"]) == (303, "/tech/jobs/W-boiler")
    assert "1 \u00d7 Fuse 13 A from WH · requested" in await page(tess, "/tech/jobs/W-boiler")
    async with database.transaction() as session:
        (transfer,) = await transfer_requests(session, work_order="W-boiler")
        level = await StockLedger(session, clock.now()).level("WH", "FUSE")
    assert (transfer.source, transfer.destination, transfer.quantity) == ("WH", "VAN-TESS", 1)
    assert level.reserved == 1  # held at the warehouse until it ships

    too_many = await post_form(tess, "/tech/jobs/W-boiler/transfers", {"sku": "FUSE", "source": "WH", "quantity": "9"})
    assert too_many.status == 409
    assert (
        await post_form(tess, "/tech/jobs/W-ada/transfers", {"sku": "FUSE", "source": "WH", "quantity": "1"})
    ).status == 403
    assert (await post_form(tess, "/tech/jobs/W-boiler/transfers", {"sku": "FUSE", "source": "WH"})).status == 400
