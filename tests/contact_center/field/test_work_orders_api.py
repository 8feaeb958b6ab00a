"""Work orders over HTTP: created from a case (on its timeline), listed, edited and pinned."""

from __future__ import annotations

import pytest

from contact_center.clock import ManualClock
from contact_center.db import Database
from tests.contact_center.field.conftest import DAY, World, add_order, window

pytestmark = pytest.mark.usefixtures("users")


def body(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {"job_type": "repair", "lat": 52.01, "lon": 5.01, "duration_minutes": 45}
    values.update(changes)
    return values


async def test_an_agent_creates_a_work_order_from_a_case(world: World, login) -> None:
    bob = await login("bob")
    start, end = window(9, 12)
    created = await bob.post(
        f"/api/v1/cases/{world.wu_case}/work-orders",
        {
            "job_type": "preventive_maintenance",
            "asset": world.asset,
            "required_skills": {"gas": 1},
            "duration_minutes": 90,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "priority": 4,
            "sla_deadline": end.isoformat(),
            "parts": {"VALVE": 1},
            "notes": "Ring twice",
        },
        expect=201,
    )
    assert created["code"] == "WO-000001"
    assert created["status"] == "unscheduled"
    assert created["address"] == "Kerkstraat 1"  # the asset's site
    assert created["asset_id"] is not None
    assert created["parts"] == {"VALVE": 1}
    events = await bob.get(f"/api/v1/cases/{world.wu_case}/timeline", expect=200)
    [event] = [e for e in events if e["kind"] == "work_order"]
    assert "WO-000001" in event["body"]
    assert event["data"] == {"work_order": "WO-000001", "action": "created"}
    shown = await bob.get("/api/v1/work-orders/WO-000001", expect=200)
    assert shown == created


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({"parts": {"VALVE": 1, "FLUX-CAPACITOR": 2}}, 422, "FLUX-CAPACITOR"),
        ({"asset": "NOPE"}, 422, "NOPE"),
        ({"lat": None, "lon": None}, 400, "lat and lon"),
        ({"window_start": "2026-12-07T09:00:00+00:00"}, 400, "both ends"),
        ({"duration_minutes": 0}, 400, "duration_minutes"),
        ({"priority": 9}, 400, "priority"),
        ({"job_type": "haircut"}, 400, "job_type"),
        ({"required_skills": {"gas": 0}}, 400, "skill levels"),
    ],
)
async def test_bad_work_orders_are_refused_with_the_reason(
    world: World, login, changes: dict[str, object], status: int, words: str
) -> None:
    bob = await login("bob")
    refused = await bob.post(f"/api/v1/cases/{world.ann_case}/work-orders", body(**changes), expect=status)
    assert words in refused["error"]["message"]


async def test_who_may_create_work_orders(world: World, login) -> None:
    await (await login("tess")).post(f"/api/v1/cases/{world.ann_case}/work-orders", body(), expect=403)
    await (await login("anonymous")).post(f"/api/v1/cases/{world.ann_case}/work-orders", body(), expect=401)
    await (await login("bob")).post("/api/v1/cases/CS-999999/work-orders", body(), expect=404)


async def test_work_orders_are_listed_by_day_status_and_technician(
    database: Database, clock: ManualClock, world: World, login
) -> None:
    today = await add_order(database, clock, world.ann_case, window=window(9, 12))
    await add_order(database, clock, world.ann_case, window=window(9, 12, DAY.replace(day=8)))
    sam = await login("sam")
    await sam.post(f"/api/v1/schedule/{DAY.isoformat()}/optimise", {"seconds": 0.3}, expect=200)
    listed = await sam.get(f"/api/v1/work-orders?date={DAY.isoformat()}", expect=200)
    assert [o["code"] for o in listed] == [today]
    technician = listed[0]["technician"]
    assert [o["code"] for o in await sam.get(f"/api/v1/work-orders?technician={technician}")] == [today]
    assert len(await sam.get("/api/v1/work-orders?status=unscheduled")) == 1
    await sam.get("/api/v1/work-orders?status=lost", expect=400)


async def test_editing_and_pinning_a_work_order(database: Database, clock: ManualClock, world: World, login) -> None:
    code = await add_order(database, clock, world.ann_case)
    bob, sam = await login("bob"), await login("sam")
    changed = await bob.patch(f"/api/v1/work-orders/{code}", {"priority": 5, "notes": "Dog in garden"}, expect=200)
    assert (changed["priority"], changed["notes"]) == (5, "Dog in garden")
    refused = await bob.patch(f"/api/v1/work-orders/{code}", {"pinned_technician": "ada"}, expect=403)
    assert "dispatchers" in refused["error"]["message"]
    assert (await sam.patch(f"/api/v1/work-orders/{code}", {"pinned_technician": "ada"}))["pinned_technician"] == "ada"
    assert (await sam.patch(f"/api/v1/work-orders/{code}", {"pinned_technician": None}))["pinned_technician"] is None
    await sam.patch(f"/api/v1/work-orders/{code}", {"pinned_technician": "zed"}, expect=400)
    await sam.patch(f"/api/v1/work-orders/{code}", {"window_start": window(9, 10)[0].isoformat()}, expect=400)
    await sam.patch("/api/v1/work-orders/WO-404", {"priority": 1}, expect=404)
    events = await bob.get(f"/api/v1/cases/{world.ann_case}/timeline", expect=200)
    changes = [
        e["data"].get("changes") for e in events if e["kind"] == "work_order" and e["data"]["action"] == "updated"
    ]
    assert changes == [
        {"priority": 5, "notes": "Dog in garden"},
        {"pinned_technician": "ada"},
        {"pinned_technician": None},
    ]
