"""Technicians over HTTP: admins add and change them; shifts are checked by the scheduler's own rules."""

from __future__ import annotations

import pytest

from contact_center.clock import ManualClock
from contact_center.db import Database
from field_service.ledger import StockLedger
from field_service.models import LocationKind
from field_service.store import load_problem
from tests.contact_center.field.conftest import DAY, TZ, World

WEEK = {
    str(weekday): {
        "start": "08:00",
        "end": "16:30",
        "breaks": [{"earliest": "12:00", "latest": "12:30", "minutes": 30}],
    }
    for weekday in range(5)
}


def body(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "code": "cleo",
        "name": "Cleo Park",
        "skills": {"network": 3, "electrical": 2},
        "home_lat": 52.05,
        "home_lon": 5.0,
        "shifts": WEEK,
        "days_off": ["2026-12-24"],
    }
    values.update(changes)
    return values


async def test_an_admin_adds_a_technician_who_then_is_planned(
    database: Database, clock: ManualClock, world: World, users: dict[str, int], login
) -> None:
    async with database.transaction() as session:
        await StockLedger(session, clock.now()).add_location(
            "VAN-CLEO", "Cleo's van", LocationKind.VAN, technician="cleo", warehouse="WH"
        )
    alice = await login("alice")
    created = await alice.post("/api/v1/technicians", body(van="VAN-CLEO", user_id=users["tess"]), expect=201)
    assert created["shifts"]["0"] == WEEK["0"]
    assert created["user_id"] == users["tess"]
    assert created["van_id"] is not None
    async with database.transaction() as session:
        problem = await load_problem(session, DAY, TZ)
    cleo = next(t for t in problem.technicians if t.id == "cleo")
    assert cleo.warehouse == "WH"
    assert cleo.shift_on(DAY) is not None
    changed = await alice.patch("/api/v1/technicians/cleo", {"skills": {"network": 4}, "van": None}, expect=200)
    assert (changed["skills"], changed["van_id"], changed["user_id"]) == ({"network": 4}, None, users["tess"])
    listed = await (await login("sam")).get("/api/v1/technicians", expect=200)
    assert [t["code"] for t in listed] == ["ada", "ben", "cleo"]


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({"shifts": {"0": {"start": "09:00", "end": "08:00"}}}, 400, "end after it starts"),
        (
            {
                "shifts": {
                    "1": {
                        "start": "09:00",
                        "end": "17:00",
                        "breaks": [{"earliest": "18:00", "latest": "18:30", "minutes": 15}],
                    }
                }
            },
            400,
            "within its shift",
        ),
        ({"shifts": {"7": {"start": "09:00", "end": "17:00"}}}, 400, "weekday"),
        ({"van": "WH"}, 400, "not a van"),
        ({"code": "ada"}, 409, "exists already"),
        ({"code": "has space"}, 400, "code"),
        ({"home_lat": 91}, 400, "home_lat"),
    ],
)
async def test_bad_technicians_are_refused(
    world: World, users: dict[str, int], login, changes: dict[str, object], status: int, words: str
) -> None:
    refused = await (await login("alice")).post("/api/v1/technicians", body(**changes), expect=status)
    assert words in refused["error"]["message"]


async def test_only_a_technician_user_can_be_linked(world: World, users: dict[str, int], login) -> None:
    refused = await (await login("alice")).post("/api/v1/technicians", body(user_id=users["bob"]), expect=400)
    assert "not a technician" in refused["error"]["message"]


async def test_who_may_manage_technicians(world: World, users: dict[str, int], login) -> None:
    sam = await login("sam")
    await sam.post("/api/v1/technicians", body(), expect=403)
    await sam.patch("/api/v1/technicians/ada", {"name": "Ada"}, expect=403)
    await (await login("bob")).get("/api/v1/technicians", expect=403)
    await (await login("alice")).patch("/api/v1/technicians/nobody", {"name": "X"}, expect=404)
