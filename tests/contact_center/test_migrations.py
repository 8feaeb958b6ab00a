"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from contact_center.migrate import upgrade
from contact_center.models import metadata
from knowledge_base.schema import is_search_object
from tests.conftest import POSTGRES_URL, _raw_postgres_dsn


def _models_only(name, type_, _parents) -> bool:
    # The search index has no models; knowledge_base.schema builds it in the migration and after create_all.
    return not (type_ in ("table", "index") and is_search_object(name))


async def schema_differences(url: str, connect_args: dict) -> list:
    engine = create_async_engine(url, connect_args=connect_args)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True, "include_name": _models_only}), metadata
            )
        )
    await engine.dispose()
    return differences


async def test_migrations_match_the_models_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(upgrade, url)  # a second run is a no-op
    assert await schema_differences(url, {}) == []


async def test_migrations_match_the_models_on_postgresql():
    schema = f"m_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(_raw_postgres_dsn())
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        connect_args = {"server_settings": {"search_path": schema}}
        await asyncio.to_thread(upgrade, POSTGRES_URL, connect_args=connect_args)
        assert await schema_differences(POSTGRES_URL, connect_args) == []
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
