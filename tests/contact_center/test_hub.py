"""The live event hub and its Redis relay: who receives what, in which order, across processes."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from redis.asyncio import Redis

from contact_center.hub import EventHub
from contact_center.relay import RedisRelay
from tests.routing.conftest import REDIS_URL


def offer(agent: str, number: int) -> dict[str, Any]:
    return {"topic": "routing", "kind": "task_reserved", "agent_id": agent, "n": number}


def drain(inbox: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    return [inbox.get_nowait() for _ in range(inbox.qsize())]


async def test_a_subscriber_is_handed_only_the_messages_it_wants() -> None:
    hub = EventHub()
    async with (
        hub.subscribe(lambda message: message.get("agent_id") == "7") as bobs,
        hub.subscribe() as everything,
    ):
        for number, agent in enumerate(["7", "8", "7", "9"]):
            hub.publish(offer(agent, number))
        assert [m["n"] for m in drain(bobs)] == [0, 2]
        assert [m["n"] for m in drain(everything)] == [0, 1, 2, 3]


async def test_a_burst_reaches_every_process_once_and_in_order() -> None:
    channel = f"test:{secrets.token_hex(6)}:hub"
    redis = Redis.from_url(REDIS_URL)
    first, second = EventHub(), EventHub()
    try:
        async with (
            RedisRelay(first, redis, channel).running(),
            RedisRelay(second, redis, channel).running(),
            first.subscribe() as here,
            second.subscribe(lambda message: message["agent_id"] == "7") as there,
        ):
            # Published in one go, so the relay sends them in one publication, which each process unpacks.
            for number in range(50):
                first.publish(offer("7" if number % 2 else "8", number))
            heard = [await asyncio.wait_for(here.get(), 5) for _ in range(50)]
            assert [m["n"] for m in heard] == list(range(50))
            theirs = [await asyncio.wait_for(there.get(), 5) for _ in range(25)]
            assert [m["n"] for m in theirs] == list(range(1, 50, 2))
            await asyncio.sleep(0.2)
            assert here.empty()
            assert there.empty()
    finally:
        await redis.aclose()
