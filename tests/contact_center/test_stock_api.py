"""Stock over HTTP and on the stock page: alerts, purchase requests, where a part is, transfer requests."""

from __future__ import annotations

import re

from sqlmodel import select

from contact_center.models import User
from field_service.ledger import StockLedger
from field_service.models import StockLocation, TechnicianRecord, WorkOrderRecord
from field_service.problem import JobType
from tests.field_service.test_ledger import NOW, stock_up

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def depot(database, users) -> None:
    """The ledger tests' stock, a reorder point of 5 fuses at the warehouse, tess as ben with Ben's van, W1 hers."""
    await stock_up(database)
    async with database.transaction() as session:
        await StockLedger(session, NOW).set_reorder_point("WH-NORTH", "FUSE-10A", 5, 20)
        vans = {loc.code: loc.id for loc in (await session.execute(select(StockLocation))).scalars()}
        tess = (await session.execute(select(User).where(User.id == users["tess"]))).scalar_one()
        session.add(
            TechnicianRecord(
                code="ben", name="Ben", user_id=tess.id, home_lat=52.1, home_lon=4.9, van_id=vans["VAN-BEN"]
            )
        )
        session.add(TechnicianRecord(code="ada", name="Ada", home_lat=52.35, home_lon=4.9, van_id=vans["VAN-ADA"]))
        for code, technician in (("W1", "ben"), ("W2", "ada")):
            session.add(
                WorkOrderRecord(
                    code=code,
                    job_type=JobType.REPAIR,
                    lat=52.12,
                    lon=4.9,
                    duration_minutes=30,
                    technician=technician,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


async def test_a_dispatcher_follows_an_alert_to_a_received_purchase(database, users, login) -> None:
    await depot(database, users)
    sam = await login("sam")
    assert await sam.get("/api/v1/stock/alerts", expect=200) == []
    async with database.transaction() as session:
        await StockLedger(session, NOW).consume("WH-NORTH", "FUSE-10A", 3, "W9")  # 5 left: at the point
    [alert] = await sam.get("/api/v1/stock/alerts", expect=200)
    assert (alert["location"], alert["sku"], alert["available"]) == ("WH-NORTH", "FUSE-10A", 5)
    [request] = await sam.get("/api/v1/purchase-requests?status=open", expect=200)
    assert (request["id"], request["quantity"]) == (alert["purchase_request"], 20)
    conflict = await sam.post("/api/v1/purchase-requests", {"location": "WH-NORTH", "sku": "FUSE-10A", "quantity": 1})
    assert conflict["error"]["code"] == "conflict"
    refused = await sam.post(f"/api/v1/purchase-requests/{request['id']}/receive", {}, expect=409)
    assert "approve it first" in refused["error"]["message"]
    await sam.post(f"/api/v1/purchase-requests/{request['id']}/approve", expect=200)
    received = await sam.post(f"/api/v1/purchase-requests/{request['id']}/receive", {}, expect=200)
    assert received["status"] == "received"
    assert await sam.get("/api/v1/stock/alerts", expect=200) == []
    await sam.post("/api/v1/purchase-requests/999/approve", expect=404)
    bad = await sam.post(
        "/api/v1/purchase-requests", {"location": "NOWHERE", "sku": "FUSE-10A", "quantity": 2}, expect=400
    )
    assert "no stock location" in bad["error"]["message"]
    made = await sam.post(
        "/api/v1/purchase-requests", {"location": "VAN-BEN", "sku": "VALVE", "quantity": 2}, expect=201
    )
    assert (await sam.post(f"/api/v1/purchase-requests/{made['id']}/cancel", expect=200))["status"] == "cancelled"
    await (await login("tess")).get("/api/v1/purchase-requests", expect=403)


async def test_a_technician_sees_where_a_part_is_and_asks_for_it(database, users, login) -> None:
    await depot(database, users)
    tess = await login("tess")
    where = await tess.get("/api/v1/parts/FUSE-10A/where?near=W1", expect=200)
    assert [(p["location"], p["group"], p["available"]) for p in where["places"]] == [
        ("VAN-ADA", "van", 2),
        ("WH-NORTH", "warehouse", 8),
    ]
    assert where["places"][0]["km"] > 20
    await tess.get("/api/v1/parts/FUSE-10A/where?near=W2", expect=403)  # Ada's job
    await tess.get("/api/v1/parts/FUSE-10A/where?near=W404", expect=404)
    await tess.get("/api/v1/parts/NOPE/where?near=W1", expect=400)
    asked = await tess.post(
        "/api/v1/transfer-requests",
        {"work_order": "W1", "sku": "FUSE-10A", "quantity": 2, "source": "VAN-ADA"},
        expect=201,
    )
    assert (asked["destination"], asked["status"]) == ("VAN-BEN", "requested")
    short = await tess.post(
        "/api/v1/transfer-requests",
        {"work_order": "W1", "sku": "FUSE-10A", "quantity": 1, "source": "VAN-ADA"},
        expect=409,
    )
    assert "available" in short["error"]["message"]
    # Tess cannot ship from Ada's van; the dispatcher can.
    await tess.post(f"/api/v1/transfer-requests/{asked['id']}/ship", expect=403)
    sam = await login("sam")
    shipped = await sam.post(f"/api/v1/transfer-requests/{asked['id']}/ship", expect=200)
    assert shipped["status"] == "shipped"
    [listed] = await tess.get("/api/v1/transfer-requests", expect=200)
    assert listed["id"] == asked["id"]
    where = await tess.get("/api/v1/parts/FUSE-10A/where?near=W1", expect=200)
    assert where["places"][0]["location"] == "VAN-BEN"
    assert where["places"][0]["group"] == "own_van"


async def test_the_stock_page_shows_levels_and_acts_on_requests(database, users, login, app_client) -> None:
    await depot(database, users)
    async with database.transaction() as session:
        await StockLedger(session, NOW).consume("WH-NORTH", "FUSE-10A", 4, "W9")
    bob = await login("bob")
    response = await bob.client.get("/stock", allow_redirects=False)
    assert response.status == 403
    sam = await login("sam")
    page = await (await sam.client.get("/stock")).text()
    assert 'id="alerts"' in page
    assert 'data-level="WH-NORTH/FUSE-10A"' in page
    csrf = CSRF.search(page).group(1)
    approve = await sam.client.post(
        "/stock/purchase-requests/1/approve", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert approve.status == 303
    again = await sam.client.post("/stock/purchase-requests/1/approve", data={"csrf_token": csrf})
    assert again.status == 400
    assert "is approved, not open" in await again.text()
    forged = await sam.client.post("/stock/purchase-requests/1/receive", data={}, allow_redirects=False)
    assert forged.status == 403
    anonymous = await app_client()
    assert (await anonymous.get("/stock", allow_redirects=False)).status == 302


async def test_a_technician_withdraws_requests_for_their_own_jobs_only(database, users, login) -> None:
    await depot(database, users)
    sam, tess = await login("sam"), await login("tess")
    for_ada = await sam.post(
        "/api/v1/transfer-requests",
        {"work_order": "W2", "sku": "FUSE-10A", "quantity": 1, "source": "WH-NORTH"},
        expect=201,
    )
    for_ben = await sam.post(
        "/api/v1/transfer-requests",
        {"work_order": "W1", "sku": "FUSE-10A", "quantity": 1, "source": "WH-NORTH"},
        expect=201,
    )
    await tess.post(f"/api/v1/transfer-requests/{for_ada['id']}/cancel", expect=403)
    # Asked by the dispatcher, but for Tess's job: hers to withdraw.
    withdrawn = await tess.post(f"/api/v1/transfer-requests/{for_ben['id']}/cancel", expect=200)
    assert withdrawn["status"] == "cancelled"
    assert (await sam.post(f"/api/v1/transfer-requests/{for_ada['id']}/cancel", expect=200))["status"] == "cancelled"
