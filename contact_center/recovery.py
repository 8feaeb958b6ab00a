"""Routing state after a Redis restart: rebuilt from the case store, every waiting contact back in its queue.

Redis holds routing state but is not its record: a Redis that restarts without persistence (or loses it)
comes back empty. Each server process keeps watch on a marker key under the routing prefix; the marker
disappears with everything else, and the first process to notice sets it again (`SET NX`, so one process
rebuilds) and loads agents and waiting contacts from the store (`Dispatcher.sync_agents`, `Dispatcher.rebuild`).
Each contact goes back to the queue it waited in: the store knows it by `contacts.queue_id`, or, for a queue with no
`queues` row (the default one, or one named only by the routing rules or a mailbox), by `contacts.queue_name`.
Agents come back offline: their presence lived in Redis, and their desktops set it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contact_center.dispatch import Dispatcher

__all__ = ["keep_routing_state"]

log = logging.getLogger(__name__)


async def keep_routing_state(dispatcher: Dispatcher, client: Redis, marker: str, *, interval: float = 1.0) -> None:
    """Rebuild routing from the store whenever the marker key is missing, until cancelled."""
    while True:
        try:
            if await client.set(marker, "1", nx=True):
                await _rebuild(dispatcher, client, marker)
        except (RedisError, OSError) as exc:
            log.debug("routing state watch: Redis unavailable (%s)", exc)
        await asyncio.sleep(interval)


async def _rebuild(dispatcher: Dispatcher, client: Redis, marker: str) -> None:
    try:
        await dispatcher.sync_agents()
        requeued = await dispatcher.rebuild()
    except BaseException as exc:
        # Not rebuilt (the store is down too, or a contact raced in): clear the marker so it is tried again.
        with contextlib.suppress(RedisError, OSError):
            await client.delete(marker)
        if isinstance(exc, Exception):
            log.warning("routing state not rebuilt (%s); retrying", exc)
            return
        raise
    if requeued:
        log.info("routing state loaded from the case store: %d waiting contacts queued", requeued)
