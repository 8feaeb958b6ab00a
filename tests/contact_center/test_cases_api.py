"""Cases over HTTP: create, read by number, change status, notes, replies, timeline, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contact_center.channels.twilio.service import do_set_opt_out
from contact_center.models import Case, CaseEvent, OutboxChannel, OutboxMessage


async def make_customer(api, name="Grace Hopper", score=80, identities=None):
    identities = (
        identities
        if identities is not None
        else [
            {"kind": "phone", "address": "(415) 555-0101"},
            {"kind": "email", "address": "Grace Hopper <Grace@Example.COM>"},
        ]
    )
    return await api.post(
        "/api/v1/customers", {"name": name, "value_score": score, "identities": identities}, expect=201
    )


async def test_a_case_is_opened_read_by_number_and_its_history_kept(login):
    bob = await login("bob")
    customer = await make_customer(bob)
    assert customer["tier"] == "high"
    assert {i["address"] for i in customer["identities"]} == {"+14155550101", "grace@example.com"}

    case = await bob.post(
        "/api/v1/cases", {"customer_id": customer["id"], "subject": "Router reboots", "priority": "high"}, expect=201
    )
    assert case["number"] == f"CS-{case['id']:06d}"
    assert case["status"] == "new"
    assert (await bob.get(f"/api/v1/cases/{case['number']}", expect=200))["id"] == case["id"]
    assert (await bob.get(f"/api/v1/cases/{case['id']}", expect=200))["subject"] == "Router reboots"

    await bob.post(f"/api/v1/cases/{case['id']}/notes", {"body": "Asked for the model number"}, expect=201)
    moved = await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "open"}, expect=200)
    assert moved["status"] == "open"
    kinds = [e["kind"] for e in await bob.get(f"/api/v1/cases/{case['id']}/timeline", expect=200)]
    assert kinds == ["created", "note", "status"]
    history = await bob.get(f"/api/v1/cases/{case['id']}/timeline")
    assert history[2]["data"] == {"from": "new", "to": "open"}
    assert history[2]["actor_name"] == "Bob"


async def test_an_invalid_transition_is_409_naming_the_allowed_ones_and_changes_nothing(login, database):
    bob = await login("bob")
    customer = await make_customer(bob)
    case = await bob.post("/api/v1/cases", {"customer_id": customer["id"], "subject": "x"}, expect=201)
    await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "resolved"}, expect=200)
    error = await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "pending"}, expect=409)
    assert error["error"]["code"] == "conflict"
    assert error["error"]["details"]["allowed"] == ["closed", "open"]
    assert "closed, open" in error["error"]["message"]
    async with database.transaction() as session:
        assert (await session.get(Case, case["id"])).status.value == "resolved"
        events = await session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case["id"])
        )
    assert events == 2  # created, resolved: the refused move wrote nothing


async def test_unknown_cases_are_404_in_the_one_error_shape(login):
    bob = await login("bob")
    for ref in ("999999", "CS-424242", "not-a-case"):
        error = await bob.get(f"/api/v1/cases/{ref}", expect=404)
        assert set(error) == {"error"}
        assert set(error["error"]) == {"code", "message", "details"}
        assert error["error"]["code"] == "not_found"
    assert (await bob.get("/api/v1/no-such-thing", expect=404))["error"]["code"] == "not_found"


async def test_malformed_json_and_bad_fields_are_400_naming_the_field(login, database):
    bob = await login("bob")
    error = await bob.call(
        "POST",
        "/api/v1/cases",
        data=b'{"customer_id": 1, "subject": ',
        headers={"Content-Type": "application/json"},
        expect=400,
    )
    assert error["error"]["message"].startswith("malformed JSON")
    error = await bob.post("/api/v1/cases", {"customer_id": "abc", "subject": "x"}, expect=400)
    assert error["error"]["details"]["fields"][0]["field"] == "customer_id"
    assert error["error"]["message"].startswith("customer_id:")
    error = await bob.post("/api/v1/cases", {"customer_id": 1, "subject": "x", "colour": "red"}, expect=400)
    assert error["error"]["details"]["fields"][0]["field"] == "colour"
    error = await bob.post("/api/v1/cases", {"customer_id": 12345, "subject": "x"}, expect=400)
    assert error["error"]["details"]["field"] == "customer_id"
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 0


async def test_a_reply_is_stored_in_the_outbox_and_stops_the_first_response_clock(login, database, clock):
    bob = await login("bob")
    customer = await make_customer(bob)
    case = await bob.post("/api/v1/cases", {"customer_id": customer["id"], "subject": "Invoice"}, expect=201)
    clock.advance(timedelta(minutes=5))
    reply = await bob.post(
        f"/api/v1/cases/{case['id']}/replies", {"channel": "email", "body": "We are on it."}, expect=201
    )
    assert reply["to_address"] == "grace@example.com"
    async with database.transaction() as session:
        message = await session.get(OutboxMessage, reply["outbox_id"])
        assert message.status.value == "pending"
        # The same reply as the email channel's own: "Re:", the case's tag, threaded headers when there is mail.
        assert message.subject == f"Re: Invoice [{case['number']}]"
        assert message.headers["Message-ID"].startswith("<")
        assert (await session.get(Case, case["id"])).first_responded_at == clock.now()
    no_phone = await make_customer(bob, name="Mail Only", identities=[{"kind": "email", "address": "m@example.com"}])
    other = await bob.post("/api/v1/cases", {"customer_id": no_phone["id"], "subject": "x"}, expect=201)
    error = await bob.post(f"/api/v1/cases/{other['id']}/replies", {"channel": "sms", "body": "hi"}, expect=400)
    assert "no phone address" in error["error"]["message"]
    texted = await bob.post(f"/api/v1/cases/{case['id']}/replies", {"channel": "sms", "body": "On our way"}, expect=201)
    async with database.transaction() as session:
        await do_set_opt_out(
            session, texted["to_address"], opted_out=True, keyword="STOP", message_sid=None, now=clock.now()
        )
    refused = await bob.post(f"/api/v1/cases/{case['id']}/replies", {"channel": "sms", "body": "Hi"}, expect=409)
    assert "replied STOP" in refused["error"]["message"]
    async with database.transaction() as session:
        texts = (await session.scalars(select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.SMS))).all()
    assert [t.body for t in texts] == ["On our way"]


@pytest.mark.parametrize("status", ["open", "pending", "on_hold", "resolved", "closed"])
async def test_a_closed_case_can_only_be_reopened(login, status):
    bob = await login("bob")
    customer = await make_customer(bob)
    case = await bob.post("/api/v1/cases", {"customer_id": customer["id"], "subject": "x"}, expect=201)
    await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": "closed"}, expect=200)
    expected = 200 if status == "open" else 409
    await bob.post(f"/api/v1/cases/{case['id']}/status", {"status": status}, expect=expected)
