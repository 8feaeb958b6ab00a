"""Scale-out: two server processes (two apps) share one case store and one routing state in Redis."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from contact_center.web.app import create_app
from tests.conftest import PASSWORD, Api

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_settings(settings):
    prefix = f"test:{secrets.token_hex(6)}:"
    yield replace(settings, redis_url=REDIS_URL, redis_prefix=prefix)
    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def sign_in(client, persona: str) -> Api:
    response = await client.post(
        "/api/v1/auth/login", json={"username": f"{persona}@example.test", "password": PASSWORD}
    )
    assert response.status == 200
    return Api(client, (await response.json())["csrf_token"])


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_contact_taken_in_by_one_process_is_offered_and_accepted_through_another(
    aiohttp_client, redis_settings, database, clock, users
):
    first = await aiohttp_client(create_app(redis_settings, database=database, clock=clock))
    second = await aiohttp_client(create_app(redis_settings, database=database, clock=clock))
    sam = await sign_in(await aiohttp_client(second.server), "sam")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    queue = await sam.post("/api/v1/queues", {"name": "billing", "required_skills": {"billing": 3}}, expect=201)
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    await sam.put(f"/api/v1/agents/{agents['Bob']}/skills", {"skills": {"billing": 8}}, expect=200)

    bob_on_first, bob_on_second = await sign_in(first, "bob"), await sign_in(second, "bob")
    await bob_on_first.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    received = await sam.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM-x", "address": "+14155550100", "queue_id": queue["id"]},
        expect=201,
    )
    [offer] = await bob_on_first.get("/api/v1/me/offers")
    assert offer["contact_id"] == received["contact"]["id"]
    path = f"/api/v1/reservations/{offer['reservation_id']}/accept"
    answers = await asyncio.gather(
        bob_on_first.client.post(path, headers={"X-CSRF-Token": bob_on_first.csrf}),
        bob_on_second.client.post(path, headers={"X-CSRF-Token": bob_on_second.csrf}),
    )
    assert sorted(a.status for a in answers) == [200, 409]
    case = await sam.get(f"/api/v1/cases/{received['case']['id']}")
    assert case["assignee_id"] == agents["Bob"]
    figures = await sam.get(f"/api/v1/queues/{queue['id']}/statistics")
    assert figures["statistics"]["answered"] == 1
