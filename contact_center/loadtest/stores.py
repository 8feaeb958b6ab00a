"""Scratch case stores for benchmarks: a new SQLite file, or a schema of its own on a PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from contact_center.db import Database
from contact_center.migrate import upgrade
from contact_center.settings import normalise_database_url

__all__ = ["fresh_database"]


@contextlib.asynccontextmanager
async def fresh_database(url: str | None, scratch: Path) -> AsyncIterator[Database]:
    """Yield an empty, migrated case store: a new SQLite file, or a new schema of the PostgreSQL database."""
    if url is None or url.startswith("sqlite"):
        target = normalise_database_url(url or f"sqlite:///{scratch / 'bench.db'}")
        await asyncio.to_thread(upgrade, target)
        db = Database(target)
        try:
            yield db
        finally:
            await db.dispose()
        return
    target = normalise_database_url(url)
    schema = f"bench_{secrets.token_hex(5)}"
    admin = Database(target)
    async with admin.engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    connect_args: dict[str, Any] = {"server_settings": {"search_path": schema}}
    try:
        await asyncio.to_thread(upgrade, target, connect_args=connect_args)
        db = Database(target, connect_args=connect_args)
        try:
            yield db
        finally:
            await db.dispose()
    finally:
        async with admin.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
