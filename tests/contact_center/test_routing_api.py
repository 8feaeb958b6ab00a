"""Routing through the API with the real engine: presence, offers, accept races, time-outs, restarts, figures."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from contact_center.settings import ConfigError
from contact_center.web.app import create_app
from contact_center.web.keys import DISPATCHER


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
