"""Counting attempts per caller in fixed time windows, so guessing passwords and codes stays slow.

Each `Rule` allows `limit` attempts per key (an account, an address, an IP) in each `window`. With Redis the
counts are shared by every server process (one INCR per attempt, the key expiring with its window); without it
they live in the process, which is enough for a single server. While Redis does not answer, each process counts
on its own (a sign-in must not fail because a counter is away). A fixed window lets a patient caller make at most
twice the limit across a window boundary; that is still far too slow for guessing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["MemoryThrottle", "RedisThrottle", "Rule", "Throttle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """At most `limit` attempts per key in each `window`; `name` keeps rules' counts apart."""

    name: str
    limit: int
    window: timedelta

    @property
    def seconds(self) -> int:
        """Return the window's length in whole seconds (at least one)."""
        return max(1, int(self.window.total_seconds()))

    def counter(self, key: str, now: datetime) -> tuple[str, int]:
        """Return the name of `key`'s counter under this rule, and the number of the window `now` falls in."""
        return f"{self.name}:{key.lower()}", int(now.timestamp()) // self.seconds


class Throttle(Protocol):
    async def count(self, rule: Rule, key: str, now: datetime) -> int:
        """Return the attempts counted for `key` in the current window."""

    async def hit(self, rule: Rule, key: str, now: datetime) -> int:
        """Count one attempt for `key`; return the window's count including it."""


class MemoryThrottle:
    """Counts in this process's memory: one live window per rule and key, passed windows dropped."""

    # Beyond this many counters, the ones whose window has passed are swept (a guesser of many names or
    # addresses must not grow memory without bound).
    SWEEP_AT = 50_000

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int, int]] = {}  # counter -> (window seconds, window number, count)

    async def count(self, rule: Rule, key: str, now: datetime) -> int:
        """Return the attempts counted for `key` in the current window."""
        name, window = rule.counter(key, now)
        _, counted_window, count = self._counts.get(name, (0, -1, 0))
        return count if counted_window == window else 0

    async def hit(self, rule: Rule, key: str, now: datetime) -> int:
        """Count one attempt for `key`; return the window's count including it."""
        name, window = rule.counter(key, now)
        count = await self.count(rule, key, now) + 1
        self._counts[name] = (rule.seconds, window, count)
        if len(self._counts) > self.SWEEP_AT:
            self._sweep(now)
        return count

    def _sweep(self, now: datetime) -> None:
        moment = int(now.timestamp())
        self._counts = {name: entry for name, entry in self._counts.items() if entry[1] == moment // entry[0]}


class RedisThrottle:
    """Counts in Redis under `prefix`, shared by every process using it; each counter expires with its window.

    When Redis fails, this process's own counts stand in until it answers again.
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._local = MemoryThrottle()

    def _key(self, rule: Rule, key: str, now: datetime) -> str:
        name, window = rule.counter(key, now)
        return f"{self._prefix}{name}:{window}"

    async def count(self, rule: Rule, key: str, now: datetime) -> int:
        """Return the attempts counted for `key` in the current window."""
        try:
            return int(await self._client.get(self._key(rule, key, now)) or 0)
        except (RedisError, OSError):
            log.warning("rate limit counts unavailable in Redis; counting in this process")
            return await self._local.count(rule, key, now)

    async def hit(self, rule: Rule, key: str, now: datetime) -> int:
        """Count one attempt for `key`; return the window's count including it."""
        counter = self._key(rule, key, now)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(counter)
                pipe.expire(counter, rule.seconds)
                counted, _ = await pipe.execute()
        except (RedisError, OSError):
            log.warning("rate limit counts unavailable in Redis; counting in this process")
            return await self._local.hit(rule, key, now)
        return int(counted)
