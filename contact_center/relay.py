"""Carries the live event hub's messages between server processes over Redis pub/sub.

Every process publishes to one channel and delivers what it hears there, its own messages included, so each
subscriber sees each message once and in the order its process sent it. What a process has queued for Redis goes
out as one publication (a JSON list) per round trip, so a burst of events (an accept makes several) costs one
PUBLISH, and each listening process one read and one parse, instead of one per event. While Redis is unreachable,
messages are delivered in the process that made them only (live pages elsewhere catch up from the store when they
reconnect).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contact_center.hub import EventHub

__all__ = ["RedisRelay"]

log = logging.getLogger(__name__)
_BACKLOG = 10_000
# Messages sent in one publication at most.
_BATCH = 200
_RETRY_SECONDS = 1.0


class RedisRelay:
    """Relays one hub's publications through a Redis channel and delivers the channel's messages to it."""

    def __init__(self, hub: EventHub, redis: Redis, channel: str) -> None:
        self.hub = hub
        self.redis = redis
        self.channel = channel
        self._outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_BACKLOG)
        self._listening = False

    def take(self, message: dict[str, Any]) -> bool:
        """Queue a publication for Redis; False (deliver it here) while not subscribed or when full."""
        if not self._listening:
            return False
        try:
            self._outgoing.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Relay while the context is open (subscribed before it yields, so no early message is lost)."""
        pubsub = self.redis.pubsub()
        await self._subscribe(pubsub)
        self.hub.relay_through(self.take)
        tasks = [
            asyncio.create_task(self._listen(pubsub), name="hub-relay-listen"),
            asyncio.create_task(self._send(), name="hub-relay-send"),
        ]
        try:
            yield
        finally:
            self.hub.relay_through(None)
            self._listening = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Through Any: redis-py types `aclose` from 8.2 on, and an ignore for the older ones would be unused there.
            await cast(Any, pubsub).aclose()

    async def _subscribe(self, pubsub: Any) -> None:
        try:
            await pubsub.subscribe(self.channel)
        except (RedisError, OSError):
            # Serve anyway: this process's pages still get their own events, and the listener retries.
            log.warning("live event relay cannot reach Redis; delivering locally until it can", exc_info=True)
            self._listening = False
            return
        self._listening = True

    async def _listen(self, pubsub: Any) -> None:
        while True:
            if not self._listening:
                await asyncio.sleep(_RETRY_SECONDS)
                await self._subscribe(pubsub)
                continue
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (RedisError, OSError):
                log.warning("live event relay lost Redis; delivering locally until it is back", exc_info=True)
                self._listening = False
                continue
            if message is not None and message.get("type") == "message":
                for one in json.loads(message["data"]):
                    self.hub.deliver(one)

    async def _send(self) -> None:
        while True:
            batch = [await self._outgoing.get()]
            while len(batch) < _BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                await self.redis.publish(self.channel, json.dumps(batch))
            except (RedisError, OSError):
                # The pages that need these most are probably on this process: show them here rather than nowhere.
                for message in batch:
                    self.hub.deliver(message)
