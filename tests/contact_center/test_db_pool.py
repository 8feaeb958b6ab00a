"""The PostgreSQL pool without pre-ping: a connection the server closed while pooled never reaches a transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from contact_center.db import Database


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_pooled_connection_the_server_ended_is_replaced_before_use(database: Database) -> None:
    async with database.transaction() as session:
        victim = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    other = Database(database.url)
    try:
        async with other.transaction() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    finally:
        await other.dispose()
    # asyncpg notices the closed socket once the event loop has run.
    await asyncio.sleep(0.2)

    async with database.transaction() as session:
        backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    assert backend != victim
