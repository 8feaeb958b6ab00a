"""Group commit: concurrent callers' items written in batches, each caller answered with its own result.

Under load many webhooks want the same round trips at once (a transaction to take a contact in, a read to route
it). A `GroupCommit` lets them share: an arrival starts a batch at once when fewer than `writers` batches are being
written (no timer, so a lone request waits for nothing); otherwise it gathers with the others into the next batch,
up to `limit` items. A few batches in flight keep the store's connections busy while a batch's own statements run
one after another. A batch that fails is tried again item by item, so one bad item fails only its own caller, unless the
failure says the store itself is unreachable (then every item would fail the same way, one time-out after
another).

A caller that stops waiting (a time-out, a cancelled request) leaves its item behind: an item not yet written is
skipped, one being written is written all the same. Every write a batch does must therefore be idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError

__all__ = ["GroupCommit", "unreachable"]

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


def unreachable(exc: BaseException) -> bool:
    """Tell whether a failure is the store or Redis being away (so trying items one by one cannot help)."""
    if isinstance(exc, OSError | TimeoutError | InterfaceError | RedisConnectionError | RedisTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


# How long a stopping process waits for batches under way before it gives up on them.
_GRACE_SECONDS = 5.0


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    answer: asyncio.Future[Result]


class GroupCommit(Generic[Item, Result]):
    """Writes items in batches as they arrive; `put` returns the item's own result or raises its own error."""

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        name: str,
        limit: int = 100,
        writers: int = 1,
    ) -> None:
        self._write = write
        self._name = name
        self.limit = limit
        self.writers = writers
        self._waiting: list[_Waiting[Item, Result]] = []
        self._writing: set[asyncio.Task[None]] = set()
        #: How many batches were written and how many items they held (for the load figures).
        self.batches = 0
        self.items = 0

    async def put(self, item: Item) -> Result:
        """Add an item to the next batch and wait for its result."""
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, answer))
        # A writer that just finished is done before its done-callback leaves the set: count only live ones.
        if sum(not writer.done() for writer in self._writing) < self.writers:
            writer = asyncio.create_task(self._drain(), name=f"group-commit-{self._name}")
            self._writing.add(writer)
            writer.add_done_callback(self._writing.discard)
        return await answer

    async def aclose(self, grace: float = _GRACE_SECONDS) -> None:
        """Wait until every item handed in so far has been written (at shutdown), for at most ``grace`` seconds.

        A batch still stuck after that (the store is not answering) is cancelled, and its callers with it: a
        webhook that gave up on the store has its note in the backlog already, so stopping loses nothing.
        """
        writers = list(self._writing)
        if not writers:
            return
        _done, stuck = await asyncio.wait(writers, timeout=grace)
        for writer in stuck:
            writer.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)

    async def _drain(self) -> None:
        while self._waiting:
            batch = [w for w in self._waiting[: self.limit] if not w.answer.done()]
            del self._waiting[: self.limit]
            if batch:
                self.batches += 1
                self.items += len(batch)
                await self._write_batch(batch)

    async def _write_batch(self, batch: list[_Waiting[Item, Result]]) -> None:
        try:
            results = await self._write([w.item for w in batch])
        except asyncio.CancelledError:
            for waiting in batch:
                waiting.answer.cancel()
            raise
        except Exception as exc:
            if len(batch) == 1 or unreachable(exc):
                for waiting in batch:
                    _fail(waiting, exc)
                return
            log.info("%s: a batch of %d failed (%r); writing its items one by one", self._name, len(batch), exc)
            for waiting in batch:
                if not waiting.answer.done():
                    await self._write_batch([waiting])
            return
        for waiting, result in zip(batch, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)


def _fail(waiting: _Waiting[Item, Result], exc: BaseException) -> None:
    if not waiting.answer.done():
        waiting.answer.set_exception(exc)
