"""The Redis backend's records: what a decision keeps per call and what a removed agent leaves behind.

A decision that frees an agent and offers it the next task at the same instant changes the agent's activity twice
in one call, which the script reads and writes back once; the figures must still be the ledger's. An agent's profile
JSON has a key of its own, which must go with the agent's records.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from routing.memory import MemoryBackend
from routing.redis_backend import RedisBackend
from tests.routing.conftest import delete_prefix, new_prefix
from tests.routing.factories import agent, reservations, task


async def test_an_agent_freed_and_offered_again_at_one_instant_has_the_ledgers_figures(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, prefix=prefix, retention=100.0)
    memory = MemoryBackend(rules, retention=100.0)
    try:
        for backend in (redis, memory):
            await backend.upsert_agent(agent("alice"), 0)
            (first,) = reservations(await backend.submit(task("t1"), 0))
            assert reservations(await backend.submit(task("t2", created_at=1), 1)) == []
            await backend.accept(first.reservation_id, "alice", 2)
            # Freed and offered t2 in the same call: available, then busy, both at 60.
            (second,) = reservations(await backend.complete("t1", 60))
            await backend.accept(second.reservation_id, "alice", 61)
            await backend.complete("t2", 90)
            # Past the retention: the history is trimmed on the next change, the same way in both.
            await backend.submit(task("t3", created_at=250), 250)
        for now, window in ((60, 60), (95, 95), (250, 100), (260, 30)):
            assert await redis.agent_statistics(now, window) == await memory.agent_statistics(now, window)
        assert await redis.get_agent("alice") == await memory.get_agent("alice")
        assert await redis.queue_statistics("billing", 95, 95) == await memory.queue_statistics("billing", 95, 95)
    finally:
        await delete_prefix(redis_client, prefix)


async def test_a_removed_agent_leaves_no_key_of_its_own(redis_client: Redis, rules: Any) -> None:
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("alice"), 0)
        await backend.upsert_agent(agent("alice", skills={"billing": 3}), 1)
        seen = await backend.get_agent("alice")
        assert seen is not None
        assert seen.skills == {"billing": 3}
        await backend.remove_agent("alice", 2)
        assert await backend.get_agent("alice") is None
        # Its statistics (sh:) outlive it, as in the ledger; its records do not.
        records = [f"{prefix}{kind}:alice" for kind in ("a", "ap", "aj")]
        assert await redis_client.exists(*records) == 0
    finally:
        await delete_prefix(redis_client, prefix)
