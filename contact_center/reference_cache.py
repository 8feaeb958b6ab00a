"""Reference data (SLA policies, queues) kept per process for a few seconds, so a contact does not re-read it.

Every inbound contact needs the SLA policies and the queue it is routed to; they change a few times a year and are
read thousands of times a second under load. A `ReferenceCache` keeps one value per database engine for `ttl`
seconds. A transaction in this process that writes one of the watched tables drops the value when it flushes and
again when it commits, so this process sees its own edits at once; other processes see them within the TTL.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

__all__ = ["DEFAULT_TTL", "ReferenceCache"]

T = TypeVar("T")

DEFAULT_TTL = 5.0
_CACHES: list[ReferenceCache[object]] = []


class ReferenceCache(Generic[T]):
    """One cached value per engine, read by `load` when missing or older than `ttl` seconds."""

    def __init__(self, name: str, watched: tuple[type, ...], *, ttl: float = DEFAULT_TTL) -> None:
        self.name = name
        self.watched = watched
        self.ttl = ttl
        # Seconds, monotonic; a test replaces it to step past the TTL.
        self.clock: Callable[[], float] = time.monotonic
        self._values: weakref.WeakKeyDictionary[Engine, tuple[float, T]] = weakref.WeakKeyDictionary()
        _CACHES.append(self)  # type: ignore[arg-type]

    async def get(self, session: AsyncSession, load: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Return the cached value for the session's database, loading it in the session when stale or missing."""
        sync = session.sync_session
        engine = _engine_of(sync)
        if engine is None or self._pending_in(sync):
            return await load(session)
        now = self.clock()
        held = self._values.get(engine)
        if held is not None and now - held[0] < self.ttl:
            return held[1]
        value = await load(session)
        # A transaction that already wrote the table would cache what others cannot see yet.
        if not sync.info.get(self._dirty_key):
            self._values[engine] = (now, value)
        return value

    def forget(self, engine: Engine | None = None) -> None:
        """Drop the value for one engine (or all)."""
        if engine is None:
            self._values.clear()
        else:
            self._values.pop(engine, None)

    @property
    def _dirty_key(self) -> str:
        return f"reference_cache_dirty:{self.name}"

    def _pending_in(self, session: Session) -> bool:
        return any(isinstance(row, self.watched) for row in chain(session.new, session.dirty, session.deleted))


def _engine_of(session: Session) -> Engine | None:
    bind = session.get_bind()
    if isinstance(bind, Connection):
        return bind.engine
    return bind if isinstance(bind, Engine) else None


@event.listens_for(Session, "after_flush")
def _forget_on_write(session: Session, _context: object) -> None:
    """A flush that writes a watched table drops that cache now and marks the transaction for its commit."""
    for cache in _CACHES:
        if cache._pending_in(session):
            session.info[cache._dirty_key] = True
            cache.forget(_engine_of(session))


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    """Drop again at commit what the transaction wrote: a reader between flush and commit saw the old rows."""
    for cache in _CACHES:
        if session.info.pop(cache._dirty_key, False):
            cache.forget(_engine_of(session))


@event.listens_for(Session, "after_rollback")
def _clear_marks(session: Session) -> None:
    for cache in _CACHES:
        session.info.pop(cache._dirty_key, None)
