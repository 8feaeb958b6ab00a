"""A whole call through the real routing engine: IVR -> queue -> offer -> the agent accepts -> bridged by Twilio."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from contact_center.models import Case, Contact
from contact_center.web.app import create_app
from tests.channels.twilio.conftest import ALICE, Twilio
from tests.channels.twilio.test_voice import call, next_url
from tests.conftest import PASSWORD, Api


@pytest.fixture
async def center(aiohttp_client, twilio_settings, database, clock, options, users):
    """One app serving Twilio's webhooks and the agents' API, with the real dispatcher behind both."""
    app = create_app(twilio_settings, database=database, clock=clock, twilio_options=options)
    client = await aiohttp_client(app)
    return client


async def sign_in(client, persona: str) -> Api:
    response = await client.post(
        "/api/v1/auth/login", json={"username": f"{persona}@example.test", "password": PASSWORD}
    )
    assert response.status == 200
    return Api(client, (await response.json())["csrf_token"])


async def test_a_caller_is_queued_offered_accepted_and_bridged(center, customers, fake_twilio, database, clock):
    supervisor = await sign_in(center, "sam")
    await supervisor.post("/api/v1/skills", {"name": "technical"}, expect=201)
    agents = {a["name"]: a["id"] for a in await supervisor.get("/api/v1/agents")}
    bob_agent = agents["Bob"]
    await supervisor.put(f"/api/v1/agents/{bob_agent}/skills", {"skills": {"technical": 7}}, expect=200)

    twilio = Twilio(center)
    sid = "CA" + "b" * 32
    fake_twilio.add_live_call(sid, from_=ALICE)
    first = await twilio.twiml("/twilio/voice", call(sid=sid, caller=ALICE))
    queued = await twilio.twiml(next_url(first), call(sid=sid, caller=ALICE, Digits="4"))
    assert ">technical</Enqueue>" in queued
    async with database.transaction() as session:
        contact = (await session.scalars(select(Contact).where(Contact.external_id == sid))).one()
    assert contact.queue_id is None  # "technical" is a routing queue the store does not describe: it still routes

    bob = await sign_in(center, "bob")
    assert await bob.get("/api/v1/me/offers", expect=200) == []
    state = await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    assert state["skills"] == {"technical": 7}
    [offer] = await bob.get("/api/v1/me/offers", expect=200)
    assert offer["contact_id"] == contact.id
    assert offer["channel"] == "voice"

    clock.advance(timedelta(seconds=4))
    accepted = await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    assert accepted == {"contact_id": contact.id}
    again = await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=409)
    assert again["error"]["code"] == "conflict"

    bridged = [r for r in fake_twilio.requests if r.path.endswith(f"/Calls/{sid}.json")]
    assert len(bridged) == 1
    assert f"<Client>agent-{bob_agent}</Client>" in bridged[0].form["Twiml"][0]
    async with database.transaction() as session:
        answered = await session.get(Contact, contact.id)
        case = await session.get(Case, answered.case_id)
    assert answered.agent_id == bob_agent
    assert answered.wait_seconds == pytest.approx(4)
    assert case.assignee_id == bob_agent
    assert case.status.value == "open"

    clock.advance(timedelta(minutes=3))
    await bob.post(f"/api/v1/contacts/{contact.id}/complete", {"wrap_up_seconds": 30}, expect=200)
    async with database.transaction() as session:
        finished = await session.get(Contact, contact.id)
    assert finished.handle_seconds == pytest.approx(180 + 30)
