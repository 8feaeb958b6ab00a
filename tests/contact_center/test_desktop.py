"""The agent desktop's socket and API: live offers, chat lines, wrap-up, transfer, and who may connect."""

from __future__ import annotations

import aiohttp
import pytest
from sqlmodel import select

from contact_center.channels.chat.models import ChatSession, ChatStatus
from contact_center.dispatch import task_id_for
from contact_center.models import CaseEvent, Contact, EventKind, TwilioCall, TwilioCallTurn
from contact_center.web.keys import DISPATCHER
from knowledge_base.models import ArticleStatus, Visibility
from knowledge_base.service import ArticleDraft, Author, do_create_article
from tests.channels.chat.test_chat import open_chat, origin_of, receive_until
from tests.field_service.visits import add_visits


async def desktop_socket(api):
    return await api.client.ws_connect("/desktop/ws", headers={"Origin": origin_of(api.client)})


async def test_offers_and_chat_lines_reach_the_agent_live(login):
    bob, anonymous = await login("bob"), await login("anonymous")
    ws = await desktop_socket(bob)
    assert (await receive_until(ws, "hello"))["offers"] == []
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    assert (await receive_until(ws, "activity"))["activity"] == "available"

    chat = await open_chat(anonymous.client, name="Ann Lee")
    offer = await receive_until(ws, "offer")
    assert (offer["channel"], offer["queue"], offer["customer"]) == ("chat", "general", "Ann Lee")
    assert offer["subject"] == "Where is my parcel?"
    assert 0 < offer["remaining"] <= 60
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    assert (await receive_until(ws, "offer_gone"))["reservation_id"] == offer["reservation_id"]

    await chat.send_json({"type": "typing"})
    assert (await receive_until(ws, "typing"))["sender"] == "customer"
    await chat.send_json({"type": "message", "body": "Order 4711"})
    line = await receive_until(ws, "message", sender="customer")
    assert (line["body"], line["author"]) == ("Order 4711", "Ann Lee")

    await ws.send_json({"type": "typing", "chat_id": line["chat_id"]})
    assert (await receive_until(chat, "typing"))["sender"] == "agent"
    work = await bob.get("/api/v1/me/work", expect=200)
    assert [(w["channel"], w["customer"], w["chat_status"]) for w in work] == [("chat", "Ann Lee", "active")]


async def test_an_offer_that_is_withdrawn_leaves_the_desktop(login):
    bob, anonymous = await login("bob"), await login("anonymous")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    ws = await desktop_socket(bob)
    await receive_until(ws, "hello")
    chat = await open_chat(anonymous.client)
    offer = await receive_until(ws, "offer")
    await chat.send_json({"type": "close"})
    gone = await receive_until(ws, "task_gone")
    assert gone["contact_id"] == offer["contact_id"]


async def test_the_socket_checks_origin_and_session(login):
    bob, anonymous = await login("bob"), await login("anonymous")
    for api, headers in (
        (bob, {"Origin": "https://evil.example"}),
        (bob, {}),
        (anonymous, {"Origin": origin_of(anonymous.client)}),
    ):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.client.ws_connect("/desktop/ws", headers=headers)
        assert refused.value.status == 403
    tess = await login("tess")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await desktop_socket(tess)


async def test_a_disabled_agent_loses_the_socket(login):
    sam, bob = await login("sam"), await login("bob")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    ws = await desktop_socket(bob)
    await receive_until(ws, "hello")
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    await sam.patch(f"/api/v1/agents/{agents['Bob']}", {"active": False}, expect=200)
    while (frame := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
        pass
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def take_a_chat(login):
    sam, bob, anonymous = await login("sam"), await login("bob"), await login("anonymous")
    chat = await open_chat(anonymous.client, name="Ann Lee", email="ann@example.com")
    await receive_until(chat, "queue")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    offer = (await bob.get("/api/v1/me/offers"))[0]
    accepted = await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    return sam, bob, chat, accepted["contact_id"]


async def test_the_workspace_shows_the_customer_360_view(login):
    _, bob, _, contact_id = await take_a_chat(login)
    space = await bob.get(f"/api/v1/contacts/{contact_id}/workspace", expect=200)
    assert space["case"]["subject"] == "Where is my parcel?"
    assert [m["body"] for m in space["chat"]["messages"]] == ["Where is my parcel?", "Bob joined the chat"]
    customer = space["customer"]
    assert (customer["name"], customer["tier"]) == ("Ann Lee", "low")
    assert customer["identities"] == [{"kind": "email", "address": "ann@example.com"}]
    assert [c["contacts"][0]["channel"] for c in customer["cases"]] == ["chat"]
    assert "resolved" in space["wrap_up_codes"]
    assert space["knowledge_base"] == []  # no articles written yet


async def test_the_360_view_lists_the_customers_technician_visits(login, database, clock):
    _, bob, _, contact_id = await take_a_chat(login)
    async with database.transaction() as session:
        contact = await session.get(Contact, contact_id)
        await add_visits(session, contact.case_id, clock.now())
    space = await bob.get(f"/api/v1/contacts/{contact_id}/workspace", expect=200)
    visits = space["customer"]["visits"]
    assert [(v["work_order"], v["status"], v["technician"]) for v in visits] == [
        ("W-repair", "en_route", "Ada Lovelace"),
        ("W-inspect", "unscheduled", None),
    ]
    assert visits[0]["case"] == space["case"]["number"]


async def test_the_workspace_suggests_articles_internal_ones_included(login, database, clock):
    async with database.transaction() as session:
        for title, body, visibility in (
            ("Tracking your parcel", "Every parcel has a tracking link in the dispatch email.", Visibility.PUBLIC),
            ("Lost parcel claims", "Agents: open a carrier claim when a parcel is lost.", Visibility.INTERNAL),
            ("Changing your password", "Use the forgotten password link.", Visibility.PUBLIC),
        ):
            draft = ArticleDraft(title=title, body=body, visibility=visibility, status=ArticleStatus.PUBLISHED)
            await do_create_article(session, draft, Author("Sam"), clock.now())
    _, bob, _, contact_id = await take_a_chat(login)
    space = await bob.get(f"/api/v1/contacts/{contact_id}/workspace", expect=200)
    suggested = {a["title"]: a for a in space["knowledge_base"]}
    assert set(suggested) == {"Tracking your parcel", "Lost parcel claims"}
    assert suggested["Lost parcel claims"]["visibility"] == "internal"
    assert "<mark>parcel</mark>" in suggested["Tracking your parcel"]["snippet"]


async def test_only_the_chats_agent_may_answer_it(login):
    _, bob, _, _ = await take_a_chat(login)
    alice = await login("alice")
    chat_id = (await bob.get("/api/v1/me/work"))[0]["chat_id"]
    refused = await alice.post(f"/api/v1/chats/{chat_id}/messages", {"body": "hi"}, expect=403)
    assert refused["error"]["code"] == "forbidden"
    await bob.post(f"/api/v1/chats/{chat_id}/messages", {"body": ""}, expect=400)


async def test_wrap_up_ends_the_chat_finishes_the_contact_and_moves_the_case(login, database):
    _, bob, chat, contact_id = await take_a_chat(login)
    await bob.post(f"/api/v1/contacts/{contact_id}/wrap-up", {"code": "nonsense"}, expect=400)
    done = await bob.post(
        f"/api/v1/contacts/{contact_id}/wrap-up",
        {"code": "resolved", "notes": "Parcel found", "status": "resolved", "wrap_up_seconds": 30},
        expect=200,
    )
    assert done == {"contact_id": contact_id, "code": "resolved", "case_status": "resolved"}
    await receive_until(chat, "status", status="closed")
    async with database.transaction() as session:
        contact = await session.get(Contact, contact_id)
        notes = (await session.scalars(select(CaseEvent).where(CaseEvent.kind == EventKind.NOTE))).all()
    assert contact is not None
    assert contact.ended_at is not None
    assert contact.disposition == "resolved"
    assert [(n.body, n.data) for n in notes] == [("Parcel found", {"wrap_up": "resolved"})]
    assert await bob.get("/api/v1/me/work") == []
    await bob.post(f"/api/v1/contacts/{contact_id}/wrap-up", {"code": "resolved"}, expect=409)


async def test_a_transfer_queues_the_chat_again_for_the_other_queue(login, database):
    sam, bob, chat, contact_id = await take_a_chat(login)
    await sam.post("/api/v1/queues", {"name": "returns"}, expect=201)
    await bob.post(f"/api/v1/contacts/{contact_id}/transfer", {"queue": "nowhere"}, expect=400)
    moved = await bob.post(f"/api/v1/contacts/{contact_id}/transfer", {"queue": "returns"}, expect=201)
    assert moved["queue"] == "returns"
    assert moved["contact_id"] != contact_id
    dispatcher = bob.client.server.app[DISPATCHER]
    view = await dispatcher.backend.get_task(task_id_for(moved["contact_id"]))
    assert view is not None
    assert view.task.queue == "returns"
    async with database.transaction() as session:
        chat_row = (await session.scalars(select(ChatSession))).one()
        first = await session.get(Contact, contact_id)
    assert chat_row.contact_id == moved["contact_id"]
    assert chat_row.status is ChatStatus.WAITING
    assert first is not None
    assert first.disposition == "transferred"
    assert first.ended_at is not None
    told = await receive_until(chat, "message", sender="system", seq=3)
    assert told["body"] == "You are being transferred (returns); please hold on"
    await receive_until(chat, "status", status="waiting")


async def test_a_transfer_to_an_agent_is_offered_to_that_agent_only(login):
    sam, bob, chat, contact_id = await take_a_chat(login)
    alice = await login("alice")
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    for api in (alice, sam):
        await api.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    to_self = {"queue": "general", "agent_id": agents["Bob"]}
    await bob.post(f"/api/v1/contacts/{contact_id}/transfer", to_self, expect=400)
    await bob.post(f"/api/v1/contacts/{contact_id}/transfer", {"queue": "general", "agent_id": 9999}, expect=400)
    to_sam = {"queue": "general", "agent_id": agents["Sam"], "note": "Sam knows this parcel"}
    moved = await bob.post(f"/api/v1/contacts/{contact_id}/transfer", to_sam, expect=201)
    assert moved["agent_id"] == agents["Sam"]
    [offer] = await sam.get("/api/v1/me/offers")
    assert offer["contact_id"] == moved["contact_id"]
    assert await alice.get("/api/v1/me/offers") == []
    await sam.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    await receive_until(chat, "message", sender="system", body="Sam joined the chat")


async def test_the_360_view_shows_the_retention_offer_of_the_customers_tier(login):
    sam, bob, _, contact_id = await take_a_chat(login)
    await bob.put("/api/v1/retention-offers/low", {"offer": "3 months at half price"}, expect=403)
    await sam.put("/api/v1/retention-offers/gold", {"offer": "x"}, expect=404)
    await sam.put("/api/v1/retention-offers/low", {"offer": "3 months at half price"}, expect=200)
    await sam.put("/api/v1/retention-offers/low", {"offer": "2 months free"}, expect=200)
    await sam.put("/api/v1/retention-offers/high", {"offer": "A free upgrade"}, expect=200)
    assert sorted(o["tier"] for o in await bob.get("/api/v1/retention-offers", expect=200)) == ["high", "low"]
    space = await bob.get(f"/api/v1/contacts/{contact_id}/workspace", expect=200)
    assert space["customer"]["retention_offer"] == "2 months free"


async def test_a_calls_workspace_shows_its_way_through_the_ivr(login, database, clock):
    bob = await login("bob")
    received = await bob.post(
        "/api/v1/contacts",
        {"channel": "voice", "external_id": "CA1", "address": "+14155550100", "route": False},
        expect=201,
    )
    state = {"node": "billing_queue", "language": "en-US", "variables": {"menu": "2"}, "outcome": None}
    async with database.transaction() as session:
        call = TwilioCall(
            call_sid="CA1",
            state=state,
            contact_id=received["contact"]["id"],
            case_id=received["case"]["id"],
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(call)
        await session.flush()
        for webhook in ("voice:0", "gather:1"):
            session.add(TwilioCallTurn(call_id=call.id, webhook=webhook, twiml="<Response/>", created_at=clock.now()))
    space = await bob.get(f"/api/v1/contacts/{received['contact']['id']}/workspace", expect=200)
    assert space["call"]["ivr"] == {
        "turns": ["voice:0", "gather:1"],
        "node": "billing_queue",
        "language": "en-US",
        "choices": {"menu": "2"},
        "outcome": None,
    }
    assert space["chat"] is None


async def test_signing_out_elsewhere_closes_the_socket(login):
    bob = await login("bob")
    ws = await desktop_socket(bob)
    await receive_until(ws, "hello")
    await bob.post("/api/v1/auth/logout", expect=200)
    while (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT:
        pass
    assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
