"""The technician's API: the day in route order, the visit lifecycle end to end, parts, readings, notes, photos."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from aiohttp import FormData
from sqlmodel import col, select

from contact_center.models import CaseEvent, EventKind, OutboxAttachment, OutboxChannel, OutboxMessage, Role
from contact_center.services.users import do_create_user
from field_service.ledger import StockLedger
from field_service.models import Asset, MeterReading, MovementKind, StockMovement, WorkOrderRecord, WorkOrderStatus
from field_service.operations import Invoice, MaintenancePlan
from field_service.photos import MAX_PHOTO_BYTES
from field_service.problem import Location
from field_service.travel import HaversineTravel
from field_service.visits import visits_for_cases
from field_service.worklog import WorkOrderEvent, WorkOrderEventKind
from tests.channels.chat.test_chat import origin_of, receive_until
from tests.conftest import PASSWORD, START, Api
from tests.field_service.visit_day import BOILER_SITE, EMAIL, PHONE, TESS_HOME, SeededDay, seed_day, tiny_png


@pytest.fixture
async def day(database, clock, users) -> SeededDay:
    async with database.transaction() as session:
        return await seed_day(session, clock.now(), users["tess"])


@pytest.fixture
async def tom(database, clock, login, day, app_client) -> Api:
    """Another technician, with no jobs of his own."""
    async with database.transaction() as session:
        await do_create_user(
            session, username="tom@example.test", password=PASSWORD, role=Role.TECHNICIAN, now=clock.now()
        )
    client = await app_client()
    response = await client.post("/api/v1/auth/login", json={"username": "tom@example.test", "password": PASSWORD})
    return Api(client, (await response.json())["csrf_token"])


async def step(api: Api, code: str, status: str, expect: int = 200, **extra: str):
    return await api.post(f"/api/v1/work-orders/{code}/status", {"status": status, **extra}, expect=expect)


async def stock(database, location: str, sku: str) -> tuple[int, int, int]:
    async with database.transaction() as session:
        level = await StockLedger(session, START).level(location, sku)
        return level.on_hand, level.reserved, level.defective


async def test_the_day_comes_in_route_order_and_only_for_that_day(login, day):
    tess = await login("tess")
    listed = await tess.get("/api/v1/technician/jobs?date=2026-11-23", expect=200)
    assert listed["technician"] == "tess"
    assert [job["code"] for job in listed["jobs"]] == ["W-boiler", "W-socket"]
    assert (await tess.get("/api/v1/technician/jobs", expect=200))["jobs"] == listed["jobs"]
    tomorrow = await tess.get("/api/v1/technician/jobs?date=2026-11-24", expect=200)
    assert [job["code"] for job in tomorrow["jobs"]] == ["W-tomorrow"]
    await tess.get("/api/v1/technician/jobs?technician=ada", expect=403)
    await tess.get("/api/v1/technician/jobs?date=soon", expect=400)
    await tess.get("/api/v1/technician/jobs?tz=Mars/Olympus", expect=400)
    sam = await login("sam")
    assert [j["code"] for j in (await sam.get("/api/v1/technician/jobs?technician=ada", expect=200))["jobs"]] == [
        "W-ada"
    ]
    await sam.get("/api/v1/technician/jobs", expect=400)


async def test_a_visit_from_setting_off_to_done_books_parts_readings_and_events(login, day, database, clock):
    tess = await login("tess")
    set_off = await step(tess, "W-boiler", "en_route")
    drive = HaversineTravel().seconds([TESS_HOME, BOILER_SITE])[0][1]
    assert set_off["work_order"]["status"] == "en_route"
    assert set_off["eta"] == (START + timedelta(seconds=drive)).isoformat().replace("+00:00", "Z")
    async with database.transaction() as session:
        (visit,) = await visits_for_cases(session, [day.case_id])
    assert (visit.status, visit.eta, visit.status_since) == (
        WorkOrderStatus.EN_ROUTE,
        START + timedelta(seconds=drive),
        START,
    )

    async with database.transaction() as session:
        (text,) = (await session.scalars(select(OutboxMessage))).all()
    assert (text.channel, text.to_address, text.case_id) == (OutboxChannel.SMS, PHONE, day.case_id)
    assert f"{START + timedelta(seconds=drive):%H:%M}" in text.body

    clock.advance(timedelta(minutes=20))
    await step(tess, "W-boiler", "on_site")
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"FUSE": 2}, "defective": {"FUSE": 1}}, expect=201)
    reading = await tess.post("/api/v1/work-orders/W-boiler/readings", {"value": 1234.5}, expect=201)
    assert reading["value"] == 1234.5
    await tess.post("/api/v1/work-orders/W-boiler/notes", {"text": "Replaced both fuses."}, expect=201)
    # Nothing is booked until the job is done.
    assert await stock(database, "VAN-TESS", "FUSE") == (2, 1, 0)

    clock.advance(timedelta(minutes=40))
    done = await step(tess, "W-boiler", "completed")
    assert done["work_order"]["status"] == "completed"
    assert done["eta"] is None
    # One fuse came from the hold, the second from the van's free stock; the defective one went to the warehouse.
    assert await stock(database, "VAN-TESS", "FUSE") == (0, 0, 0)
    assert await stock(database, "WH", "FUSE") == (0, 0, 1)
    async with database.transaction() as session:
        readings = (await session.execute(select(MeterReading))).scalars().all()
        assert [(r.asset_id, r.value, r.actor) for r in readings] == [(day.asset_id, 1234.5, "Tess")]
        order = (await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == "W-boiler"))).scalar_one()
        events = (
            (
                await session.execute(
                    select(WorkOrderEvent)
                    .where(WorkOrderEvent.work_order_id == order.id)
                    .order_by(col(WorkOrderEvent.id))
                )
            )
            .scalars()
            .all()
        )
        timeline = (
            (
                await session.execute(
                    select(CaseEvent).where(CaseEvent.case_id == day.case_id, CaseEvent.kind == EventKind.WORK_ORDER)
                )
            )
            .scalars()
            .all()
        )
    assert [(e.kind, e.data.get("to"), e.actor) for e in events] == [
        (WorkOrderEventKind.STATUS, "en_route", "Tess"),
        (WorkOrderEventKind.STATUS, "on_site", "Tess"),
        (WorkOrderEventKind.PARTS, None, "Tess"),
        (WorkOrderEventKind.READING, None, "Tess"),
        (WorkOrderEventKind.NOTE, None, "Tess"),
        (WorkOrderEventKind.STATUS, "completed", "Tess"),
    ]
    assert [e.created_at for e in events][-1] == START + timedelta(hours=1)
    assert [e.data["step"] for e in timeline] == ["status", "status", "parts", "reading", "note", "status"]
    assert timeline[4].body == "Replaced both fuses."
    assert all(not e.public and e.actor_name == "Tess" for e in timeline)

    history = await tess.get("/api/v1/assets/A-boiler/history", expect=200)
    assert history["asset"]["product"] == "Boiler X200"
    assert [(v["work_order"], v["status"], v["parts_used"]) for v in history["visits"]] == [
        ("W-boiler", "completed", {"FUSE": 2})
    ]
    assert [(r["value"], r["work_order"]) for r in history["readings"]] == [(1234.5, "W-boiler")]
    await tess.get("/api/v1/assets/A-nope/history", expect=404)
    await step(tess, "W-boiler", "on_site", expect=409)


async def test_steps_out_of_order_are_refused_with_a_reason(login, day):
    tess = await login("tess")
    refused = await step(tess, "W-boiler", "on_site", expect=409)
    assert "en route" in refused["error"]["message"]
    await step(tess, "W-boiler", "completed", expect=409)
    await tess.post("/api/v1/work-orders/W-boiler/readings", {"value": 1}, expect=409)
    await step(tess, "W-boiler", "en_route")
    await step(tess, "W-boiler", "en_route", expect=409)
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"FUSE": 1}}, expect=409)
    no_reason = await step(tess, "W-boiler", "cannot_complete", expect=409)
    assert "why" in no_reason["error"]["message"]
    await step(tess, "W-boiler", "bogus", expect=400)
    await step(tess, "W-nope", "en_route", expect=404)


async def test_setting_off_after_a_job_counts_from_that_jobs_site(login, day, clock):
    tess = await login("tess")
    await step(tess, "W-boiler", "en_route")
    await step(tess, "W-boiler", "on_site")
    await step(tess, "W-boiler", "cannot_complete", reason="Nobody home")
    clock.advance(timedelta(hours=3))
    set_off = await step(tess, "W-socket", "en_route")
    socket = await tess.get("/api/v1/technician/jobs", expect=200)
    site = next(j for j in socket["jobs"] if j["code"] == "W-socket")
    drive = HaversineTravel().seconds([BOILER_SITE, Location(site["lat"], site["lon"])])[0][1]
    assert set_off["eta"] == (clock.now() + timedelta(seconds=drive)).isoformat().replace("+00:00", "Z")


async def test_short_stock_refuses_the_completion_and_books_nothing(login, day, database):
    tess = await login("tess")
    await step(tess, "W-boiler", "en_route")
    await step(tess, "W-boiler", "on_site")
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"FUSE": 1, "VALVE": 2}}, expect=201)
    refused = await step(tess, "W-boiler", "completed", expect=409)
    assert "VALVE" in refused["error"]["message"]
    assert await stock(database, "VAN-TESS", "FUSE") == (2, 1, 0)
    assert await stock(database, "VAN-TESS", "VALVE") == (1, 0, 0)
    async with database.transaction() as session:
        booked = (
            await session.execute(select(StockMovement).where(StockMovement.kind == MovementKind.CONSUMPTION))
        ).all()
        assert booked == []
        order = (await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == "W-boiler"))).scalar_one()
        assert order.status is WorkOrderStatus.ON_SITE
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"NOPE": 1}}, expect=400)
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"FUSE": 0}}, expect=400)
    await tess.post("/api/v1/work-orders/W-boiler/parts", {}, expect=400)


async def test_cannot_complete_releases_what_the_job_held_and_keeps_the_reason(login, day, database):
    tess = await login("tess")
    await step(tess, "W-boiler", "en_route")
    await step(tess, "W-boiler", "cannot_complete", reason="Road closed")
    assert await stock(database, "VAN-TESS", "FUSE") == (2, 0, 0)
    history = await tess.get("/api/v1/assets/A-boiler/history", expect=200)
    assert [(v["status"], v["reason"]) for v in history["visits"]] == [("cannot_complete", "Road closed")]
    await tess.post("/api/v1/work-orders/W-boiler/notes", {"text": "late"}, expect=409)


async def test_only_the_assigned_technician_or_a_supervisor_moves_a_job(login, day, tom):
    tess, sam, bob = await login("tess"), await login("sam"), await login("bob")
    await step(tess, "W-ada", "en_route", expect=403)
    await step(tom, "W-boiler", "en_route", expect=403)
    await step(bob, "W-boiler", "en_route", expect=403)
    moved = await step(sam, "W-ada", "en_route")
    assert moved["eta"] is not None
    await tom.get("/api/v1/technician/jobs", expect=404)


async def test_photos_are_typed_by_their_bytes_capped_and_shown_only_to_staff_and_the_technician(login, day, tom):
    tess, bob = await login("tess"), await login("bob")
    await step(tess, "W-boiler", "en_route")

    async def upload(api: Api, content: bytes, content_type: str = "image/png", code: str = "W-boiler"):
        form = FormData()
        form.add_field("photo", io.BytesIO(content), filename="snap.png", content_type=content_type)
        response = await api.client.post(
            f"/api/v1/work-orders/{code}/photos", data=form, headers={"X-CSRF-Token": api.csrf}
        )
        return response.status, await response.json()

    status, photo = await upload(tess, tiny_png(), "application/octet-stream")
    assert (status, photo["media_type"]) == (201, "image/png"), photo
    status, refused = await upload(tess, b"<script>alert(1)</script>", "image/jpeg")
    assert (status, refused["error"]["code"]) == (415, "unsupported_media_type")
    # A camera's photo is bigger than the 2 MB the app allows other bodies, and fits.
    status, big = await upload(tess, b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES - 3), "image/jpeg")
    assert (status, big["size"]) == (201, MAX_PHOTO_BYTES)
    status, _ = await upload(tess, b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES), "image/jpeg")
    assert status == 413
    status, _ = await upload(tess, b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES + 200_000), "image/jpeg")
    assert status == 413
    status, _ = await upload(tom, tiny_png())
    assert status == 403
    await tess.post("/api/v1/work-orders/W-boiler/photos", {"photo": "x"}, expect=400)

    for viewer in (tess, bob):
        response = await viewer.client.get(photo["url"])
        assert response.status == 200
        assert await response.read() == tiny_png()
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == f'inline; filename="W-boiler-photo-{photo["id"]}.png"'
    assert (await tom.client.get(photo["url"])).status == 403
    assert (await tess.client.get("/api/v1/work-orders/W-socket/photos/" + str(photo["id"]))).status == 404
    assert (await tess.client.get("/api/v1/work-orders/W-boiler/photos/x1")).status == 404


async def test_a_mistaken_part_is_corrected_before_completion(login, day, database):
    tess = await login("tess")
    await step(tess, "W-boiler", "en_route")
    await step(tess, "W-boiler", "on_site")
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"FUSE": 2, "VALVE": 1}}, expect=201)
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"FUSE": 1}, "replace": True}, expect=201)
    await tess.post("/api/v1/work-orders/W-boiler/parts", {"used": {"VALVE": 0}, "replace": True}, expect=201)
    await step(tess, "W-boiler", "completed")
    assert await stock(database, "VAN-TESS", "FUSE") == (1, 0, 0)
    assert await stock(database, "VAN-TESS", "VALVE") == (1, 0, 0)


async def test_agent_desktops_hear_when_a_cases_visit_moves(login, day):
    tess, bob = await login("tess"), await login("bob")
    ws = await bob.client.ws_connect("/desktop/ws", headers={"Origin": origin_of(bob.client)})
    await receive_until(ws, "hello")
    set_off = await step(tess, "W-boiler", "en_route")
    heard = await receive_until(ws, "visit")
    assert (heard["case_id"], heard["work_order"], heard["status"]) == (day.case_id, "W-boiler", "en_route")
    assert heard["eta"] == set_off["eta"].replace("Z", "+00:00")
    # A job that belongs to no case is nobody's news on the desktop.
    await step(tess, "W-socket", "en_route")
    await step(tess, "W-boiler", "on_site")
    assert (await receive_until(ws, "visit"))["status"] == "on_site"
    await ws.close()


async def test_completing_a_job_out_of_warranty_invoices_it_and_moves_its_maintenance_plan_on(
    login, day, database, clock
):
    async with database.transaction() as session:
        asset = await session.get(Asset, day.asset_id)
        assert asset is not None
        asset.warranty_end = START.date() - timedelta(days=30)
        order = (await session.execute(select(WorkOrderRecord).where(WorkOrderRecord.code == "W-boiler"))).scalar_one()
        plan = MaintenancePlan(
            asset_id=day.asset_id,
            name="Yearly boiler service",
            interval_days=365,
            last_service_on=START.date() - timedelta(days=360),
            open_work_order_id=order.id,
            open_due_on=START.date() + timedelta(days=5),
            created_at=START,
            updated_at=START,
        )
        session.add(plan)
    tess = await login("tess")
    for status in ("en_route", "on_site", "completed"):
        await step(tess, "W-boiler", status)

    async with database.transaction() as session:
        (invoice,) = (await session.scalars(select(Invoice))).all()
        emails = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.EMAIL))
        ).all()
        attachments = (await session.scalars(select(OutboxAttachment))).all()
        moved = await session.get(MaintenancePlan, plan.id)
    assert (invoice.work_order_id, invoice.email) == (order.id, EMAIL)
    assert invoice.total_cents > 0
    assert [m.id for m in emails] == [invoice.outbox_message_id]
    assert [(a.message_id, a.content_type, a.content[:5]) for a in attachments] == [
        (invoice.outbox_message_id, "application/pdf", b"%PDF-")
    ]
    assert moved is not None
    assert (moved.last_service_on, moved.open_work_order_id) == (START.date(), None)
