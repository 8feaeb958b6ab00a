"""Counting attempts per caller in fixed time windows, so guessing passwords and codes stays slow.

Each `Rule` allows `limit` attempts per key (an account, an address, an IP) in each `window`. With Redis the
counts are shared by every server process (one INCR per attempt, the key expiring with its window); without it
they live in the process, which is enough for a single server. A fixed window lets a patient caller make at most
twice the limit across a window boundary; that is still far too slow for guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis

__all__ = ["MemoryThrottle", "RedisThrottle", "Rule", "Throttle"]


@dataclass(frozen=True)
class Rule:
    """At most `limit` attempts per key in each `window`; `name` keeps rules' counts apart."""

    name: str
    limit: int
    window: timedelta

    def bucket(self, key: str, now: datetime) -> tuple[str, int]:
        """Return the counter's name for `key` at `now`, and the seconds it must live."""
        seconds = max(1, int(self.window.total_seconds()))
        return f"{self.name}:{key.lower()}:{int(now.timestamp()) // seconds}", seconds


class Throttle(Protocol):
    async def count(self, rule: Rule, key: str, now: datetime) -> int:
        """Return the attempts counted for `key` in the current window."""

    async def hit(self, rule: Rule, key: str, now: datetime) -> int:
        """Count one attempt for `key`; return the window's count including it."""


class MemoryThrottle:
    """Counts in this process's memory, forgetting windows that have passed."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._current: dict[str, str] = {}

    async def count(self, rule: Rule, key: str, now: datetime) -> int:
        """Return the attempts counted for `key` in the current window."""
        return self._counts.get(rule.bucket(key, now)[0], 0)

    async def hit(self, rule: Rule, key: str, now: datetime) -> int:
        """Count one attempt for `key`; return the window's count including it."""
        bucket, _ = rule.bucket(key, now)
        # One live window per rule and key: a newer window drops the older count.
        owner = f"{rule.name}:{key.lower()}"
        previous = self._current.get(owner)
        if previous != bucket:
            if previous is not None:
                self._counts.pop(previous, None)
            self._current[owner] = bucket
        self._counts[bucket] = self._counts.get(bucket, 0) + 1
        return self._counts[bucket]


class RedisThrottle:
    """Counts in Redis under `prefix`, shared by every process using it."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def count(self, rule: Rule, key: str, now: datetime) -> int:
        """Return the attempts counted for `key` in the current window."""
        value = await self._client.get(self._prefix + rule.bucket(key, now)[0])
        return int(value or 0)

    async def hit(self, rule: Rule, key: str, now: datetime) -> int:
        """Count one attempt for `key`; return the window's count including it."""
        bucket, seconds = rule.bucket(key, now)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + bucket)
            pipe.expire(self._prefix + bucket, seconds)
            counted, _ = await pipe.execute()
        return int(counted)
