"""Fixtures for routing tests: the example rules, an engine, and every backend (in-memory and Redis).

Backend tests run twice: on :class:`MemoryBackend` and on :class:`RedisBackend` against the real server at
``ROUTING_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), each Redis backend under a random key prefix
whose keys are deleted after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from routing.backend import RoutingBackend
from routing.engine import RoutingEngine, RoutingSettings
from routing.memory import MemoryBackend
from routing.redis_backend import RedisBackend
from routing.statistics import ServiceLevelPolicy
from routing.workflows import RoutingRules, parse_rules
from tests.routing.factories import RULES_YAML

REDIS_URL = os.environ.get("ROUTING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

BackendFactory = Callable[..., RoutingBackend]


def new_prefix() -> str:
    """Return a fresh key prefix for one test's Redis state."""
    return f"test:routing:{{{uuid.uuid4().hex}}}:"


async def delete_prefix(client: Redis, prefix: str) -> None:
    """Delete every key under ``prefix`` (SCAN + DEL)."""
    batch: list[bytes] = []
    async for key in client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await client.delete(*batch)
            batch = []
    if batch:
        await client.delete(*batch)


@pytest.fixture
def rules() -> RoutingRules:
    return parse_rules(RULES_YAML, "rules.yaml", known_skills={"billing", "support"})


@pytest.fixture
def engine(rules: RoutingRules) -> RoutingEngine:
    return RoutingEngine(rules, RoutingSettings(reservation_timeout=15, max_consecutive_misses=2))


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_backend(request: pytest.FixtureRequest) -> AsyncIterator[BackendFactory]:
    """Return a factory ``(rules, settings, policy=...) -> backend`` of the parametrized kind."""
    if request.param == "memory":

        def build_memory(
            rules: RoutingRules | None = None,
            settings: RoutingSettings | None = None,
            policy: ServiceLevelPolicy | None = None,
        ) -> RoutingBackend:
            return MemoryBackend(rules, settings, policy)

        yield build_memory
        return
    client = Redis.from_url(REDIS_URL)
    prefixes: list[str] = []

    def build_redis(
        rules: RoutingRules | None = None,
        settings: RoutingSettings | None = None,
        policy: ServiceLevelPolicy | None = None,
    ) -> RoutingBackend:
        prefix = new_prefix()
        prefixes.append(prefix)
        return RedisBackend(client, rules, settings, prefix=prefix, policy=policy)

    try:
        yield build_redis
    finally:
        for prefix in prefixes:
            await delete_prefix(client, prefix)
        await client.aclose()


@pytest.fixture
def backend(rules: RoutingRules, make_backend: BackendFactory) -> RoutingBackend:
    return make_backend(rules, RoutingSettings(reservation_timeout=15, max_consecutive_misses=2))
