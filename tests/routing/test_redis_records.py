"""The Redis backend's records: what a decision keeps per call and what a removed agent leaves behind.

A decision that frees an agent and offers it the next task at the same instant changes the agent's activity twice
in one call, which the script reads and writes back once; the figures must still be the ledger's. An agent's profile
JSON has a key of its own, which must go with the agent's records. Decoded profiles are kept in the library across
calls, by prefix and agent under the profile's version, so a changed profile must never be read stale; so are the
live records, under the dataset's epoch, which must never be read stale either: not after the dataset was restored,
deleted and rebuilt, nor after a decision that failed halfway.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from routing.memory import MemoryBackend
from routing.models import Activity
from routing.redis_backend import FUNCTION_NAME, LIBRARY, RedisBackend
from routing.redis_wire import FcallPipe
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


async def test_records_trimmed_only_now_and_then_still_give_the_ledgers_figures(
    redis_client: Redis, rules: Any
) -> None:
    # The script trims a statistics list only once it has grown by 32 records: here the records of 0 to 0.1 outlive
    # the horizon of 100.2 in Redis, and the readers must leave them out as the ledger does.
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, prefix=prefix, retention=100.0)
    memory = MemoryBackend(rules, retention=100.0)
    try:
        for backend in (redis, memory):
            await backend.upsert_agent(agent("alice"), 0)
            for number, (start, end) in enumerate(((0.0, 0.05), (0.1, 100.05), (100.2, 100.3)), start=1):
                (offer,) = reservations(await backend.submit(task(f"t{number}", created_at=start), start))
                await backend.accept(offer.reservation_id, "alice", start)
                await backend.complete(f"t{number}", end)
        outcomes = await redis_client.llen(f"{prefix}so:billing")
        assert outcomes == 6  # none trimmed yet: a trim at every record would have left the last three
        for now, window in ((100.3, 100.3), (100.3, 300), (100.3, 0.2), (50, 60)):
            assert await redis.queue_statistics("billing", now, window) == await memory.queue_statistics(
                "billing", now, window
            )
            assert await redis.agent_statistics(now, window) == await memory.agent_statistics(now, window)
    finally:
        await delete_prefix(redis_client, prefix)


async def test_an_agents_changes_trimmed_in_redis_replay_as_the_ledgers_track(redis_client: Redis, rules: Any) -> None:
    # 80 changes over 40 s with a retention of 10 s, the clock going back now and then: the script keeps each
    # agent's changes and drops old ones only every 32; the reader replays the ledger's track from what is left.
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, prefix=prefix, retention=10.0)
    memory = MemoryBackend(rules, retention=10.0)
    try:
        for backend in (redis, memory):
            await backend.upsert_agent(agent("alice"), 0)
            for step in range(1, 81):
                at = step * 0.5 - (0.7 if step % 3 == 0 else 0.0)
                await backend.set_activity("alice", Activity.AWAY if step % 2 else Activity.AVAILABLE, at)
        assert await redis_client.llen(f"{prefix}sh:alice") < 60
        for now, window in ((40, 5), (40, 10), (40, 40), (39.5, 12), (45, 20)):
            assert await redis.agent_statistics(now, window) == await memory.agent_statistics(now, window)
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


async def test_a_changed_profile_is_never_read_stale_from_the_librarys_cache(redis_client: Redis, rules: Any) -> None:
    # Two datasets in one Redis share the library: the same agent id has a different profile in each, and each
    # profile changes between decisions that read it. Every step must give the memory backend's events.
    prefixes = [new_prefix(), new_prefix()]
    pairs = [(RedisBackend(redis_client, rules, prefix=prefix), MemoryBackend(rules)) for prefix in prefixes]
    support, billing = {"support": 6}, {"billing": 9}
    steps: list[tuple[int, str, tuple[Any, ...]]] = [
        (0, "upsert_agent", (agent("carol", skills=support), 0)),
        (1, "upsert_agent", (agent("carol", skills=billing), 0)),
        (1, "submit", (task("s1", queue="support"), 1)),  # nobody in dataset 1 can serve it yet
        (0, "submit", (task("s1", queue="support"), 1)),  # offered to carol
        (0, "submit", (task("s2", queue="support", created_at=2), 2)),  # waits: carol is busy
        (1, "upsert_agent", (agent("carol", skills=support), 3)),  # now she can: offered s1
        (0, "upsert_agent", (agent("carol", skills=billing), 4)),  # no longer qualified for s2
    ]
    try:
        for index, method, args in steps:
            redis, memory = pairs[index]
            assert await getattr(redis, method)(*args) == await getattr(memory, method)(*args)
        for redis, memory in pairs:
            (offer,) = await memory.agent_reservations("carol")
            assert await redis.agent_reservations("carol") == [offer]
            assert await redis.accept(offer.id, "carol", 5) == await memory.accept(offer.id, "carol", 5)
            # Freed under her latest profile: in dataset 0 she must not be offered s2.
            assert await redis.complete(offer.task_id, 6) == await memory.complete(offer.task_id, 6)
        redis, memory = pairs[0]
        assert await memory.position("s2") == 1
        assert await redis.position("s2") == 1
    finally:
        for prefix in prefixes:
            await delete_prefix(redis_client, prefix)


async def test_a_profile_written_behind_the_librarys_back_is_read_from_redis(redis_client: Redis, rules: Any) -> None:
    # A server that was a replica (or had its dataset restored) holds records this library instance never wrote: its
    # cached profile must give way to Redis's, since the record names another version.
    prefix = new_prefix()
    backend = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await backend.upsert_agent(agent("carol", skills={"support": 6}), 0)
        keys = [key async for key in redis_client.scan_iter(match=prefix.replace("[", "\\[") + "*")]
        saved = [await redis_client.dump(key) for key in keys]
        await backend.upsert_agent(agent("carol", skills={"billing": 9}), 1)
        await delete_prefix(redis_client, prefix)
        for key, data in zip(keys, saved, strict=True):
            assert data is not None
            await redis_client.restore(key, 0, data)
        # Redis says carol has the support skill again: the task is hers.
        assert [offer.agent_id for offer in reservations(await backend.submit(task("s1", queue="support"), 2))] == [
            "carol"
        ]
    finally:
        await delete_prefix(redis_client, prefix)


async def test_live_records_restored_behind_the_librarys_back_are_read_from_redis(
    redis_client: Redis, rules: Any
) -> None:
    # The library keeps the live records it reads and writes, under the dataset's epoch: restored to an earlier
    # state (a replica promoted, a backup), Redis's records must win over the ones the library holds.
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, prefix=prefix)
    memory = MemoryBackend(rules)
    try:
        for backend in (redis, memory):
            await backend.upsert_agent(agent("carol"), 0)
        keys = [key async for key in redis_client.scan_iter(match=prefix.replace("[", "\\[") + "*")]
        saved = [await redis_client.dump(key) for key in keys]
        # Offered, accepted and completed with a wrap-up: the library now holds carol wrapping up.
        (offer,) = reservations(await redis.submit(task("s1", queue="support"), 1))
        await redis.accept(offer.reservation_id, "carol", 2)
        await redis.complete(offer.task_id, 3, wrap_up=100)
        await delete_prefix(redis_client, prefix)
        for key, data in zip(keys, saved, strict=True):
            assert data is not None
            await redis_client.restore(key, 0, data)
        # Redis says carol is available and has never had a task: the task is hers, at once.
        assert await redis.submit(task("s9", queue="support"), 5) == await memory.submit(task("s9", queue="support"), 5)
        assert await redis.get_agent("carol") == await memory.get_agent("carol")
    finally:
        await delete_prefix(redis_client, prefix)


async def test_live_records_of_a_dataset_deleted_and_rebuilt_are_never_read_stale(
    redis_client: Redis, rules: Any
) -> None:
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await redis.upsert_agent(agent("carol"), 0)
        (offer,) = reservations(await redis.submit(task("s1", queue="support"), 1))
        assert offer.agent_id == "carol"
        await delete_prefix(redis_client, prefix)
        # Rebuilt with the same ids: carol is new and free, s1 a new task.
        memory = MemoryBackend(rules)
        assert await redis.upsert_agent(agent("carol"), 2) == await memory.upsert_agent(agent("carol"), 2)
        assert await redis.submit(task("s1", queue="support"), 3) == await memory.submit(task("s1", queue="support"), 3)
        assert await redis.agent_reservations("carol") == await memory.agent_reservations("carol")
    finally:
        await delete_prefix(redis_client, prefix)


async def test_a_decision_that_fails_midway_leaves_no_changed_record_in_the_librarys_cache(
    redis_client: Redis, rules: Any
) -> None:
    # A Lua error stops a decision after it changed the records it holds but before it wrote them: what the library
    # keeps across calls must not keep those changes. (A malformed setting makes a reject fail that late.)
    prefix = new_prefix()
    redis = RedisBackend(redis_client, rules, prefix=prefix)
    try:
        await redis.upsert_agent(agent("carol"), 0)
        (offer,) = reservations(await redis.submit(task("s1", queue="support"), 1))
        before = await redis.get_task("s1")
        assert before is not None
        settings = redis._config.split("|")
        settings[1:3] = ["", "1"]  # max_misses, compared once the offer was undone in the records (if rejections count)
        with pytest.raises(ResponseError):
            await redis_client.fcall(
                FUNCTION_NAME, 1, prefix, "reject", "2", "|".join(settings), offer.reservation_id, "carol"
            )
        assert await redis.get_task("s1") == before
        assert [r.id for r in await redis.agent_reservations("carol")] == [offer.reservation_id]
    finally:
        await delete_prefix(redis_client, prefix)


async def test_live_records_written_by_another_library_version_are_read_from_redis(
    redis_client: Redis, rules: Any
) -> None:
    # Two versions of the package running at once share a dataset, each through its own library (and cache): what
    # one writes, the other must read from Redis.
    prefix, name = new_prefix(), "routing_test_another_version"
    await redis_client.function_load(LIBRARY.replace(FUNCTION_NAME, name), replace=True)
    this = RedisBackend(redis_client, rules, prefix=prefix)
    other = RedisBackend(redis_client, rules, prefix=prefix)
    other._pipe = FcallPipe(redis_client, name)
    other._loaded = True
    memory = MemoryBackend(rules)
    try:
        for backend in (this, memory):
            await backend.upsert_agent(agent("carol"), 0)
        (offer,) = reservations(await this.submit(task("s1", queue="support"), 1))
        assert reservations(await memory.submit(task("s1", queue="support"), 1)) == [offer]
        # The other version answers the offer and frees carol; this one still holds her busy.
        for backend in (other, memory):
            await backend.accept(offer.reservation_id, "carol", 2)
            await backend.complete("s1", 3)
        assert await this.submit(task("s2", queue="support"), 4) == await memory.submit(task("s2", queue="support"), 4)
    finally:
        await other._pipe.aclose()
        await redis_client.function_delete(name)
        await delete_prefix(redis_client, prefix)


async def test_agents_share_a_pool_list_only_when_every_pool_treats_them_alike(redis_client: Redis, rules: Any) -> None:
    # The library keeps one list per facet for agents alike in what the facet's pools ask (levels in the skills they
    # name, languages they name): a and d share one, b (who also speaks Spanish) and c (a higher level) must not, and
    # a pool registered after the shared list was made must still be tested for d. Each agent qualifies for exactly
    # one of the waiting tasks when it is freed.
    prefix = new_prefix()
    redis, memory = RedisBackend(redis_client, rules, prefix=prefix), MemoryBackend(rules)
    english = frozenset({"en"})
    profiles = {
        "a": {"skills": {"support": 5}, "languages": english},
        "b": {"skills": {"support": 5}, "languages": frozenset({"en", "es"})},
        "c": {"skills": {"support": 9}, "languages": english},
        "d": {"skills": {"support": 5}, "languages": english},
    }

    async def both(method: str, *args: Any) -> list[Any]:
        events = await getattr(memory, method)(*args)
        assert await getattr(redis, method)(*args) == events, (method, args)
        return list(events)

    try:
        for name, profile in profiles.items():
            await both("upsert_agent", agent(name, team=None, **profile), 0)
        held: dict[str, str] = {}
        for index in range(4):
            (offer,) = reservations(await both("submit", task(f"e{index}", queue="support", language="en"), 1))
            await both("accept", offer.reservation_id, offer.agent_id, 1)
            held[offer.agent_id] = offer.task_id
        await both("submit", task("es", queue="support", language="es", created_at=2), 2)
        await both("submit", task("high", queue="support", language="en", required_skills={"support": 7}), 2)
        await both("submit", task("en", queue="support", language="en", created_at=3), 2)
        offered: dict[str, str] = {}
        for name in ("a", "d", "b", "c"):
            if name == "d":
                # A new pool of the same facet, named nothing new: a's list, which d shares, must take it in.
                await both("submit", task("mid", queue="support", language="en", required_skills={"support": 4}), 3)
            (offer,) = reservations(await both("complete", held[name], 4))
            offered[offer.agent_id] = offer.task_id
        assert offered == {"a": "en", "d": "mid", "b": "es", "c": "high"}
    finally:
        await delete_prefix(redis_client, prefix)
