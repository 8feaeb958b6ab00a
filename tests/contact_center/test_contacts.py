"""Contact intake: one case per contact, exactly once per external id, threads and duplicates across channels."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from contact_center.models import Case, Channel, Contact, Customer, Identity
from contact_center.services.contacts import ContactIntake, receive_contacts


async def count(database, model, *where):
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_contact_from_an_unknown_number_becomes_a_customer_and_a_case(login, database):
    bob = await login("bob")
    received = await bob.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM1", "address": "+1 415 555 0199", "body": "My bill is wrong"},
        expect=201,
    )
    assert received["created"] is True
    assert received["contact"]["address"] == "+14155550199"
    assert received["case"]["subject"] == "My bill is wrong"
    assert received["case"]["channel"] == "sms"
    timeline = await bob.get(f"/api/v1/cases/{received['case']['id']}/timeline")
    assert [e["kind"] for e in timeline] == ["created", "message_in"]
    assert timeline[1]["contact_id"] == received["contact"]["id"]
    assert await count(database, Identity, Identity.address == "+14155550199") == 1


async def test_the_same_external_id_twice_returns_the_first_contact(login, database):
    bob = await login("bob")
    payload = {"channel": "voice", "external_id": "CA42", "address": "+14155550101"}
    first = await bob.post("/api/v1/contacts", payload, expect=201)
    again = await bob.post("/api/v1/contacts", payload, expect=200)
    assert again["created"] is False
    assert again["contact"]["id"] == first["contact"]["id"]
    assert again["case"]["id"] == first["case"]["id"]
    assert await count(database, Contact) == 1
    assert await count(database, Case) == 1
    # The same id on another channel is another contact: ids are unique per channel only.
    await bob.post("/api/v1/contacts", {**payload, "channel": "sms"}, expect=201)


async def test_concurrent_deliveries_of_one_webhook_make_exactly_one_contact_and_case(login, database):
    bob = await login("bob")
    payload = {"channel": "sms", "external_id": "SM-race", "address": "+14155550123", "body": "hello"}
    responses = await asyncio.gather(
        *(bob.client.post("/api/v1/contacts", json=payload, headers={"X-CSRF-Token": bob.csrf}) for _ in range(6))
    )
    statuses = sorted(r.status for r in responses)
    bodies = [await r.json() for r in responses]
    assert statuses == [200] * 5 + [201], bodies
    assert len({b["contact"]["id"] for b in bodies}) == 1
    assert await count(database, Contact) == 1
    assert await count(database, Case) == 1
    assert await count(database, Customer) == 1


async def test_a_known_customer_writing_again_on_the_thread_joins_the_open_case(login, clock):
    bob = await login("bob")
    first = await bob.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM-a", "address": "+14155550111", "body": "Internet down"},
        expect=201,
    )
    clock.advance(timedelta(minutes=3))
    second = await bob.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM-b", "address": "(415) 555-0111", "body": "Still down!"},
        expect=201,
    )
    assert second["joined_existing_case"] is True
    assert second["case"]["id"] == first["case"]["id"]
    kinds = [e["kind"] for e in await bob.get(f"/api/v1/cases/{first['case']['id']}/timeline")]
    assert kinds == ["created", "message_in", "contact_joined", "message_in"]


async def test_a_message_on_a_resolved_case_reopens_it_but_a_closed_case_starts_a_new_one(login):
    bob = await login("bob")
    first = await bob.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM-1", "address": "+14155550112", "body": "Help"},
        expect=201,
    )
    case_id = first["case"]["id"]
    await bob.post(f"/api/v1/cases/{case_id}/status", {"status": "resolved"}, expect=200)
    again = await bob.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM-2", "address": "+14155550112", "body": "Not fixed"},
        expect=201,
    )
    assert again["case"]["id"] == case_id
    assert again["case"]["status"] == "open"
    await bob.post(f"/api/v1/cases/{case_id}/status", {"status": "closed"}, expect=200)
    later = await bob.post(
        "/api/v1/contacts",
        {"channel": "sms", "external_id": "SM-3", "address": "+14155550112", "body": "New question"},
        expect=201,
    )
    assert later["case"]["id"] != case_id
    assert later["joined_existing_case"] is False


async def test_a_likely_duplicate_on_another_channel_is_flagged_and_can_be_merged(login, database):
    bob = await login("bob")
    customer = await bob.post(
        "/api/v1/customers",
        {
            "name": "Li Na",
            "identities": [
                {"kind": "phone", "address": "+8613800138000"},
                {"kind": "email", "address": "li.na@example.cn"},
            ],
        },
        expect=201,
    )
    by_mail = await bob.post(
        "/api/v1/contacts",
        {
            "channel": "email",
            "external_id": "<m1@example.cn>",
            "address": "Li Na <li.na@example.cn>",
            "subject": "Invoice amount wrong",
            "body": "The invoice says 300.",
        },
        expect=201,
    )
    by_phone = await bob.post(
        "/api/v1/contacts",
        {
            "channel": "voice",
            "external_id": "CA-li",
            "address": "+86 138 0013 8000",
            "subject": "Re: invoice amount wrong",
        },
        expect=201,
    )
    assert by_mail["case"]["customer_id"] == by_phone["case"]["customer_id"] == customer["id"]
    duplicate = by_phone["case"]
    assert duplicate["duplicate_of_id"] == by_mail["case"]["id"]

    unrelated = await bob.post(
        "/api/v1/contacts",
        {
            "channel": "chat",
            "external_id": "chat-9",
            "address": "li.na@example.cn",
            "subject": "Opening hours on Sunday?",
        },
        expect=201,
    )
    assert unrelated["case"]["duplicate_of_id"] is None

    merged = await bob.post(f"/api/v1/cases/{duplicate['id']}/merge", {"into": by_mail["case"]["number"]}, expect=200)
    assert merged["id"] == by_mail["case"]["id"]
    old = await bob.get(f"/api/v1/cases/{duplicate['id']}")
    assert old["merged_into_id"] == by_mail["case"]["id"]
    assert old["status"] == "closed"
    assert await count(database, Contact, Contact.case_id == by_mail["case"]["id"]) == 2
    kinds = [e["kind"] for e in await bob.get(f"/api/v1/cases/{by_mail['case']['id']}/timeline")]
    assert kinds.count("created") == 2
    assert kinds[-1] == "merged"
    assert [e["kind"] for e in await bob.get(f"/api/v1/cases/{duplicate['id']}/timeline")] == ["merged"]
    error = await bob.post(f"/api/v1/cases/{duplicate['id']}/status", {"status": "open"}, expect=409)
    assert "merged" in error["error"]["message"]


async def test_a_contact_cannot_be_attached_to_another_customers_case(login):
    bob = await login("bob")
    grace = await bob.post(
        "/api/v1/contacts",
        {"channel": "email", "external_id": "<g@x>", "address": "grace@example.com", "subject": "My router"},
        expect=201,
    )
    forged = await bob.post(
        "/api/v1/contacts",
        {
            "channel": "email",
            "external_id": "<e@x>",
            "address": "eve@example.com",
            "subject": "Re: My router",
            "case_id": grace["case"]["id"],
        },
        expect=201,
    )
    assert forged["case"]["id"] != grace["case"]["id"]


async def test_wait_and_handle_times_follow_from_the_timestamps(login):
    bob = await login("bob")
    received = await bob.post(
        "/api/v1/contacts", {"channel": "voice", "external_id": "CA-t", "address": "+14155550100"}, expect=201
    )
    started = received["contact"]["started_at"]
    from datetime import datetime

    begin = datetime.fromisoformat(started)
    patch = {
        "answered_at": (begin + timedelta(seconds=45)).isoformat(),
        "ended_at": (begin + timedelta(seconds=345)).isoformat(),
        "disposition": "resolved-first-call",
    }
    contact = await bob.patch(f"/api/v1/contacts/{received['contact']['id']}", patch, expect=200)
    assert contact["wait_seconds"] == 45
    assert contact["handle_seconds"] == 300
    naive = await bob.patch(
        f"/api/v1/contacts/{received['contact']['id']}", {"answered_at": "2026-11-23T10:00:00"}, expect=400
    )
    assert naive["error"]["details"]["fields"][0]["field"] == "answered_at"
    await bob.patch(f"/api/v1/contacts/{received['contact']['id']}", {"agent_id": 999}, expect=400)


async def test_a_batch_of_contacts_sees_its_own_earlier_items(database, clock):
    """Group commit takes several webhooks in one transaction: it must still thread them as one by one."""
    now = clock.now()
    first = ContactIntake(channel=Channel.SMS, external_id="SM-b1", address="+14155550150", body="Router is down")
    second = ContactIntake(channel=Channel.SMS, external_id="SM-b2", address="+14155550150", body="Still down")
    results = await receive_contacts(
        database, [(first, now), (second, now + timedelta(seconds=1)), (first, now + timedelta(seconds=2))]
    )
    assert [r.created for r in results] == [True, True, False]
    assert results[1].joined_existing_case is True
    assert len({r.case.id for r in results}) == 1
    assert results[2].contact.id == results[0].contact.id
    assert await count(database, Customer) == 1
    assert await count(database, Contact) == 2
    assert await count(database, Case) == 1
