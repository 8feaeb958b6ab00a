"""Web chat over its WebSocket against the real store and routing: a chat is a routed contact on a case."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from sqlmodel import select

from contact_center.channels.chat.models import ChatMessage, ChatSession, ChatStatus
from contact_center.channels.chat.web import CHAT
from contact_center.channels.chat.worker import GRACE
from contact_center.models import CaseEvent, Contact, EventKind
from contact_center.web.app import create_app
from contact_center.web.keys import DISPATCHER


def origin_of(client):
    return str(client.make_url("/")).rstrip("/")


async def open_chat(client, **start):
    ws = await client.ws_connect("/chat/ws", headers={"Origin": origin_of(client)})
    await ws.send_json({"type": "start", "message": "Where is my parcel?", **start})
    return ws


async def receive_until(ws, kind, **match):
    """Return the next frame of a kind (and matching fields), skipping the others."""
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def bob_takes_it(sam, bob):
    agents = {a["name"]: a["id"] for a in await sam.get("/api/v1/agents")}
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)
    offers = await bob.get("/api/v1/me/offers", expect=200)
    assert len(offers) == 1
    assert offers[0]["channel"] == "chat"
    await bob.post(f"/api/v1/reservations/{offers[0]['reservation_id']}/accept", expect=200)
    return agents["Bob"], offers[0]["contact_id"]


async def test_a_chat_is_a_contact_on_a_case_waiting_in_its_queue(login, database):
    anonymous = await login("anonymous")
    ws = await open_chat(anonymous.client, name="Ann Lee", email="Ann@Example.com")
    started = await receive_until(ws, "started")
    first = await receive_until(ws, "message")
    assert (first["seq"], first["sender"], first["body"], first["author"]) == (
        1,
        "customer",
        "Where is my parcel?",
        "Ann Lee",
    )
    assert (await receive_until(ws, "status"))["status"] == "waiting"
    queue = await receive_until(ws, "queue")
    assert queue["position"] == 1
    assert queue["expected_wait"] is None  # nobody is serving yet
    async with database.transaction() as session:
        chat = (await session.scalars(select(ChatSession).where(ChatSession.public_id == started["chat"]))).one()
        contact = await session.get(Contact, chat.contact_id)
        events = (await session.scalars(select(CaseEvent).where(CaseEvent.case_id == chat.case_id))).all()
    assert contact is not None
    assert contact.channel.value == "chat"
    assert contact.address == "ann@example.com"
    assert [e.body for e in events if e.kind is EventKind.MESSAGE_IN] == ["Where is my parcel?"]
    assert chat.token_hash != started["token"]  # only a hash of the customer's token is stored
    await ws.close()


async def test_a_chat_closed_while_waiting_counts_as_abandoned(login, database):
    anonymous = await login("anonymous")
    ws = await open_chat(anonymous.client)
    await receive_until(ws, "queue")
    await ws.send_json({"type": "close"})
    assert (await receive_until(ws, "status"))["status"] == "closed"
    dispatcher = anonymous.client.server.app[DISPATCHER]
    figures = await dispatcher.backend.queue_statistics("general", dispatcher.now(), 3600)
    assert (figures.waiting, figures.abandoned, figures.offered, figures.abandonment_rate) == (0, 1, 1, 1.0)
    async with database.transaction() as session:
        contact = (await session.scalars(select(Contact))).one()
    assert contact.ended_at is not None
    assert contact.disposition == "chat_closed"
    await ws.send_json({"type": "message", "body": "hello?"})
    assert (await receive_until(ws, "error"))["message"] == "this chat has ended"


async def test_a_reconnecting_customer_gets_every_message_they_missed_once(login):
    sam, bob, anonymous = await login("sam"), await login("bob"), await login("anonymous")
    ws = await open_chat(anonymous.client)
    started = await receive_until(ws, "started")
    await receive_until(ws, "queue")
    await bob_takes_it(sam, bob)
    joined = await receive_until(ws, "message", sender="system")
    assert joined["body"] == "Bob joined the chat"
    await ws.close()

    chat_id = (await bob.get("/api/v1/me/work"))[0]["chat_id"]
    for text in ("Let me look.", "It ships today."):
        await bob.post(f"/api/v1/chats/{chat_id}/messages", {"body": text}, expect=201)

    again = await anonymous.client.ws_connect("/chat/ws", headers={"Origin": origin_of(anonymous.client)})
    await again.send_json(
        {"type": "resume", "chat": started["chat"], "token": started["token"], "after": joined["seq"]}
    )
    replayed = [await receive_until(again, "message"), await receive_until(again, "message")]
    assert [(m["seq"], m["author"], m["body"]) for m in replayed] == [
        (3, "Bob", "Let me look."),
        (4, "Bob", "It ships today."),
    ]
    assert (await receive_until(again, "status"))["status"] == "active"
    await again.send_json({"type": "message", "body": "Thanks!"})
    assert (await receive_until(again, "message"))["seq"] == 5
    await again.close()

    thief = await anonymous.client.ws_connect("/chat/ws", headers={"Origin": origin_of(anonymous.client)})
    await thief.send_json({"type": "resume", "chat": started["chat"], "token": "guessed", "after": 0})
    assert (await receive_until(thief, "error"))["message"] == "no such chat"


async def test_messages_are_numbered_without_gaps_under_concurrent_posts(login, database):
    sam, bob, anonymous = await login("sam"), await login("bob"), await login("anonymous")
    ws = await open_chat(anonymous.client)
    await receive_until(ws, "queue")
    await bob_takes_it(sam, bob)
    chat_id = (await bob.get("/api/v1/me/work"))[0]["chat_id"]
    await asyncio.gather(
        *(bob.post(f"/api/v1/chats/{chat_id}/messages", {"body": f"line {n}"}, expect=201) for n in range(8)),
        *(ws.send_json({"type": "message", "body": f"customer {n}"}) for n in range(4)),
    )
    # The customer's lines are written by the socket's handler after send_json returns. Each look is its own
    # transaction: one held open would see a single snapshot (and on SQLite hold back the writers).
    for _ in range(200):
        async with database.transaction() as session:
            seqs = list((await session.scalars(select(ChatMessage.seq).where(ChatMessage.chat_id == chat_id))).all())
        if len(seqs) == 14:
            break
        await asyncio.sleep(0.05)
    assert sorted(seqs) == list(range(1, 15))  # first message, "joined", 8 + 4 lines
    await ws.close()


async def test_bad_frames_get_an_error_and_store_nothing(login, database):
    anonymous = await login("anonymous")
    ws = await anonymous.client.ws_connect("/chat/ws", headers={"Origin": origin_of(anonymous.client)})
    await ws.send_json({"type": "start", "message": "   "})
    assert (await receive_until(ws, "error"))["message"] == "a message needs text"
    ws = await open_chat(anonymous.client, email="not an address")
    assert (await receive_until(ws, "error"))["message"] == "that email address does not look right"
    ws = await anonymous.client.ws_connect("/chat/ws", headers={"Origin": origin_of(anonymous.client)})
    await ws.send_str("[1, 2]")
    assert (await receive_until(ws, "error"))["message"] == "start or resume the chat first"
    ws = await open_chat(anonymous.client)
    await receive_until(ws, "queue")
    await ws.send_json({"type": "message", "body": "x" * 4001})
    assert "at most 4000" in (await receive_until(ws, "error"))["message"]
    async with database.transaction() as session:
        assert len((await session.scalars(select(ChatSession))).all()) == 1
        assert len((await session.scalars(select(ChatMessage))).all()) == 1


async def test_the_socket_accepts_only_our_pages_and_the_configured_sites(aiohttp_client, settings, database, clock):
    client = await aiohttp_client(
        create_app(replace(settings, chat_allowed_origins=("https://shop.example",)), database=database, clock=clock)
    )
    for origin in (None, "https://evil.example", "null"):
        headers = {"Origin": origin} if origin else {}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/chat/ws", headers=headers)
        assert refused.value.status == 403
    for origin in ("https://shop.example", origin_of(client)):
        ws = await client.ws_connect("/chat/ws", headers={"Origin": origin})
        await ws.send_json({"type": "start", "message": "hi"})
        assert (await receive_until(ws, "started"))["chat"]
        await ws.close()


async def test_the_chat_page_speaks_english_and_chinese(login):
    anonymous = await login("anonymous")
    english = await anonymous.get("/chat")
    chinese = await anonymous.get("/chat?lang=zh")
    assert '<html lang="en">' in english
    assert 'data-lang="en"' in english
    assert '<html lang="zh-CN">' in chinese
    assert 'data-lang="zh"' in chinese
    assert "<script>" not in english  # the CSP allows only our own script files


async def left_at(database, public_id):
    # Up to 10 s: the socket's end is written by the server's handler after the client closed, which on a busy
    # machine (the whole suite beside other work) has taken more than 2 s.
    for _ in range(500):
        async with database.transaction() as session:
            chat = (await session.scalars(select(ChatSession).where(ChatSession.public_id == public_id))).one()
        if chat.customer_left_at is not None:
            return chat.customer_left_at
        await asyncio.sleep(0.02)
    raise AssertionError("the socket's end was not recorded")


async def test_a_waiting_customer_who_leaves_and_stays_away_abandons_the_chat(login, database, clock):
    anonymous = await login("anonymous")
    service = anonymous.client.server.app[CHAT]
    gone, back = await open_chat(anonymous.client), await open_chat(anonymous.client)
    gone_id, back_id = (await receive_until(gone, "started"))["chat"], await receive_until(back, "started")
    await gone.close()
    await back.close()
    await left_at(database, gone_id)
    await left_at(database, back_id["chat"])
    clock.advance(timedelta(seconds=30))
    returned = await anonymous.client.ws_connect("/chat/ws", headers={"Origin": origin_of(anonymous.client)})
    await returned.send_json({"type": "resume", "chat": back_id["chat"], "token": back_id["token"], "after": 1})
    await receive_until(returned, "status")
    clock.advance(timedelta(seconds=31))
    assert await service.close_abandoned(GRACE) == 1
    dispatcher = anonymous.client.server.app[DISPATCHER]
    figures = await dispatcher.backend.queue_statistics("general", dispatcher.now(), 3600)
    assert (figures.waiting, figures.abandoned) == (1, 1)
    async with database.transaction() as session:
        statuses = {c.public_id: c.status for c in (await session.scalars(select(ChatSession))).all()}
    assert statuses == {gone_id: ChatStatus.CLOSED, back_id["chat"]: ChatStatus.WAITING}
    await returned.close()
