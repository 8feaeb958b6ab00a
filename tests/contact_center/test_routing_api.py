"""Routing through the API with the real engine: presence, offers, accept races, time-outs, restarts, figures.

Every test runs on both routing backends: in-process memory, and Redis (the real server, a random key prefix).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from contact_center.settings import ConfigError
from contact_center.web.app import create_app
from contact_center.web.keys import DISPATCHER
from tests.conftest import PASSWORD, Api

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def settings(request, settings):
    """Extend the suite's settings with the routing backend of this run."""
    if request.param == "memory":
        yield settings
        return
    prefix = f"test:{secrets.token_hex(6)}:"
    yield replace(settings, redis_url=REDIS_URL, redis_prefix=prefix)
    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def setup_queue(login):
    sam = await login("sam")
    await sam.post("/api/v1/skills", {"name": "billing"}, expect=201)
    queue = await sam.post("/api/v1/queues", {"name": "billing", "required_skills": {"billing": 3}}, expect=201)
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    for name in ("Bob", "Alice"):
        await sam.put(f"/api/v1/agents/{agents[name]}/skills", {"skills": {"billing": 8}}, expect=200)
    return sam, queue, agents


async def text_in(api, queue_id, n=1):
    return await api.post(
        "/api/v1/contacts",
        {
            "channel": "sms",
            "external_id": f"SM{n}",
            "address": f"+1415555{n:04d}",
            "body": "my bill",
            "queue_id": queue_id,
        },
        expect=201,
    )


async def test_an_sms_waits_until_an_agent_is_available_and_is_answered(login, database):
    sam, queue, agents = await setup_queue(login)
    bob = await login("bob")
    received = await text_in(sam, queue["id"])
    figures = await sam.get(f"/api/v1/queues/{queue['id']}/statistics", expect=200)
    assert [w["contact_id"] for w in figures["waiting"]] == [received["contact"]["id"]]
    assert await bob.get("/api/v1/me/offers") == []
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    [offer] = await bob.get("/api/v1/me/offers")
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    case = await sam.get(f"/api/v1/cases/{received['case']['id']}")
    assert case["assignee_id"] == agents["Bob"]
    figures = await sam.get(f"/api/v1/queues/{queue['id']}/statistics")
    assert figures["waiting"] == []
    assert figures["statistics"]["answered"] == 1
    kinds = [e["kind"] for e in await sam.get(f"/api/v1/cases/{received['case']['id']}/timeline")]
    assert "assigned" in kinds


async def test_two_accepts_at_once_exactly_one_wins(login):
    sam, queue, _ = await setup_queue(login)
    bob = await login("bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    await text_in(sam, queue["id"])
    [offer] = await bob.get("/api/v1/me/offers")
    path = f"/api/v1/reservations/{offer['reservation_id']}/accept"
    responses = await asyncio.gather(*(bob.client.post(path, headers={"X-CSRF-Token": bob.csrf}) for _ in range(2)))
    assert sorted(r.status for r in responses) == [200, 409]


async def test_someone_elses_offer_is_409_and_a_rejected_offer_goes_to_the_next_agent(login):
    sam, queue, _ = await setup_queue(login)
    bob, alice = await login("bob"), await login("alice")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    await text_in(sam, queue["id"])
    [offer] = await bob.get("/api/v1/me/offers")
    error = await alice.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=409)
    assert "reservation" in error["error"]["message"]
    await alice.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/reject", expect=200)
    assert await bob.get("/api/v1/me/offers") == []
    [alices] = await alice.get("/api/v1/me/offers")
    assert alices["contact_id"] == offer["contact_id"]


async def test_an_unanswered_offer_times_out_and_a_missing_agent_is_set_away(login, app_client, clock):
    sam, queue, agents = await setup_queue(login)
    bob = await login("bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    dispatcher = (await app_client()).app[DISPATCHER]
    for n in range(1, 4):
        await text_in(sam, queue["id"], n)
        assert len(await bob.get("/api/v1/me/offers")) == 1
        clock.advance(timedelta(seconds=16))
        await dispatcher.tick()
    state = await dispatcher.backend.get_agent(str(agents["Bob"]))
    assert state.activity.value == "away"


async def test_waiting_contacts_are_queued_again_after_a_restart(login, aiohttp_client, settings, database, clock):
    sam, queue, _ = await setup_queue(login)
    received = await text_in(sam, queue["id"])
    restarted = create_app(settings, database=database, clock=clock)
    client = await aiohttp_client(restarted)
    assert await restarted[DISPATCHER].position(received["contact"]["id"]) == 1
    await client.close()


async def test_workflow_rules_naming_unknown_skills_stop_start_up_with_file_and_line(
    aiohttp_client, settings, database, clock, tmp_path
):
    rules = tmp_path / "workflows.yaml"
    rules.write_text(
        "workflows:\n  w:\n    steps:\n      - name: experts\n        skills: {plumbing: 5}\nqueues:\n"
        "  general: {workflow: w}\n"
    )
    app = create_app(replace(settings, routing_rules=rules), database=database, clock=clock)
    with pytest.raises(ConfigError, match=r"workflows.yaml:5: .*plumbing"):
        await aiohttp_client(app)


async def test_an_expired_offer_is_409_even_before_the_timer_fires(login, clock):
    sam, queue, _ = await setup_queue(login)
    bob = await login("bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    await text_in(sam, queue["id"])
    [offer] = await bob.get("/api/v1/me/offers")
    clock.advance(timedelta(seconds=16))  # the offer rang for 15 s; no tick has run yet
    error = await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=409)
    assert error["error"]["code"] == "conflict"
    assert "expired" in error["error"]["message"]


async def test_the_timer_worker_times_out_an_unanswered_offer_and_offers_it_to_the_next_agent(
    aiohttp_client, settings, database, clock, users
):
    app = create_app(replace(settings, background_workers=True), database=database, clock=clock)
    client = await aiohttp_client(app)

    async def sign_in(persona):
        session = await aiohttp_client(client.server)
        response = await session.post(
            "/api/v1/auth/login", json={"username": f"{persona}@example.test", "password": PASSWORD}
        )
        return Api(session, (await response.json())["csrf_token"])

    sam, queue, _ = await setup_queue(sign_in)
    bob, alice = await sign_in("bob"), await sign_in("alice")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    received = await text_in(sam, queue["id"])
    [offer] = await bob.get("/api/v1/me/offers")
    await alice.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    assert await alice.get("/api/v1/me/offers") == []
    clock.advance(timedelta(seconds=16))
    # Nobody calls tick: the app's own timer worker notices the offer is due (within its idle second).
    for _ in range(100):
        if await alice.get("/api/v1/me/offers"):
            break
        await asyncio.sleep(0.05)
    [second] = await alice.get("/api/v1/me/offers")
    assert second["contact_id"] == received["contact"]["id"]
    assert await bob.get("/api/v1/me/offers") == []
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=409)
    await alice.post(f"/api/v1/reservations/{second['reservation_id']}/accept", expect=200)


@pytest.mark.parametrize("how", ["agent disabled", "user disabled"])
async def test_a_disabled_agent_leaves_routing_and_its_ringing_offer_goes_to_another(login, users, how):
    sam, queue, agents = await setup_queue(login)
    bob, alice = await login("bob"), await login("alice")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    received = await text_in(sam, queue["id"])
    assert len(await bob.get("/api/v1/me/offers")) == 1
    await alice.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    if how == "agent disabled":
        await sam.patch(f"/api/v1/agents/{agents['Bob']}", {"active": False}, expect=200)
    else:
        await alice.patch(f"/api/v1/users/{users['bob']}", {"active": False}, expect=200)
    [offer] = await alice.get("/api/v1/me/offers")
    assert offer["contact_id"] == received["contact"]["id"]
    # Bob gets nothing more, even with the queue full again.
    await text_in(sam, queue["id"], 2)
    if how == "agent disabled":
        assert await bob.get("/api/v1/me/offers") == []
    figures = await sam.get(f"/api/v1/queues/{queue['id']}/statistics")
    assert figures["waiting"][0]["contact_id"] == received["contact"]["id"]
    assert len(figures["waiting"]) == 2  # the first ringing for alice, the second waiting for her


async def test_a_contact_no_agent_could_ever_serve_is_accepted_flagged_and_kept_queued(login):
    sam, _, _ = await setup_queue(login)
    await sam.post("/api/v1/skills", {"name": "plumbing"}, expect=201)
    queue = await sam.post("/api/v1/queues", {"name": "plumbing", "required_skills": {"plumbing": 5}}, expect=201)
    bob = await login("bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    received = await text_in(sam, queue["id"])  # 201: taken in all the same
    timeline = await sam.get(f"/api/v1/cases/{received['case']['id']}/timeline")
    [flag] = [e for e in timeline if (e.get("data") or {}).get("routing") == "unserviceable"]
    assert flag["data"]["action"] == "queue"  # the default workflow's fallback: stay queued
    assert "no agent could ever serve" in flag["body"]
    assert await bob.get("/api/v1/me/offers") == []
    figures = await sam.get(f"/api/v1/queues/{queue['id']}/statistics")
    assert [w["contact_id"] for w in figures["waiting"]] == [received["contact"]["id"]]


async def test_a_disabled_agent_does_not_stop_a_restart(login, aiohttp_client, settings, database, clock):
    sam, _, agents = await setup_queue(login)
    await sam.patch(f"/api/v1/agents/{agents['Bob']}", {"active": False}, expect=200)
    restarted = create_app(settings, database=database, clock=clock)
    client = await aiohttp_client(restarted)  # start-up syncs every agent: a disabled one is simply not there
    assert await restarted[DISPATCHER].backend.get_agent(str(agents["Bob"])) is None
    assert await restarted[DISPATCHER].backend.get_agent(str(agents["Alice"])) is not None
    await client.close()
