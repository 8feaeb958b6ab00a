"""Live pages across processes: a customer chats with one server while the agent's desktop is on another."""

from __future__ import annotations

import pytest

from contact_center.web.app import create_app
from tests.channels.chat.test_chat import open_chat, origin_of, receive_until
from tests.contact_center.test_routing_scale_out import redis_settings, sign_in

__all__ = ["redis_settings"]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_chat_lines_and_offers_cross_between_server_processes(
    aiohttp_client, redis_settings, database, clock, users
):
    first = await aiohttp_client(create_app(redis_settings, database=database, clock=clock))
    second = await aiohttp_client(create_app(redis_settings, database=database, clock=clock))
    bob = await sign_in(second, "bob")
    desk = await second.ws_connect("/desktop/ws", headers={"Origin": origin_of(second)})
    await receive_until(desk, "hello")
    await bob.post("/api/v1/me/activity", {"activity": "available"}, expect=200)

    chat = await open_chat(first, name="Ann Lee")  # routed by the first process
    offer = await receive_until(desk, "offer")  # pushed by the second
    await bob.post(f"/api/v1/reservations/{offer['reservation_id']}/accept", expect=200)
    assert (await receive_until(chat, "message", sender="system"))["body"] == "Bob joined the chat"
    await receive_until(chat, "status", status="active")

    chat_id = (await bob.get("/api/v1/me/work"))[0]["chat_id"]
    await bob.post(f"/api/v1/chats/{chat_id}/messages", {"body": "Hello Ann"}, expect=201)
    assert (await receive_until(chat, "message", sender="agent"))["body"] == "Hello Ann"
    await chat.send_json({"type": "message", "body": "Hi Bob"})
    assert (await receive_until(desk, "message", sender="customer"))["body"] == "Hi Bob"
    seen = [await receive_until(chat, "message", sender="customer")]
    assert [m["seq"] for m in seen] == [4]  # the customer sees their own line, numbered after the others
