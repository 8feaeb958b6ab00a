"""The case store's connection: one async engine per process, SQLite or PostgreSQL behind the same code.

SQLite needs two adjustments to behave like a server database under concurrent requests: write-ahead logging, so
readers never wait for a writer, and `BEGIN IMMEDIATE`, so two transactions that read and then write queue up for
the write lock at their start instead of deadlocking at their first write (SQLite would fail the second at once).

On PostgreSQL the pool does not ping a connection before handing it out: on asyncpg a ping is three round trips
(BEGIN, an empty query, ROLLBACK), as many as a one-query transaction itself. A connection the server or the network
closed is noticed by asyncpg's protocol as soon as the socket reports it, so the pool checks that flag instead (no
round trip) and replaces such a connection; one that dies unseen fails its transaction, and SQLAlchemy then
replaces every connection of the pool that is older than the failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

__all__ = ["DEFAULT_POOL_SIZE", "Database"]

# Prepared statements kept per connection (SQLAlchemy's default is 100): intake's multi-row INSERTs and IN lists
# give a statement per batch size, and each statement missing from the cache costs a round trip to prepare it.
_PREPARED_STATEMENTS = 1000
# Connections older than this are replaced, so that none outlives a server-side idle or session time-out.
_RECYCLE_SECONDS = 1800
# At most `pool_size` connections a process (DATABASE_POOL_SIZE, default 30), all of them kept once opened. An
# "overflow" connection (above the pool's size) is closed as soon as it is returned while the pool holds its size in
# idle ones, so bursts of load opened and closed connections all the time: each a new server process, asyncpg's
# type set-up, and every prepared statement prepared again on it.
DEFAULT_POOL_SIZE = 30


class Database:
    """An engine plus a session factory; `transaction()` is the one way to read or change the store."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        connect_args: dict[str, Any] | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"echo": echo, "connect_args": dict(connect_args or {})}
        if self.is_sqlite:
            options["connect_args"].setdefault("timeout", 30)
        else:
            options.update(pool_size=pool_size, max_overflow=0, pool_recycle=_RECYCLE_SECONDS, pool_use_lifo=True)
        asyncpg = parsed.get_driver_name() == "asyncpg"
        if asyncpg:
            options["connect_args"].setdefault("prepared_statement_cache_size", _PREPARED_STATEMENTS)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        elif asyncpg:
            _refuse_closed_connections(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Yield a session inside one transaction: committed on success, rolled back on any exception."""
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _refuse_closed_connections(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        # The pool answers DisconnectionError by discarding this connection and checking out another (a new one if
        # need be), so a connection PostgreSQL closed while it sat in the pool never reaches a transaction.
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise exc.DisconnectionError("the database closed this pooled connection")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below instead of the driver's implicit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
